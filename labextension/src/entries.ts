/**
 * Where users find the commands besides the panel: the palette, the context menu of a service
 * in the panel, and launcher cards ("New Service", and one per service that opens it, with the
 * spec's or its template's icon and a dot in the colour of its state).
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { TEMPLATE_LABEL } from './icons';
import { ServicesModel } from './model';
import { CommandIDs } from './tokens';

/** Commands listed in the palette, under the "Services" category. */
const PALETTE_COMMANDS = [
  CommandIDs.showPanel,
  CommandIDs.create,
  CommandIDs.refresh,
  CommandIDs.open,
  CommandIDs.openTab,
  CommandIDs.openInLab,
  CommandIDs.wake,
  CommandIDs.stop,
  CommandIDs.restart,
  CommandIDs.enable,
  CommandIDs.disable,
  CommandIDs.logs,
  CommandIDs.edit,
  CommandIDs.remove
];

export function addPaletteItems(
  palette: ICommandPalette,
  translator: ITranslator
): void {
  const trans = translator.load('jupyter_svc');
  const category = trans.__('Services');
  for (const command of PALETTE_COMMANDS) {
    palette.addItem({ command, category });
  }
}

/** The context menu of a service (card or row) in the panel: both ways to open it, and the rest. */
const CONTEXT_COMMANDS = [
  CommandIDs.openInLab,
  CommandIDs.openTab,
  CommandIDs.logs,
  CommandIDs.restart,
  CommandIDs.edit,
  CommandIDs.remove
];

export function addContextMenuItems(app: JupyterFrontEnd): void {
  CONTEXT_COMMANDS.forEach((command, i) =>
    app.contextMenu.addItem({
      command,
      args: { fromContextMenu: true },
      selector: '.jp-svc-Panel [data-service]',
      rank: 100 + i
    })
  );
}

export function addLauncherItems(
  launcher: ILauncher,
  model: ServicesModel,
  translator: ITranslator
): void {
  const trans = translator.load('jupyter_svc');
  const category = trans.__('Services');
  launcher.add({
    command: CommandIDs.create,
    args: { isLauncher: true },
    category,
    rank: 0
  });
  // a card per service, replaced when its icon or state changes (the launcher draws a card
  // again only when its items change)
  const cards = new Map<string, { icon: string; item: IDisposable }>();
  const sync = () => {
    const current = new Set<string>();
    for (const view of model.services) {
      current.add(view.name);
      const icon = [
        view.spec.icon ?? '',
        view.spec.labels?.[TEMPLATE_LABEL] ?? '',
        view.status.state
      ].join('\n');
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
