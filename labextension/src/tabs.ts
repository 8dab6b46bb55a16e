/** The logs, form and app tabs in the main area: tracked, so that a page reload reopens them. */

import { ILayoutRestorer } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import type { AppFrame } from './apps';
import type { SpecFormWidget } from './form';
import type { LogView } from './logs';
import { CommandIDs } from './tokens';

export interface IServiceTrackers {
  logs: WidgetTracker<MainAreaWidget<LogView>>;
  forms: WidgetTracker<MainAreaWidget<SpecFormWidget>>;
  apps: WidgetTracker<MainAreaWidget<AppFrame>>;
}

export function createTrackers(): IServiceTrackers {
  return {
    logs: new WidgetTracker({ namespace: 'jupyter-svc-logs' }),
    forms: new WidgetTracker({ namespace: 'jupyter-svc-form' }),
    apps: new WidgetTracker({ namespace: 'jupyter-svc-app' })
  };
}

/**
 * Reopen, after a reload, the logs, edit and app tabs that were open, by service name. A new
 * service's form has no name yet and is not reopened (what was typed in it is gone anyway).
 */
export function restoreTabs(
  restorer: ILayoutRestorer,
  trackers: IServiceTrackers
): Promise<unknown> {
  return Promise.all([
    restorer.restore(trackers.logs, {
      command: CommandIDs.logs,
      args: widget => ({ name: widget.content.name }),
      name: widget => widget.content.name
    }),
    restorer.restore(trackers.forms, {
      command: CommandIDs.edit,
      args: widget => ({ name: widget.content.serviceName, restoring: true }),
      name: widget => widget.content.serviceName ?? ''
    }),
    restorer.restore(trackers.apps, {
      command: CommandIDs.openInLab,
      args: widget => ({ name: widget.content.name }),
      name: widget => widget.content.name
    })
  ]);
}
