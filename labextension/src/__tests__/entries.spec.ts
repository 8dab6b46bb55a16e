/**
 * Launcher cards: JupyterLab's own launcher model, the panel's model fed views as the server
 * sends them, and the icons the cards draw.
 */

import { LauncherModel } from '@jupyterlab/launcher';
import { nullTranslator } from '@jupyterlab/translation';
import { SvcApi } from '../api';
import { addLauncherItems } from '../entries';
import { launcherIcon, templateIcon, servicesIcon } from '../icons';
import { ServicesModel } from '../model';
import { CommandIDs } from '../tokens';
import { fakeServer, json, view } from './helpers';

describe('launcher cards', () => {
  it('draws the spec icon, else the template icon, with a dot in the colour of the state', () => {
    const made = launcherIcon(null, 'streamlit', 'ready');
    expect(made.svgstr).toContain('>St</text>');
    expect(made.svgstr).toContain(
      'class="jp-svc-LauncherBadge" data-state="ready"'
    );
    expect(made.svgstr).toContain('var(--jp-success-color1)');
    const failed = launcherIcon(null, 'streamlit', 'failed');
    expect(failed).not.toBe(made);
    expect(failed.svgstr).toContain('var(--jp-error-color1)');
    // the same picture and state: the same icon, not a new one per render
    expect(launcherIcon(null, 'streamlit', 'ready')).toBe(made);
    const own = launcherIcon(
      'data:image/png;base64,AAAA',
      'streamlit',
      'ready'
    );
    expect(own.svgstr).toContain('href="data:image/png;base64,AAAA"');
    expect(own.svgstr).not.toContain('>St</text>');
    const plain = launcherIcon(null, null, 'scaled_to_zero');
    expect(plain.svgstr).toContain('var(--jp-warn-color1)');
    expect(templateIcon('panel').svgstr).toContain('>Pn</text>');
    expect(templateIcon('no-such-template')).toBe(servicesIcon);
  });

  it('keeps one card per service, drawn again when its state changes', () => {
    const { settings } = fakeServer(() => json({ services: [] }));
    const model = new ServicesModel({ api: new SvcApi(settings) });
    const launcher = new LauncherModel();
    addLauncherItems(launcher, model, nullTranslator);
    const cards = () =>
      [...launcher.items()]
        .filter(i => i.command === CommandIDs.open)
        .map(i => i.args!.name);
    let changes = 0;
    launcher.stateChanged.connect(() => void changes++);
    const app = view('app', 'ready');
    app.spec.labels = { 'jupyter-svc/template': 'streamlit' };
    model.replaceAll([app, view('web', 'ready')]);
    expect(cards()).toEqual(['app', 'web']);
    const before = changes;
    model.upsert({ ...app, status: { ...app.status, revision: 2 } });
    expect(changes).toBe(before); // nothing the card shows changed
    model.upsert({
      ...app,
      status: { ...app.status, state: 'scaled_to_zero', revision: 3 }
    });
    expect(changes).toBeGreaterThan(before);
    expect(cards().sort()).toEqual(['app', 'web']);
    model.remove('web');
    expect(cards()).toEqual(['app']);
    model.dispose();
  });
});
