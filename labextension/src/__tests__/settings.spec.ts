import { ISettingRegistry, SettingRegistry } from '@jupyterlab/settingregistry';
import { DataConnector } from '@jupyterlab/statedb';
import * as JSON5 from 'json5';
import { DEFAULT_POLL_INTERVAL, DEFAULT_RECONNECT_DELAY } from '../model';
import {
  changedSettings,
  DEFAULT_SETTINGS,
  followSettings,
  IPanelSettings,
  readSettings
} from '../settings';
import schema from '../../schema/plugin.json';

const PLUGIN_ID = 'jupyter-svc:plugin';

/**
 * The settings API of the Jupyter server, in memory: the edge the registry talks to. The
 * registry itself (schema checks with ajv, defaults, change signals) is JupyterLab's own.
 */
class MemorySettings extends DataConnector<ISettingRegistry.IPlugin, string> {
  raw = '{}';
  async fetch(id: string): Promise<ISettingRegistry.IPlugin> {
    return {
      id,
      schema: schema as ISettingRegistry.ISchema,
      raw: this.raw,
      data: { composite: {}, user: {} },
      version: '4.6.0'
    };
  }
  async save(_id: string, raw: string): Promise<void> {
    this.raw = raw;
  }
}

describe('settings', () => {
  it('keeps the timings the panel had before it had settings as the defaults', () => {
    const props = schema.properties;
    expect(props.pollInterval.default * 1000).toBe(DEFAULT_POLL_INTERVAL);
    expect(props.reconnectDelay.default * 1000).toBe(DEFAULT_RECONNECT_DELAY);
    expect(DEFAULT_SETTINGS).toEqual({
      pollInterval: 3000,
      reconnectDelay: 10000,
      defaultView: 'detailed',
      groupBy: 'state',
      openIn: 'tab'
    });
    expect(props.openIn.oneOf.map(o => o.const)).toEqual(['tab', 'jupyterlab']);
    expect(props.defaultView.default).toBe('detailed');
    expect(props.groupBy.default).toBe('state');
    const pattern = new RegExp(props.groupBy.pattern);
    expect(
      ['none', 'state', 'label:team', 'colour', 'label:'].map(v =>
        pattern.test(v)
      )
    ).toEqual([true, true, true, false, false]);
    expect(props.defaultView.oneOf.map(o => o.const)).toEqual([
      'detailed',
      'compact'
    ]);
  });

  it('gives every setting a title and a description for the Settings Editor', () => {
    expect(schema['jupyter.lab.setting-icon']).toBe('jupyter-svc:services');
    expect(schema.title).toBeTruthy();
    expect(schema.description).toBeTruthy();
    for (const [name, prop] of Object.entries(schema.properties)) {
      expect([name, !!prop.title, !!prop.description]).toEqual([
        name,
        true,
        true
      ]);
    }
  });

  it('reads seconds into milliseconds and falls back on values out of range', () => {
    expect(
      readSettings({
        pollInterval: 0.5,
        reconnectDelay: 60,
        defaultView: 'compact',
        groupBy: 'label:team',
        openIn: 'jupyterlab'
      })
    ).toEqual({
      pollInterval: 500,
      reconnectDelay: 60000,
      defaultView: 'compact',
      groupBy: 'label:team',
      openIn: 'jupyterlab'
    });
    expect(
      readSettings({
        pollInterval: 0,
        reconnectDelay: 'soon',
        defaultView: 'grid',
        groupBy: 'label:',
        openIn: 'window'
      })
    ).toEqual(DEFAULT_SETTINGS);
    expect(readSettings({})).toEqual(DEFAULT_SETTINGS);
  });

  it("applies the registry's values at load and on every change", async () => {
    const connector = new MemorySettings();
    connector.raw = JSON.stringify({ defaultView: 'compact' });
    const registry = new SettingRegistry({ connector });
    const applied: IPanelSettings[] = [];
    const settings = await followSettings(registry, PLUGIN_ID, s =>
      applied.push(s)
    );
    expect(applied).toEqual([{ ...DEFAULT_SETTINGS, defaultView: 'compact' }]);

    await settings.set('pollInterval', 1);
    expect(JSON5.parse(connector.raw)).toEqual({
      defaultView: 'compact',
      pollInterval: 1
    });
    expect(applied[applied.length - 1]).toEqual({
      pollInterval: 1000,
      reconnectDelay: 10000,
      defaultView: 'compact',
      groupBy: 'state',
      openIn: 'tab'
    });
    // the panel's group selector saves its choice (what plugin.ts does)
    await settings.set('groupBy', 'label:team');
    expect(applied[applied.length - 1].groupBy).toBe('label:team');
    // the registry refuses what the schema does not allow: nothing changes
    await expect(settings.set('pollInterval', 0.1)).rejects.toBeTruthy();
    expect(applied[applied.length - 1].pollInterval).toBe(1000);
    expect(applied[applied.length - 1].groupBy).toBe('label:team');
  });

  it('applies only the settings that changed (saving the grouping keeps a toggled view)', () => {
    expect(changedSettings(null, DEFAULT_SETTINGS)).toEqual(DEFAULT_SETTINGS);
    expect(
      changedSettings(DEFAULT_SETTINGS, {
        ...DEFAULT_SETTINGS,
        groupBy: 'label:team'
      })
    ).toEqual({ groupBy: 'label:team' });
    expect(changedSettings(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS })).toEqual(
      {}
    );
  });
});
