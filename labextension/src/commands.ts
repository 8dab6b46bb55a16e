/**
 * The plugin's commands: one per action on a service, the logs and form tabs, the panel. The
 * logs viewer and the form load on first use.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog,
  ToolbarButton
} from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import type { ReadonlyJSONObject } from '@lumino/coreutils';
import type { SpecFormWidget } from './form';
import type { ITemplateInfo } from './picker';
import { asBackends, type IBackends } from './support';
import { addOpenCommands, type OpenIn } from './apps';
import { servicesIcon } from './icons';
import { ServicesModel } from './model';
import { PANEL_ID } from './panel';
import type { IServiceTrackers } from './tabs';
import { CommandIDs } from './tokens';
import type { IServiceView, ServiceAction } from './types';

/** Arguments every command on one service takes. */
const NAME_ARGS: ReadonlyJSONObject = {
  type: 'object',
  properties: {
    name: {
      type: 'string',
      description: 'The service; without it, the user picks one'
    },
    fromContextMenu: {
      type: 'boolean',
      description: 'Run from the context menu of a service in the panel'
    }
  }
};

const NO_ARGS: ReadonlyJSONObject = { type: 'object', properties: {} };

/** Texts of an action command; each a literal trans.__ call, so that they can be extracted. */
interface IActionTexts {
  label: (name: string) => string;
  pick: string;
  done: (name: string) => string;
}

export function addCommands(
  app: JupyterFrontEnd,
  model: ServicesModel,
  translator: ITranslator,
  trackers: IServiceTrackers,
  openIn: () => OpenIn = () => 'tab'
): void {
  const trans = translator.load('jupyter_svc');
  const { commands, shell } = app;
  const api = model.api;
  let schema: Promise<Record<string, unknown>> | null = null;
  // null when the server cannot say (an older one): the form then shows every field
  let backends: Promise<IBackends | null> | null = null;
  // the server's templates; null from a server without the route (the form then offers none)
  let templates: Promise<ITemplateInfo[] | null> | null = null;

  /** The service named by a command's arguments, or by the row its context menu is on. */
  const argName = (args: Record<string, unknown>): string | null => {
    if (typeof args.name === 'string' && args.name) {
      return args.name;
    }
    if (args.fromContextMenu) {
      const node = app.contextMenuHitTest(n => !!n.dataset?.service);
      return node?.dataset.service ?? null;
    }
    return null;
  };

  /** The service a command acts on: its `name` argument, else one the user picks. */
  const pickName = async (
    args: Record<string, unknown>,
    title: string
  ): Promise<string | null> => {
    const named = argName(args);
    if (named) {
      return named;
    }
    const names = model.services.map(s => s.name);
    if (!names.length) {
      Notification.info(trans.__('There are no services yet.'), {
        autoClose: 4000
      });
      return null;
    }
    const result = await InputDialog.getItem({
      title,
      items: names,
      current: 0
    });
    return result.button.accept ? result.value : null;
  };

  const reportError = (what: string, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    Notification.error(trans.__('%1: %2', what, message), { autoClose: 8000 });
  };

  const actionCommand = (
    id: string,
    action: ServiceAction,
    texts: IActionTexts
  ) => {
    commands.addCommand(id, {
      label: args => {
        const name = argName(args);
        return name ? texts.label(name) : texts.pick;
      },
      caption: texts.pick,
      describedBy: { args: NAME_ARGS },
      execute: async args => {
        const name = await pickName(args, texts.pick);
        if (!name) {
          return;
        }
        try {
          model.applyAnswer(await api.action(name, action));
          Notification.info(texts.done(name), { autoClose: 2500 });
        } catch (error) {
          reportError(texts.label(name), error);
        }
      }
    });
  };

  addOpenCommands({ app, model, trans, trackers, pickName, argName, openIn });

  actionCommand(CommandIDs.wake, 'wake', {
    label: name => trans.__('Wake %1', name),
    pick: trans.__('Wake Service…'),
    done: name => trans.__('Waking %1', name)
  });
  actionCommand(CommandIDs.stop, 'stop', {
    label: name => trans.__('Stop %1', name),
    pick: trans.__('Stop Service (scale to zero)…'),
    done: name => trans.__('Stopping %1', name)
  });
  actionCommand(CommandIDs.restart, 'restart', {
    label: name => trans.__('Restart %1', name),
    pick: trans.__('Restart Service…'),
    done: name => trans.__('Restarting %1', name)
  });
  actionCommand(CommandIDs.enable, 'enable', {
    label: name => trans.__('Enable %1', name),
    pick: trans.__('Enable Service…'),
    done: name => trans.__('Enabled %1', name)
  });
  actionCommand(CommandIDs.disable, 'disable', {
    label: name => trans.__('Disable %1', name),
    pick: trans.__('Disable Service…'),
    done: name => trans.__('Disabled %1', name)
  });

  commands.addCommand(CommandIDs.remove, {
    label: args =>
      argName(args)
        ? trans.__('Delete %1', argName(args)!)
        : trans.__('Delete Service…'),
    caption: trans.__('Stop a service and forget its spec'),
    describedBy: { args: NAME_ARGS },
    execute: async args => {
      const name = await pickName(args, trans.__('Delete Service…'));
      if (!name) {
        return;
      }
      const answer = await showDialog({
        title: trans.__('Delete service %1?', name),
        body: trans.__(
          'This stops %1 and removes its spec. Its URL stops working.',
          name
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Delete') })
        ]
      });
      if (!answer.button.accept) {
        return;
      }
      try {
        await api.remove(name);
        model.remove(name);
        Notification.success(trans.__('Deleted %1', name), {
          autoClose: 3000
        });
      } catch (error) {
        reportError(trans.__('Delete %1', name), error);
      }
    }
  });

  commands.addCommand(CommandIDs.logs, {
    label: args =>
      argName(args)
        ? trans.__('Logs of %1', argName(args)!)
        : trans.__('Show Service Logs…'),
    caption: trans.__('Follow the log of a service'),
    describedBy: { args: NAME_ARGS },
    execute: async args => {
      const name = await pickName(args, trans.__('Show Service Logs…'));
      if (!name) {
        return;
      }
      // loaded before the look-up: no await between it and the tab's creation
      const { LogView } = await import('./logs');
      let widget = trackers.logs.find(w => w.content.name === name);
      if (!widget) {
        const content = new LogView({ api, name, trans });
        widget = new MainAreaWidget({ content });
        widget.id = `jupyter-svc-logs-${name}`;
        widget.title.label = trans.__('Logs: %1', name);
        widget.title.icon = servicesIcon;
        widget.title.closable = true;
        widget.addClass('jp-svc-LogsWidget');
        widget.toolbar.addItem(
          'reconnect',
          new ToolbarButton({
            icon: refreshIcon,
            tooltip: trans.__('Follow the log again from its last lines'),
            onClick: () => content.follow()
          })
        );
        void trackers.logs.add(widget);
        shell.add(widget, 'main');
      }
      shell.activateById(widget.id);
      return widget;
    }
  });

  /** The form for a new service (view null) or for editing one; one tab per service. */
  const openForm = async (view: IServiceView | null) => {
    let spec: Record<string, unknown>;
    try {
      schema = schema ?? api.schema();
      backends = backends ?? api.backends().then(asBackends, () => null);
      templates = templates ?? api.templates().catch(() => null);
      spec = await schema;
    } catch (error) {
      schema = null;
      reportError(trans.__('Cannot load the service schema'), error);
      return;
    }
    const { SpecFormWidget } = await import('./form');
    const backendInfo = await backends;
    const templateList = view ? null : await templates;
    // looked up after the awaits: two quick clicks open one tab
    const name = view?.name ?? null;
    const existing = trackers.forms.find(w => w.content.serviceName === name);
    if (existing) {
      shell.activateById(existing.id);
      return existing;
    }
    let widget: MainAreaWidget<SpecFormWidget> | null = null;
    const content = new SpecFormWidget({
      api,
      schema: spec,
      backends: backendInfo,
      templates: templateList,
      initial: view ? view.spec : null,
      trans,
      translator,
      onSaved: (saved, created) => {
        model.applyAnswer(saved);
        Notification.success(
          created
            ? trans.__('Created %1', saved.name)
            : trans.__('Saved %1', saved.name),
          { autoClose: 3000 }
        );
        widget?.dispose();
      },
      onCancel: () => widget?.dispose()
    });
    widget = new MainAreaWidget({ content });
    widget.id = `jupyter-svc-form-${name ?? 'new'}-${Date.now()}`;
    widget.title.label = view
      ? trans.__('Edit %1', view.name)
      : trans.__('New Service');
    widget.title.icon = servicesIcon;
    widget.title.closable = true;
    void trackers.forms.add(widget);
    shell.add(widget, 'main');
    shell.activateById(widget.id);
    return widget;
  };

  commands.addCommand(CommandIDs.create, {
    label: args =>
      args.isLauncher ? trans.__('New Service') : trans.__('New Service…'),
    caption: trans.__('Create a service from a form'),
    icon: args => (args.isLauncher ? servicesIcon : undefined),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          isLauncher: {
            type: 'boolean',
            description: 'Shown as a launcher card'
          }
        }
      }
    },
    execute: () => openForm(null)
  });

  commands.addCommand(CommandIDs.edit, {
    label: args =>
      argName(args)
        ? trans.__('Edit %1', argName(args)!)
        : trans.__('Edit Service…'),
    caption: trans.__('Change the spec of a service'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          ...(NAME_ARGS.properties as ReadonlyJSONObject),
          restoring: {
            type: 'boolean',
            description:
              'Reopened by a page reload: a service that is gone fails quietly, and the tab is forgotten'
          }
        }
      }
    },
    execute: async args => {
      const name = await pickName(args, trans.__('Edit Service…'));
      if (!name) {
        return;
      }
      let view: IServiceView;
      try {
        view = await api.get(name);
      } catch (error) {
        if (args.restoring) {
          throw error; // the layout restorer drops the tab
        }
        reportError(trans.__('Edit %1', name), error);
        return;
      }
      return openForm(view);
    }
  });

  commands.addCommand(CommandIDs.refresh, {
    label: trans.__('Refresh Services'),
    caption: trans.__('Reload the list of services'),
    describedBy: { args: NO_ARGS },
    execute: async () => {
      try {
        await model.refresh();
      } catch (error) {
        reportError(trans.__('Refresh Services'), error);
      }
    }
  });

  commands.addCommand(CommandIDs.showPanel, {
    label: trans.__('Show Services Panel'),
    describedBy: { args: NO_ARGS },
    execute: () => shell.activateById(PANEL_ID)
  });

  // a service that fails while JupyterLab is open says so, with its reason and its log
  model.failed.connect((_, failed) => {
    const name = failed.name;
    Notification.error(
      trans.__(
        '%1 failed: %2',
        name,
        failed.status.message || trans.__('no reason given')
      ),
      {
        autoClose: false,
        actions: [
          {
            label: trans.__('Logs'),
            caption: trans.__('Show the log of %1', name),
            callback: () => void commands.execute(CommandIDs.logs, { name })
          }
        ]
      }
    );
  });
}
