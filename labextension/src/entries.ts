/**
 * Where users find the commands besides the panel: the palette, and launcher cards ("New
 * Service", and one per service that opens it, with the spec's icon).
 */

import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ServicesModel } from './model';
import { CommandIDs } from './tokens';

/** Commands listed in the palette, under the "Services" category. */
const PALETTE_COMMANDS = [
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
  // a card per service, replaced when its icon changes (the launcher reads it once)
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
