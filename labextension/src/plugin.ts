/** The plugin: sidebar panel, commands, launcher cards, restored tabs, settings. */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
/* eslint-disable jupyter/prefer-lazy-imports -- activate() needs these at once: the panel is
   on screen from the start, and commands, launcher cards and settings are registered then */
import { SvcApi } from './api';
import { addCommands } from './commands';
import type { OpenIn } from './apps';
import {
  addContextMenuItems,
  addLauncherItems,
  addPaletteItems
} from './entries';
import { ServicesModel } from './model';
import { PANEL_ID, ServicesPanel } from './panel';
import {
  changedSettings,
  DEFAULT_SETTINGS,
  followSettings,
  type IPanelSettings
} from './settings';
import { createTrackers, restoreTabs } from './tabs';
/* eslint-enable jupyter/prefer-lazy-imports */

const PLUGIN_ID = 'jupyter-svc:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'See, create and control the web services jupyter-svc runs, scaled to zero when idle.',
  autoStart: true,
  optional: [
    ITranslator,
    ICommandPalette,
    ILauncher,
    ILayoutRestorer,
    ISettingRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_svc');
    const api = new SvcApi(app.serviceManager.serverSettings);
    const model = new ServicesModel({ api });
    const panel = new ServicesPanel({
      model,
      commands: app.commands,
      trans,
      baseUrl: api.settings.baseUrl
    });
    app.shell.add(panel, 'left', { rank: 450 });

    const trackers = createTrackers();
    let openIn: OpenIn = DEFAULT_SETTINGS.openIn;
    addCommands(app, model, translator, trackers, () => openIn);
    addContextMenuItems(app);
    if (palette) {
      addPaletteItems(palette, translator);
    }
    if (launcher) {
      addLauncherItems(launcher, model, translator);
    }
    if (restorer) {
      restorer.add(panel, PANEL_ID);
      void restoreTabs(restorer, trackers);
    }
    if (settingRegistry) {
      let applied: IPanelSettings | null = null;
      followSettings(settingRegistry, PLUGIN_ID, settings => {
        const changed = changedSettings(applied, settings);
        applied = settings;
        model.pollInterval = settings.pollInterval;
        model.reconnectDelay = settings.reconnectDelay;
        openIn = settings.openIn;
        if (changed.defaultView) {
          panel.listView = changed.defaultView;
        }
        if (changed.groupBy) {
          panel.groupBy = changed.groupBy;
        }
      })
        .then(settings => {
          // the panel's Group by selector is remembered across reloads
          panel.onGroupBy = groupBy =>
            void settings
              .set('groupBy', groupBy)
              .catch(reason =>
                console.error(`jupyter-svc: cannot save groupBy: ${reason}`)
              );
        })
        .catch(reason =>
          console.error(`jupyter-svc: cannot load its settings: ${reason}`)
        );
    }
    void app.restored.then(() => model.start());
  }
};

export default plugin;
