export { default } from './plugin';
export * from './api';
export * from './model';
export * from './types';
