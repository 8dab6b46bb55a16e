/**
 * Where a service opens: a browser tab, or a JupyterLab main-area tab showing the app in an
 * iframe (the openIn setting picks what Open does; both commands are always there).
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IFrame, launchIcon, refreshIcon } from '@jupyterlab/ui-components';
import type { ReadonlyJSONObject } from '@lumino/coreutils';
import { serviceUrl, stateLabel } from './format';
import { iconForUrl, launcherIcon, TEMPLATE_LABEL } from './icons';
import { ServicesModel } from './model';
import type { IServiceTrackers } from './tabs';
import { CommandIDs } from './tokens';

/** Where Open puts a service: a new browser tab, or a tab inside JupyterLab. */
export type OpenIn = 'tab' | 'jupyterlab';

/**
 * What the app in the iframe may do: run its scripts, reach its own origin (its cookies and
 * API: it is served from JupyterLab's origin, through the proxy), post forms, open popups.
 * Not: navigate JupyterLab's page itself.
 */
export const APP_SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-scripts',
  'allow-same-origin',
  'allow-forms',
  'allow-popups',
  'allow-popups-to-escape-sandbox' as IFrame.SandboxExceptions,
  'allow-downloads',
  'allow-modals'
];

/** The app of one service in an iframe; `name` is what a restored tab reopens. */
export class AppFrame extends IFrame {
  constructor(
    readonly name: string,
    readonly appUrl: string
  ) {
    super({ sandbox: APP_SANDBOX, referrerPolicy: 'same-origin' });
    this.addClass('jp-svc-AppFrame');
    this.url = appUrl;
  }

  /** Load the app again (its page may have moved on; this goes back to its URL). */
  reload(): void {
    this.url = 'about:blank';
    this.url = this.appUrl;
  }
}

const NAME_ARGS: ReadonlyJSONObject = {
  type: 'object',
  properties: {
    name: {
      type: 'string',
      description: 'The service; without it, the user picks one'
    },
    isLauncher: {
      type: 'boolean',
      description: "Shown as a launcher card: the service's icon and state"
    },
    fromContextMenu: {
      type: 'boolean',
      description: 'Run from the context menu of a service in the panel'
    }
  }
};

export interface IOpenCommandsOptions {
  app: JupyterFrontEnd;
  model: ServicesModel;
  trans: TranslationBundle;
  trackers: IServiceTrackers;
  /** The service a command acts on: its arguments, the context menu's row, else one picked. */
  pickName: (
    args: Record<string, unknown>,
    title: string
  ) => Promise<string | null>;
  /** The service named by the arguments, or by the panel's row under the context menu. */
  argName: (args: Record<string, unknown>) => string | null;
  /** The openIn setting, read at each Open. */
  openIn: () => OpenIn;
}

export function addOpenCommands(options: IOpenCommandsOptions): void {
  const { app, model, trans, trackers, pickName, argName } = options;
  const { commands, shell } = app;
  const baseUrl = model.api.settings.baseUrl;
  const urlOf = (name: string) => {
    const view = model.get(name);
    return view
      ? serviceUrl(view, baseUrl)
      : `${baseUrl}svc/${encodeURIComponent(name)}/`;
  };

  const openTab = (name: string) => {
    window.open(urlOf(name), '_blank', 'noopener');
  };

  const openInLab = (name: string) => {
    let widget = trackers.apps.find(w => w.content.name === name);
    if (!widget) {
      const content = new AppFrame(name, urlOf(name));
      widget = new MainAreaWidget({ content });
      widget.id = `jupyter-svc-app-${name}`;
      widget.title.label = name;
      widget.title.caption = model.get(name)?.spec.description || name;
      widget.title.icon = iconForUrl(model.get(name)?.spec.icon);
      widget.title.closable = true;
      widget.addClass('jp-svc-AppWidget');
      widget.toolbar.addItem(
        'reload',
        new ToolbarButton({
          icon: refreshIcon,
          tooltip: trans.__('Reload %1', name),
          onClick: () => content.reload()
        })
      );
      widget.toolbar.addItem(
        'open-tab',
        new ToolbarButton({
          icon: launchIcon,
          tooltip: trans.__('Open %1 in a new browser tab', name),
          onClick: () => openTab(name)
        })
      );
      void trackers.apps.add(widget);
      shell.add(widget, 'main');
    }
    shell.activateById(widget.id);
    return widget;
  };

  commands.addCommand(CommandIDs.open, {
    label: args =>
      args.isLauncher
        ? String(args.name)
        : args.name
          ? trans.__('Open %1', args.name as string)
          : trans.__('Open Service…'),
    caption: args => {
      const view = args.name ? model.get(args.name as string) : undefined;
      if (!view) {
        return trans.__(
          'Open a service (where: the "Open services in" setting)'
        );
      }
      const state = stateLabel(view.status.state, trans);
      return view.spec.description
        ? trans.__('%1 (%2)', view.spec.description, state)
        : state;
    },
    icon: args => {
      if (!args.isLauncher) {
        return undefined;
      }
      const view = model.get(args.name as string);
      return launcherIcon(
        view?.spec.icon,
        view?.spec.labels?.[TEMPLATE_LABEL],
        view?.status.state ?? 'pending'
      );
    },
    describedBy: { args: NAME_ARGS },
    execute: async args => {
      const name = await pickName(args, trans.__('Open Service…'));
      if (!name) {
        return;
      }
      if (options.openIn() === 'jupyterlab') {
        return openInLab(name);
      }
      openTab(name);
    }
  });

  commands.addCommand(CommandIDs.openTab, {
    label: args =>
      argName(args)
        ? trans.__('Open %1 in a Browser Tab', argName(args)!)
        : trans.__('Open Service in a Browser Tab…'),
    caption: trans.__('Open the service in a new browser tab'),
    icon: args => (args.fromContextMenu ? launchIcon : undefined),
    describedBy: { args: NAME_ARGS },
    execute: async args => {
      const name = await pickName(
        args,
        trans.__('Open Service in a Browser Tab…')
      );
      if (name) {
        openTab(name);
      }
    }
  });

  commands.addCommand(CommandIDs.openInLab, {
    label: args =>
      argName(args)
        ? trans.__('Open %1 in JupyterLab', argName(args)!)
        : trans.__('Open Service in JupyterLab…'),
    caption: trans.__('Open the service in a JupyterLab tab'),
    describedBy: { args: NAME_ARGS },
    execute: async args => {
      const name = await pickName(
        args,
        trans.__('Open Service in JupyterLab…')
      );
      return name ? openInLab(name) : undefined;
    }
  });

  // a deleted service's app tab has nothing left to show
  model.deleted.connect((_, name) => {
    trackers.apps.find(w => w.content.name === name)?.dispose();
  });
}
