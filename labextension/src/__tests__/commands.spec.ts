/**
 * The commands and the tabs they open, with JupyterLab's own shell, command registry, widget
 * trackers, layout restorer and state database. The whole application cannot start in jest:
 * `app` is the two parts of it the commands use (commands, shell), and the server is the fake
 * of helpers.ts. The real reload is tests/test_labextension_e2e.py's.
 */

import {
  JupyterFrontEnd,
  LabShell,
  LayoutRestorer
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { StateDB } from '@jupyterlab/statedb';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { PromiseDelegate } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import { SvcApi } from '../api';
import { APP_SANDBOX, AppFrame, type OpenIn } from '../apps';
import { addCommands } from '../commands';
import { ServicesModel } from '../model';
import { createTrackers, restoreTabs } from '../tabs';
import { CommandIDs } from '../tokens';
import specSchema from '../generated/service-spec.schema.json';
import {
  apiPath,
  fakeServer,
  json,
  StreamController,
  view,
  waitFor
} from './helpers';

/** One JupyterLab page: what a reload throws away, except the state database. */
function page(
  settings: ServerConnection.ISettings,
  state: StateDB,
  openIn: { value: OpenIn } = { value: 'tab' }
) {
  const commands = new CommandRegistry();
  const shell = new LabShell();
  Widget.attach(shell, document.body);
  const model = new ServicesModel({ api: new SvcApi(settings) });
  const trackers = createTrackers();
  addCommands(
    { commands, shell } as unknown as JupyterFrontEnd,
    model,
    nullTranslator,
    trackers,
    () => openIn.value
  );
  const started = new PromiseDelegate<void>();
  const restorer = new LayoutRestorer({
    connector: state,
    first: started.promise,
    registry: commands
  });
  const restored = restoreTabs(restorer, trackers);
  /** What JupyterLab does once its plugins are activated: restore the tabs, then lay out. */
  const start = async () => {
    started.resolve();
    await restored;
    await shell.restoreLayout('multiple-document', restorer);
  };
  const mainArea = () => Array.from(shell.widgets('main'));
  const close = () => {
    if (shell.isAttached) {
      Widget.detach(shell);
    }
    shell.dispose();
    model.dispose();
  };
  return { commands, shell, model, trackers, start, mainArea, close };
}

/** A server with the services `alive`; logs stream until the test ends. */
function server(alive: Set<string>) {
  const streams: StreamController[] = [];
  const fake = fakeServer(r => {
    const path = apiPath(r.url);
    const name = decodeURIComponent(path.split('/')[1] ?? '');
    if (path === 'schema') {
      return json(specSchema);
    }
    if (path.startsWith('services/') && !alive.has(name)) {
      return json({ message: `no service named '${name}'` }, 404);
    }
    if (path.endsWith('/logs')) {
      const stream = new StreamController();
      streams.push(stream);
      stream.write(`log of ${name}\n`);
      return new Response(stream.stream as any);
    }
    if (path.startsWith('services/')) {
      return json(view(name));
    }
    return json({ services: [...alive].map(n => view(n)) });
  });
  const end = () => {
    for (const stream of streams) {
      try {
        stream.close();
      } catch {
        // a closed tab cancelled it already
      }
    }
  };
  return { ...fake, end };
}

describe('commands', () => {
  const pages: { close: () => void }[] = [];
  afterEach(() => {
    pages.splice(0).forEach(p => p.close());
    Notification.dismiss();
  });

  it('registers every command with a description of its arguments', async () => {
    const { settings } = server(new Set());
    const lab = page(settings, new StateDB());
    pages.push(lab);
    for (const id of Object.values(CommandIDs)) {
      expect(lab.commands.hasCommand(id)).toBe(true);
      const described = await lab.commands.describedBy(id);
      expect([id, typeof described.args]).toEqual([id, 'object']);
    }
  });

  it('opens one logs tab per service, and one form per service', async () => {
    const srv = server(new Set(['app', 'other']));
    const lab = page(srv.settings, new StateDB());
    pages.push(lab);
    await lab.start();
    const logs = await lab.commands.execute(CommandIDs.logs, { name: 'app' });
    expect(lab.mainArea().length).toBe(1);
    expect(lab.mainArea()[0]).toBe(logs);
    expect(lab.trackers.logs.has(logs)).toBe(true);
    await waitFor(() => logs.content.text === 'log of app\n');
    expect(await lab.commands.execute(CommandIDs.logs, { name: 'app' })).toBe(
      logs
    );
    // two quick clicks open one tab
    const [first, second] = await Promise.all([
      lab.commands.execute(CommandIDs.logs, { name: 'other' }),
      lab.commands.execute(CommandIDs.logs, { name: 'other' })
    ]);
    expect(second).toBe(first);
    expect(lab.trackers.logs.size).toBe(2);

    const form = await lab.commands.execute(CommandIDs.edit, { name: 'app' });
    expect(form.content.serviceName).toBe('app');
    expect(await lab.commands.execute(CommandIDs.edit, { name: 'app' })).toBe(
      form
    );
    const [blank, again] = await Promise.all([
      lab.commands.execute(CommandIDs.create),
      lab.commands.execute(CommandIDs.create)
    ]);
    expect(again).toBe(blank);
    expect(blank.content.serviceName).toBeNull();
    expect(lab.trackers.forms.size).toBe(2);
    expect(lab.mainArea().length).toBe(4);
    srv.end();
  });

  it('reopens the logs and edit tabs after a reload, by service name', async () => {
    const alive = new Set(['app', 'web', 'ghost']);
    const srv = server(alive);
    const state = new StateDB();
    const before = page(srv.settings, state);
    pages.push(before);
    await before.start();
    await before.commands.execute(CommandIDs.logs, { name: 'app' });
    await before.commands.execute(CommandIDs.logs, { name: 'web' });
    await before.commands.execute(CommandIDs.edit, { name: 'web' });
    await before.commands.execute(CommandIDs.edit, { name: 'ghost' });
    await before.commands.execute(CommandIDs.create); // a new service's form: not reopened
    const closed = await before.commands.execute(CommandIDs.logs, {
      name: 'ghost'
    });
    await waitFor(() => closed.content.state === 'following');
    closed.close(); // a closed tab stays closed
    await waitFor(() => before.trackers.forms.size === 3);
    const saved = async (namespace: string) =>
      (await state.list(namespace)).ids.sort();
    await waitFor(() => before.trackers.logs.size === 2);
    expect(await saved('jupyter-svc-logs')).toEqual([
      'jupyter-svc-logs:app',
      'jupyter-svc-logs:web'
    ]);
    expect(await saved('jupyter-svc-form')).toEqual([
      'jupyter-svc-form:ghost',
      'jupyter-svc-form:web'
    ]);
    before.close();

    // the reload: ghost was deleted meanwhile
    alive.delete('ghost');
    const after = page(srv.settings, state);
    pages.push(after);
    await after.start();
    const names = (widgets: Widget[]) =>
      widgets
        .map(w => (w as any).content.name ?? (w as any).content.serviceName)
        .sort();
    expect(names([...after.trackers.logs.filter(() => true)])).toEqual([
      'app',
      'web'
    ]);
    expect(names([...after.trackers.forms.filter(() => true)])).toEqual([
      'web'
    ]);
    expect(after.mainArea().length).toBe(3);
    // the tab of a service that is gone is forgotten, without an error to the user
    expect(await saved('jupyter-svc-form')).toEqual(['jupyter-svc-form:web']);
    expect(
      Notification.manager.notifications.filter(n => n.type === 'error')
    ).toEqual([]);
    srv.end();
  });

  it('opens a service where the openIn setting says, and both ways by their commands', async () => {
    const srv = server(new Set(['app']));
    const openIn: { value: OpenIn } = { value: 'tab' };
    const state = new StateDB();
    const lab = page(srv.settings, state, openIn);
    pages.push(lab);
    await lab.start();
    lab.model.replaceAll([view('app', 'ready')]);
    // jsdom opens no windows: this records what a browser would open
    const opened: unknown[][] = [];
    const open = window.open;
    window.open = (...args: unknown[]) => {
      opened.push(args);
      return null;
    };
    try {
      await lab.commands.execute(CommandIDs.open, { name: 'app' });
      expect(opened).toEqual([
        ['http://lab.test/svc/app/', '_blank', 'noopener']
      ]);
      expect(lab.mainArea()).toHaveLength(0);

      openIn.value = 'jupyterlab';
      const tab = await lab.commands.execute(CommandIDs.open, { name: 'app' });
      expect(lab.mainArea()).toEqual([tab]);
      expect(tab.title.label).toBe('app');
      expect(tab.content).toBeInstanceOf(AppFrame);
      const frame = tab.node.querySelector('iframe') as HTMLIFrameElement;
      expect(frame.src).toBe('http://lab.test/svc/app/');
      expect(frame.getAttribute('sandbox')!.split(' ').sort()).toEqual(
        [...APP_SANDBOX].sort()
      );
      for (const flag of [
        'allow-scripts',
        'allow-same-origin',
        'allow-forms',
        'allow-popups'
      ]) {
        expect(APP_SANDBOX).toContain(flag);
      }
      expect([...tab.toolbar.names()]).toEqual(
        expect.arrayContaining(['reload', 'open-tab'])
      );
      frame.src = 'http://lab.test/svc/app/elsewhere';
      tab.content.reload(); // the toolbar's reload: back to the app's URL
      expect(frame.src).toBe('http://lab.test/svc/app/');
      // one tab per service, whichever command opens it
      expect(
        await lab.commands.execute(CommandIDs.openInLab, { name: 'app' })
      ).toBe(tab);
      // the other way stays a command away, whatever the setting
      await lab.commands.execute(CommandIDs.openTab, { name: 'app' });
      expect(opened).toHaveLength(2);
      expect(lab.commands.label(CommandIDs.openInLab, { name: 'app' })).toBe(
        'Open app in JupyterLab'
      );
      expect(lab.commands.label(CommandIDs.openTab, { name: 'app' })).toBe(
        'Open app in a Browser Tab'
      );
    } finally {
      window.open = open;
    }
    // the app tab comes back after a reload; a deleted service's tab closes
    const saved = async () => (await state.list('jupyter-svc-app')).ids;
    let ids: string[] = [];
    for (let i = 0; i < 100 && !ids.length; i++) {
      ids = await saved();
      await new Promise(r => setTimeout(r, 10));
    }
    expect(ids).toEqual(['jupyter-svc-app:app']);
    lab.close();
    const after = page(srv.settings, state, openIn);
    pages.push(after);
    await after.start();
    expect(after.trackers.apps.size).toBe(1);
    after.model.replaceAll([view('app', 'ready')]);
    after.model.remove('app');
    await waitFor(() => after.trackers.apps.size === 0);
    srv.end();
  });

  it('tells the user when a service to edit is not there', async () => {
    const { settings } = server(new Set());
    const lab = page(settings, new StateDB());
    pages.push(lab);
    await lab.start();
    expect(
      await lab.commands.execute(CommandIDs.edit, { name: 'ghost' })
    ).toBeUndefined();
    const errors = Notification.manager.notifications.filter(
      n => n.type === 'error'
    );
    expect(errors.map(n => n.message)).toEqual([
      "Edit ghost: no service named 'ghost'"
    ]);
    expect(lab.mainArea().length).toBe(0);
  });

  it('notifies a failure with its reason and a Logs action', async () => {
    const srv = server(new Set(['app']));
    const lab = page(srv.settings, new StateDB());
    pages.push(lab);
    await lab.start();
    lab.model.replaceAll([view('app', 'ready')]);
    lab.model.upsert(
      view('app', 'failed', {
        revision: 2,
        message: 'exit 1: no module named app'
      })
    );
    const errors = Notification.manager.notifications.filter(
      n => n.type === 'error'
    );
    expect(errors.map(n => n.message)).toEqual([
      'app failed: exit 1: no module named app'
    ]);
    const [logs] = errors[0].options.actions!;
    expect(logs.label).toBe('Logs');
    logs.callback(new MouseEvent('click'));
    await waitFor(() => lab.trackers.logs.size === 1);
    srv.end();
  });
});
