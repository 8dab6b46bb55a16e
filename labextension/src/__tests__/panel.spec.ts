import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import { SvcApi } from '../api';
import { ServicesModel } from '../model';
import { PANEL_ID, ServicesPanel } from '../panel';
import { CommandIDs } from '../tokens';
import { fakeServer, json, trans, view, waitFor } from './helpers';

describe('ServicesPanel', () => {
  let panel: ServicesPanel;
  let model: ServicesModel;
  let executed: [string, unknown][];

  beforeEach(() => {
    const { settings } = fakeServer(() => json({ services: [] }));
    model = new ServicesModel({ api: new SvcApi(settings) });
    const commands = new CommandRegistry();
    executed = [];
    for (const id of Object.values(CommandIDs)) {
      commands.addCommand(id, {
        execute: args => void executed.push([id, args])
      });
    }
    panel = new ServicesPanel({
      model,
      commands,
      trans,
      baseUrl: 'http://lab.test/base/'
    });
    Widget.attach(panel, document.body);
  });

  afterEach(() => {
    panel.dispose();
    model.dispose();
  });

  const card = (name: string) =>
    panel.node.querySelector(`[data-service="${name}"]`) as HTMLElement | null;

  it('has a stable id and says when there are no services', async () => {
    expect(panel.id).toBe(PANEL_ID);
    panel.update();
    await waitFor(() => !!panel.node.querySelector('.jp-svc-Empty'));
  });

  it('shows each service with its badge, URL and details, and follows changes', async () => {
    const app = view('app', 'ready', {
      restarts: 3,
      idle_deadline: new Date(Date.now() + 125_000).toISOString(),
      last_activity: new Date(Date.now() - 60_000).toISOString()
    });
    model.replaceAll([app, view('zzz', 'scaled_to_zero')]);
    await waitFor(() => !!card('app'));
    const el = card('app')!;
    const badge = el.querySelector('.jp-svc-Badge') as HTMLElement;
    expect(badge.textContent).toBe('ready');
    expect(badge.dataset.state).toBe('ready');
    expect(badge.classList).toContain('jp-svc-tone-success');
    expect((el.querySelector('.jp-svc-Url') as HTMLAnchorElement).href).toBe(
      'http://lab.test/svc/app/'
    );
    const field = (f: string) =>
      el.querySelector(`[data-field="${f}"]`)!.textContent;
    expect(field('backend')).toBe('local');
    expect(field('restarts')).toBe('3');
    expect(field('idle-window')).toBe('5m');
    expect(field('idle-deadline')).toMatch(/^in 2m \ds$/);
    expect(field('last-activity')).toMatch(/^1m( \ds)? ago$/);
    // the idle one offers wake, not stop
    expect(card('zzz')!.querySelector('[data-action="wake"]')).not.toBeNull();
    expect(card('zzz')!.querySelector('[data-action="stop"]')).toBeNull();
    expect(card('zzz')!.querySelector('.jp-svc-Badge')!.textContent).toBe(
      'scaled to zero'
    );

    model.upsert(
      view('app', 'failed', { message: 'exited with code 1', generation: 1 })
    );
    await waitFor(() => card('app')!.dataset.state === 'failed');
    expect(card('app')!.querySelector('.jp-svc-Message')!.textContent).toBe(
      'exited with code 1'
    );
    expect(card('app')!.querySelector('.jp-svc-Badge')!.classList).toContain(
      'jp-svc-tone-error'
    );

    model.remove('zzz');
    await waitFor(() => card('zzz') === null);
  });

  it('runs the matching command with the service name for each button', async () => {
    model.replaceAll([view('app', 'ready')]);
    await waitFor(() => !!card('app'));
    for (const action of [
      'open',
      'stop',
      'restart',
      'logs',
      'edit',
      'disable',
      'delete'
    ]) {
      (
        card('app')!.querySelector(
          `[data-action="${action}"]`
        ) as HTMLButtonElement
      ).click();
    }
    expect(executed).toEqual([
      [CommandIDs.open, { name: 'app' }],
      [CommandIDs.stop, { name: 'app' }],
      [CommandIDs.restart, { name: 'app' }],
      [CommandIDs.logs, { name: 'app' }],
      [CommandIDs.edit, { name: 'app' }],
      [CommandIDs.disable, { name: 'app' }],
      [CommandIDs.remove, { name: 'app' }]
    ]);
  });

  it('offers enable for a disabled service, and create in the header', async () => {
    model.replaceAll([view('off', 'disabled')]);
    await waitFor(() => !!card('off'));
    expect(card('off')!.querySelector('[data-action="disable"]')).toBeNull();
    (
      card('off')!.querySelector('[data-action="enable"]') as HTMLButtonElement
    ).click();
    (
      panel.node.querySelector(
        '.jp-svc-Header [data-action="create"]'
      ) as HTMLButtonElement
    ).click();
    expect(executed).toEqual([
      [CommandIDs.enable, { name: 'off' }],
      [CommandIDs.create, {}]
    ]);
  });

  it('lists services compactly, from the setting or the header button', async () => {
    model.replaceAll([
      view('app', 'failed', { message: 'exited with code 1' })
    ]);
    await waitFor(() => !!card('app'));
    const list = () => panel.node.querySelector('.jp-svc-List') as HTMLElement;
    expect(list().dataset.view).toBe('detailed');
    expect(card('app')!.querySelector('.jp-svc-Details')).not.toBeNull();

    panel.listView = 'compact'; // what the defaultView setting does
    await waitFor(() => list().dataset.view === 'compact');
    const el = card('app')!;
    expect(el.querySelector('.jp-svc-Details')).toBeNull();
    expect(el.querySelector('.jp-svc-Url')).toBeNull();
    expect(el.querySelector('.jp-svc-Description')).toBeNull();
    // what still matters stays: the state, why it failed, the actions
    expect(el.querySelector('.jp-svc-Badge')!.textContent).toBe('failed');
    expect(el.querySelector('.jp-svc-Message')!.textContent).toBe(
      'exited with code 1'
    );
    expect(el.querySelector('[data-action="restart"]')).not.toBeNull();

    const toggle = () =>
      panel.node.querySelector(
        '.jp-svc-Header [data-action="toggle-view"]'
      ) as HTMLButtonElement;
    expect(toggle().title).toBe('Show details');
    toggle().click();
    await waitFor(() => list().dataset.view === 'detailed');
    expect(panel.listView).toBe('detailed');
    expect(card('app')!.querySelector('.jp-svc-Details')).not.toBeNull();
    expect(toggle().title).toBe('Compact view');
    expect(executed).toEqual([]);
  });

  it('lists many services in natural order, filters them, and counts them by state', async () => {
    const names = ['s1', 's10', 's11', 's12', 's2'];
    model.replaceAll([
      ...names.map(n => view(n)),
      view('broken', 'failed'),
      {
        ...view('tagged', 'scaled_to_zero'),
        spec: { ...view('tagged').spec, labels: { team: 'geo' } }
      }
    ]);
    await waitFor(() => !!card('s1'));
    const shown = () =>
      [...panel.node.querySelectorAll('[data-service]')].map(
        el => (el as HTMLElement).dataset.service
      );
    expect(shown()).toEqual([
      'broken',
      's1',
      's2',
      's10',
      's11',
      's12',
      'tagged'
    ]);
    const counts = () =>
      [...panel.node.querySelectorAll('.jp-svc-Count')].map(b => b.textContent);
    expect(panel.node.querySelector('.jp-svc-Total')!.textContent).toBe(
      '7 services'
    );
    expect(counts()).toEqual(['5 ready', '1 scaled to zero', '1 failed']);

    const box = panel.node.querySelector('.jp-svc-Filter') as HTMLInputElement;
    const typeFilter = (text: string) => {
      Object.getOwnPropertyDescriptor(
        HTMLInputElement.prototype,
        'value'
      )!.set!.call(box, text);
      box.dispatchEvent(new Event('input', { bubbles: true }));
    };
    typeFilter('s1');
    await waitFor(() => shown().length === 4);
    expect(shown()).toEqual(['s1', 's10', 's11', 's12']);
    typeFilter('team=geo');
    await waitFor(() => shown().length === 1);
    expect(shown()).toEqual(['tagged']);
    typeFilter('nothing-like-it');
    await waitFor(() => shown().length === 0);
    expect(panel.node.querySelector('.jp-svc-Empty')!.textContent).toContain(
      'No service matches'
    );
    typeFilter('');
    (
      panel.node.querySelector(
        '.jp-svc-Count[data-state="failed"]'
      ) as HTMLElement
    ).click();
    await waitFor(() => shown().length === 1);
    expect(shown()).toEqual(['broken']);
    expect(counts()).toHaveLength(3); // the counts stay those of every service
  });

  it('says "never" for a ready service that does not scale down', async () => {
    model.replaceAll([
      view('always', 'ready', { idle_deadline: null }),
      view('off', 'disabled')
    ]);
    await waitFor(() => !!card('always'));
    const deadline = (name: string) =>
      card(name)!.querySelector('[data-field="idle-deadline"]')!.textContent;
    expect(deadline('always')).toBe('never');
    expect(deadline('off')).toBe('—');
  });
});
