/**
 * The REST API's data shapes. The models come from the server's pydantic models through
 * src/generated/ (`jlpm generate:types`, checked in CI); this module names them for the panel
 * and adds only what the schemas do not say.
 */

import type { ApiErrorBody } from './generated/error';
import type { ServiceSpec } from './generated/service-spec';
import type {
  ServiceState,
  ServiceStatus,
  ServiceView
} from './generated/service-view';

export type { ServiceState };

/** What a write sends (PUT services/<name>): fields with a server default may be left out. */
export type IServiceSpec = ServiceSpec;

/** What runs, as the server reports it. */
export type IServiceStatus = ServiceStatus;

/** One service as the server answers: its name, its spec (every field set) and its status. */
export type IServiceView = ServiceView;

/** Each state once, in the server's order; tsc fails here when the schema's states change. */
const STATES: Record<ServiceState, null> = {
  pending: null,
  starting: null,
  ready: null,
  stopping: null,
  scaled_to_zero: null,
  waking: null,
  failed: null,
  disabled: null
};

export const SERVICE_STATES = Object.keys(STATES) as ServiceState[];

/** One entry of an error body's `errors` (the OpenAPI document says only "string to string"). */
export interface IFieldError {
  field: string;
  message: string;
}

/** The error body jupyter-svc writes for a 4xx; Jupyter's own errors may carry less. */
export type IErrorBody = Omit<ApiErrorBody, 'errors'> & {
  errors: IFieldError[];
};

/** Actions posted to services/<name>/<action> (route names, not a schema). */
export type ServiceAction = 'restart' | 'enable' | 'disable' | 'wake' | 'stop';
