import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import { SvcApi } from '../api';
import { ServicesModel } from '../model';
import { PANEL_ID, ServicesPanel } from '../panel';
import { CommandIDs } from '../tokens';
import type { ServiceState } from '../types';
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
    // one line: the state's dot, the name, why it failed, Open
    const dot = el.querySelector('.jp-svc-Dot') as HTMLElement;
    expect(dot.dataset.state).toBe('failed');
    expect(dot.getAttribute('aria-label')).toBe('failed');
    expect(el.querySelector('.jp-svc-Info')!.textContent).toBe(
      'exited with code 1'
    );
    expect(el.querySelector('[data-action="open"]')).not.toBeNull();
    expect(el.querySelector('[data-action="restart"]')).toBeNull();
    // expanded: the badge, the whole message, details and every action
    const header = el.querySelector('.jp-svc-RowHeader') as HTMLElement;
    expect(header.getAttribute('aria-expanded')).toBe('false');
    header.click();
    await waitFor(() => !!card('app')!.querySelector('.jp-svc-Details'));
    expect(header.getAttribute('aria-expanded')).toBe('true');
    expect(card('app')!.querySelector('.jp-svc-Badge')!.textContent).toBe(
      'failed'
    );
    expect(card('app')!.querySelector('.jp-svc-Message')!.textContent).toBe(
      'exited with code 1'
    );
    expect(
      card('app')!.querySelector('[data-action="restart"]')
    ).not.toBeNull();
    expect(card('app')!.querySelectorAll('[data-action="open"]')).toHaveLength(
      1
    );
    header.click();
    await waitFor(() => !card('app')!.querySelector('.jp-svc-Details'));

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

  it("shows a service's lifetime: its notebook, its keep-warm window, its expiry", async () => {
    const office = view('office', 'ready', {
      keep_warm: {
        warm: true,
        next_change: new Date(Date.now() + 3 * 3600_000 + 30_000).toISOString()
      },
      expires_at: new Date(Date.now() + 2 * 3600_000 + 30_000).toISOString()
    });
    office.spec.kernel = {
      id: 'k1',
      path: 'work/report.ipynb',
      on_end: 'delete'
    };
    model.replaceAll([office, view('plain')]);
    await waitFor(() => !!card('office'));
    const field = (name: string, f: string) =>
      card(name)!.querySelector(`[data-field="${f}"]`)?.textContent ?? null;
    expect(field('office', 'kernel')).toBe(
      'while the kernel of work/report.ipynb runs'
    );
    expect(field('office', 'keep-warm')).toBe('kept warm, ends in 3h');
    expect(field('office', 'expires')).toBe('in 2h');
    for (const f of ['kernel', 'keep-warm', 'expires']) {
      expect(field('plain', f)).toBeNull(); // nothing to say: no row
    }
  });
});

describe('ServicesPanel with many services', () => {
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
      baseUrl: 'http://lab.test/base/',
      listView: 'compact'
    });
    Widget.attach(panel, document.body);
  });

  afterEach(() => {
    panel.dispose();
    model.dispose();
  });

  const labelled = (name: string, state: ServiceState, team?: string) => {
    const v = view(name, state, {
      message: state === 'failed' ? `${name} exited with code 1` : ''
    });
    return team ? { ...v, spec: { ...v.spec, labels: { team } } } : v;
  };

  const groups = () =>
    [...panel.node.querySelectorAll('.jp-svc-Group')].map(g => [
      g.querySelector('.jp-svc-GroupName')?.textContent ?? '',
      g.querySelector('.jp-svc-GroupCount')?.textContent ?? '',
      [...g.querySelectorAll('[data-service]')].map(
        el => (el as HTMLElement).dataset.service
      )
    ]);

  const pickGroup = (value: string) => {
    const select = panel.node.querySelector(
      'select.jp-svc-GroupBy'
    ) as HTMLSelectElement;
    select.value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
  };

  it('groups by state, failed first, each group with its count, in rows of one line', async () => {
    model.replaceAll([
      ...Array.from({ length: 9 }, (_, i) =>
        labelled(`s${i + 1}`, 'ready', i % 2 ? 'geo' : 'ml')
      ),
      labelled('s10', 'failed'),
      labelled('s11', 'scaled_to_zero', 'geo'),
      labelled('s12', 'failed', 'ml')
    ]);
    await waitFor(() => groups().length === 3);
    expect(panel.groupBy).toBe('state');
    expect(groups()).toEqual([
      ['failed', '2', ['s10', 's12']],
      ['ready', '9', ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9']],
      ['scaled to zero', '1', ['s11']]
    ]);
    expect(panel.node.querySelectorAll('.jp-svc-ListRow')).toHaveLength(12);
    expect(panel.node.querySelectorAll('.jp-svc-Details')).toHaveLength(0);
  });

  it('groups by a label from the selector, and reports the choice to be saved', async () => {
    const picked: string[] = [];
    panel.onGroupBy = g => void picked.push(g);
    model.replaceAll([
      labelled('a', 'ready', 'ml'),
      labelled('b', 'ready', 'geo'),
      labelled('c', 'failed'),
      labelled('d', 'scaled_to_zero', 'geo')
    ]);
    await waitFor(() => groups().length > 0);
    const options = [
      ...panel.node.querySelectorAll('.jp-svc-GroupBy option')
    ].map(o => (o as HTMLOptionElement).value);
    expect(options).toEqual(['none', 'state', 'label:team']);
    pickGroup('label:team');
    await waitFor(() => panel.groupBy === 'label:team');
    await waitFor(() => groups()[0][0] === 'team=geo');
    expect(groups()).toEqual([
      ['team=geo', '2', ['b', 'd']],
      ['team=ml', '1', ['a']],
      ['no team label', '1', ['c']]
    ]);
    pickGroup('none');
    await waitFor(() => groups().length === 1 && groups()[0][0] === '');
    expect(groups()[0][2]).toEqual(['a', 'b', 'c', 'd']);
    expect(picked).toEqual(['label:team', 'none']);
    // a setting's value (from another tab, or the Settings Editor) applies at once
    panel.groupBy = 'state';
    await waitFor(() => groups().length === 3);
  });

  it('moves between rows and opens them from the keyboard', async () => {
    model.replaceAll([labelled('a', 'ready'), labelled('b', 'failed')]);
    await waitFor(
      () => panel.node.querySelectorAll('.jp-svc-RowHeader').length === 2
    );
    const header = (name: string) =>
      panel.node.querySelector(
        `[data-service="${name}"] .jp-svc-RowHeader`
      ) as HTMLElement;
    const key = (el: HTMLElement, k: string) =>
      el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true }));
    expect(header('b').tabIndex).toBe(0);
    header('b').focus(); // failed first
    key(header('b'), 'ArrowDown');
    expect(document.activeElement).toBe(header('a'));
    key(header('a'), 'Enter');
    await waitFor(() => header('a').getAttribute('aria-expanded') === 'true');
    key(header('a'), 'ArrowLeft');
    await waitFor(() => header('a').getAttribute('aria-expanded') === 'false');
    key(header('a'), 'ArrowRight');
    await waitFor(() => header('a').getAttribute('aria-expanded') === 'true');
    key(header('a'), 'ArrowUp');
    expect(document.activeElement).toBe(header('b'));
    key(header('b'), ' ');
    await waitFor(() => header('b').getAttribute('aria-expanded') === 'true');
    // Open on the row runs its command without expanding or collapsing the row
    (
      panel.node.querySelector(
        '[data-service="a"] .jp-svc-RowHeader [data-action="open"]'
      ) as HTMLButtonElement
    ).click();
    expect(header('a').getAttribute('aria-expanded')).toBe('true');
    expect(executed).toEqual([[CommandIDs.open, { name: 'a' }]]);
  });

  it('shows the whole of a long failure: on expand, and behind "more" on a card', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => `Traceback line ${i}`);
    const message = `crashed 3 times:\n${lines.join('\n')}`;
    model.replaceAll([view('long', 'failed', { message })]);
    await waitFor(() => !!panel.node.querySelector('[data-service="long"]'));
    const row = () =>
      panel.node.querySelector('[data-service="long"]') as HTMLElement;
    expect(row().querySelector('.jp-svc-Info')!.textContent).toBe(
      'crashed 3 times:'
    );
    (row().querySelector('.jp-svc-RowHeader') as HTMLElement).click();
    await waitFor(() => !!row().querySelector('.jp-svc-Message'));
    const expanded = row().querySelector('.jp-svc-Message') as HTMLElement;
    expect(expanded.textContent).toBe(message);
    expect(expanded.dataset.clipped).toBe('false');
    expect(row().querySelector('[data-action="more"]')).toBeNull();

    panel.listView = 'detailed';
    await waitFor(() => row().classList.contains('jp-svc-Card'));
    const box = () => row().querySelector('.jp-svc-Message') as HTMLElement;
    expect(box().textContent).toBe(message); // all there, clipped by CSS
    expect(box().dataset.clipped).toBe('true');
    const more = row().querySelector('[data-action="more"]') as HTMLElement;
    expect(more.textContent).toBe('more');
    more.click();
    await waitFor(() => box().dataset.clipped === 'false');
    expect(more.textContent).toBe('less');
    expect(more.getAttribute('aria-expanded')).toBe('true');
    expect(executed).toEqual([]);
  });
});
