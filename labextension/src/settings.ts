/** The plugin's settings (schema/plugin.json), read into what the model and the panel take. */

import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { OpenIn } from './apps';
import { asGroupBy, DEFAULT_GROUP_BY, type GroupBy } from './listing';
import { DEFAULT_POLL_INTERVAL, DEFAULT_RECONNECT_DELAY } from './model';
import type { PanelView } from './panel';

export interface IPanelSettings {
  /** Milliseconds (the schema says seconds: people set them). */
  pollInterval: number;
  /** Milliseconds. */
  reconnectDelay: number;
  defaultView: PanelView;
  groupBy: GroupBy;
  openIn: OpenIn;
}

export const DEFAULT_SETTINGS: IPanelSettings = {
  pollInterval: DEFAULT_POLL_INTERVAL,
  reconnectDelay: DEFAULT_RECONNECT_DELAY,
  defaultView: 'detailed',
  groupBy: DEFAULT_GROUP_BY,
  openIn: 'tab'
};

/**
 * The settings from the registry's composite. The registry has checked them against the schema;
 * a value that is still out of range (a hand-edited file) falls back to its default.
 */
export function readSettings(
  composite: ReadonlyPartialJSONObject
): IPanelSettings {
  const milliseconds = (key: string, min: number, fallback: number) => {
    const seconds = composite[key];
    return typeof seconds === 'number' && seconds >= min && seconds <= 3600
      ? seconds * 1000
      : fallback;
  };
  const view = composite.defaultView;
  return {
    pollInterval: milliseconds(
      'pollInterval',
      0.5,
      DEFAULT_SETTINGS.pollInterval
    ),
    reconnectDelay: milliseconds(
      'reconnectDelay',
      1,
      DEFAULT_SETTINGS.reconnectDelay
    ),
    defaultView:
      view === 'compact' || view === 'detailed'
        ? view
        : DEFAULT_SETTINGS.defaultView,
    groupBy: asGroupBy(composite.groupBy),
    openIn:
      composite.openIn === 'jupyterlab' || composite.openIn === 'tab'
        ? composite.openIn
        : DEFAULT_SETTINGS.openIn
  };
}

/** Apply the plugin's settings now and on every change (the Settings Editor saves as you type). */
export async function followSettings(
  registry: ISettingRegistry,
  pluginId: string,
  apply: (settings: IPanelSettings) => void
): Promise<ISettingRegistry.ISettings> {
  const settings = await registry.load(pluginId);
  apply(readSettings(settings.composite));
  settings.changed.connect(() => apply(readSettings(settings.composite)));
  return settings;
}

/**
 * The settings that differ from `previous` (all of them the first time): what a change applies,
 * so that saving one setting (the panel's grouping) does not undo the view the user toggled.
 */
export function changedSettings(
  previous: IPanelSettings | null,
  next: IPanelSettings
): Partial<IPanelSettings> {
  return Object.fromEntries(
    Object.entries(next).filter(
      ([key, value]) =>
        previous === null || previous[key as keyof IPanelSettings] !== value
    )
  );
}
