/** The plugin: sidebar panel, commands, launcher cards, logs and form tabs. */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog,
  ToolbarButton
} from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { SvcApi } from './api';
import { SpecFormWidget } from './form';
import { iconForUrl, servicesIcon } from './icons';
import { LogView } from './logs';
import { ServicesModel } from './model';
import { PANEL_ID, ServicesPanel } from './panel';
import { CommandIDs } from './tokens';
import type { IServiceView, ServiceAction } from './types';
import { serviceUrl } from './format';

const PLUGIN_ID = 'jupyter-svc:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'See, create and control the web services jupyter-svc runs, scaled to zero when idle.',
  autoStart: true,
  optional: [ITranslator, ICommandPalette, ILauncher, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_svc');
    const api = new SvcApi(app.serviceManager.serverSettings);
    const model = new ServicesModel({ api });
    const baseUrl = api.settings.baseUrl;
    const { commands, shell } = app;
    const category = trans.__('Services');

    const panel = new ServicesPanel({ model, commands, trans, baseUrl });
    shell.add(panel, 'left', { rank: 450 });
    restorer?.add(panel, PANEL_ID);

    const logViews = new Map<string, MainAreaWidget<LogView>>();
    const forms = new Map<string, MainAreaWidget<SpecFormWidget>>();
    let schema: Promise<Record<string, unknown>> | null = null;

    /** The service a command acts on: its `name` argument, else one the user picks. */
    const pickName = async (
      args: Record<string, unknown>,
      title: string
    ): Promise<string | null> => {
      if (typeof args.name === 'string' && args.name) {
        return args.name;
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
      Notification.error(trans.__('%1: %2', what, message), {
        autoClose: 8000
      });
    };

    /** Texts of an action command; each a literal trans.__ call, so that they can be extracted. */
    interface IActionTexts {
      label: (name: string) => string;
      pick: string;
      done: (name: string) => string;
    }

    const actionCommand = (
      id: string,
      action: ServiceAction,
      texts: IActionTexts
    ) => {
      commands.addCommand(id, {
        label: args =>
          args.name ? texts.label(args.name as string) : texts.pick,
        caption: texts.pick,
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

    commands.addCommand(CommandIDs.open, {
      label: args =>
        args.isLauncher
          ? String(args.name)
          : args.name
            ? trans.__('Open %1', args.name as string)
            : trans.__('Open Service…'),
      caption: args =>
        (args.name && model.get(args.name as string)?.spec.description) ||
        trans.__('Open the service in a new browser tab'),
      icon: args =>
        args.isLauncher
          ? iconForUrl(model.get(args.name as string)?.spec.icon)
          : undefined,
      execute: async args => {
        const name = await pickName(args, trans.__('Open Service…'));
        const view = name ? model.get(name) : undefined;
        if (!name) {
          return;
        }
        const url = view
          ? serviceUrl(view, baseUrl)
          : `${baseUrl}svc/${encodeURIComponent(name)}/`;
        window.open(url, '_blank', 'noopener');
      }
    });
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
        args.name
          ? trans.__('Delete %1', args.name as string)
          : trans.__('Delete Service…'),
      caption: trans.__('Stop a service and forget its spec'),
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
        args.name
          ? trans.__('Logs of %1', args.name as string)
          : trans.__('Show Service Logs…'),
      caption: trans.__('Follow the log of a service'),
      execute: async args => {
        const name = await pickName(args, trans.__('Show Service Logs…'));
        if (!name) {
          return;
        }
        let widget = logViews.get(name);
        if (!widget || widget.isDisposed) {
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
          logViews.set(name, widget);
          widget.disposed.connect(() => logViews.delete(name));
          shell.add(widget, 'main');
        }
        shell.activateById(widget.id);
        return widget;
      }
    });

    const openForm = async (view: IServiceView | null) => {
      const key = view?.name ?? '';
      const existing = forms.get(key);
      if (existing && !existing.isDisposed) {
        shell.activateById(existing.id);
        return existing;
      }
      let spec: Record<string, unknown>;
      try {
        schema = schema ?? api.schema();
        spec = await schema;
      } catch (error) {
        schema = null;
        reportError(trans.__('Cannot load the service schema'), error);
        return;
      }
      let widget: MainAreaWidget<SpecFormWidget> | null = null;
      const content = new SpecFormWidget({
        api,
        schema: spec,
        initial: view ? view.spec : null,
        trans,
        translator: translator!,
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
      widget.id = `jupyter-svc-form-${key || 'new'}-${Date.now()}`;
      widget.title.label = view
        ? trans.__('Edit %1', view.name)
        : trans.__('New Service');
      widget.title.icon = servicesIcon;
      widget.title.closable = true;
      forms.set(key, widget);
      widget.disposed.connect(() => forms.delete(key));
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      return widget;
    };

    commands.addCommand(CommandIDs.create, {
      label: args =>
        args.isLauncher ? trans.__('New Service') : trans.__('New Service…'),
      caption: trans.__('Create a service from a form'),
      icon: args => (args.isLauncher ? servicesIcon : undefined),
      execute: () => openForm(null)
    });

    commands.addCommand(CommandIDs.edit, {
      label: args =>
        args.name
          ? trans.__('Edit %1', args.name as string)
          : trans.__('Edit Service…'),
      caption: trans.__('Change the spec of a service'),
      execute: async args => {
        const name = await pickName(args, trans.__('Edit Service…'));
        if (!name) {
          return;
        }
        try {
          return await openForm(await api.get(name));
        } catch (error) {
          reportError(trans.__('Edit %1', name), error);
        }
      }
    });

    commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Refresh Services'),
      caption: trans.__('Reload the list of services'),
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
      execute: () => shell.activateById(PANEL_ID)
    });

    if (palette) {
      for (const command of [
        CommandIDs.showPanel,
        CommandIDs.create,
        CommandIDs.refresh,
        CommandIDs.open,
        CommandIDs.wake,
        CommandIDs.stop,
        CommandIDs.restart,
        CommandIDs.enable,
        CommandIDs.disable,
        CommandIDs.logs,
        CommandIDs.edit,
        CommandIDs.remove
      ]) {
        palette.addItem({ command, category });
      }
    }

    if (launcher) {
      launcher.add({
        command: CommandIDs.create,
        args: { isLauncher: true },
        category,
        rank: 0
      });
      const cards = new Map<string, { icon: string; item: IDisposable }>();
      const sync = () => {
        const current = new Set<string>();
        for (const view of model.services) {
          current.add(view.name);
          const icon = view.spec.icon ?? '';
          const card = cards.get(view.name);
          if (card && card.icon === icon) {
            continue;
          }
          card?.item.dispose();
          const item = launcher.add({
            command: CommandIDs.open,
            args: { name: view.name, isLauncher: true },
            category,
            rank: 10
          });
          cards.set(view.name, { icon, item });
        }
        for (const [name, card] of [...cards]) {
          if (!current.has(name)) {
            card.item.dispose();
            cards.delete(name);
          }
        }
      };
      model.changed.connect(sync);
    }

    void app.restored.then(() => model.start());
  }
};

export default plugin;
