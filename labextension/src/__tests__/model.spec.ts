import { SvcApi } from '../api';
import { ServicesModel } from '../model';
import {
  apiPath,
  fakeServer,
  json,
  StreamController,
  view,
  waitFor
} from './helpers';

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

describe('ServicesModel', () => {
  let model: ServicesModel | null = null;
  afterEach(() => {
    model?.dispose();
    model = null;
  });

  /** A model following a live event stream (of no services at first) that the test writes. */
  const followLive = async () => {
    const stream = new StreamController();
    const { settings } = fakeServer(r =>
      apiPath(r.url) === 'events'
        ? new Response(stream.stream as any)
        : json({ services: [] })
    );
    model = new ServicesModel({ api: new SvcApi(settings), pollInterval: 10 });
    model.start();
    const live = model;
    await waitFor(() => live.mode === 'live');
    return { live, stream };
  };

  it('follows the event stream: new services, changes and deletions, without polling', async () => {
    const stream = new StreamController();
    const { settings, requests } = fakeServer(r => {
      const path = apiPath(r.url);
      if (path === 'events') {
        return new Response(stream.stream as any, {
          headers: { 'Content-Type': 'text/event-stream' }
        });
      }
      return json({ services: [] });
    });
    model = new ServicesModel({ api: new SvcApi(settings), pollInterval: 10 });
    const names: string[][] = [];
    model.changed.connect(m =>
      names.push(m.services.map(s => `${s.name}:${s.status.state}`))
    );
    model.start();
    await waitFor(() => model!.mode === 'live');

    stream.write(sse('service', view('b', 'starting')));
    stream.write(sse('service', view('a', 'ready')));
    await waitFor(() => model!.services.length === 2);
    expect(model.services.map(s => s.name)).toEqual(['a', 'b']);

    stream.write(sse('service', view('b', 'ready')));
    await waitFor(() => model!.get('b')?.status.state === 'ready');

    const deleted: string[] = [];
    model.deleted.connect((_, name) => deleted.push(name));
    stream.write(sse('deleted', { name: 'a' }));
    await waitFor(() => model!.services.length === 1);
    expect(deleted).toEqual(['a']);
    // one full load when the stream opened, no polling while it is up
    await new Promise(r => setTimeout(r, 50));
    expect(requests.filter(r => apiPath(r.url) === 'services').length).toBe(1);
    expect(requests[0].headers.get('Authorization')).toBe('token secret');
  });

  it('falls back to polling when the event stream is not there, and back when it returns', async () => {
    let eventsUp = false;
    let services = [view('a', 'starting')];
    const stream = new StreamController();
    const { settings } = fakeServer(r => {
      const path = apiPath(r.url);
      if (path === 'events') {
        return eventsUp
          ? new Response(stream.stream as any)
          : json({ message: 'Not Found' }, 404);
      }
      return json({ services });
    });
    model = new ServicesModel({
      api: new SvcApi(settings),
      pollInterval: 10,
      reconnectDelay: 50
    });
    model.start();
    await waitFor(
      () => model!.mode === 'polling' && model!.services.length === 1
    );
    services = [view('a', 'ready'), view('c', 'pending')];
    await waitFor(
      () =>
        model!.services.length === 2 &&
        model!.get('a')?.status.state === 'ready'
    );
    services = [view('c', 'ready')];
    await waitFor(
      () => model!.services.length === 1 && model!.get('a') === undefined
    );

    eventsUp = true;
    await waitFor(() => model!.mode === 'live', 3000);
    stream.write(sse('service', view('d')));
    await waitFor(() => model!.get('d') !== undefined);
  });

  it('reports offline while the server cannot be reached', async () => {
    const { settings } = fakeServer(() => {
      throw new TypeError('Failed to fetch');
    });
    model = new ServicesModel({
      api: new SvcApi(settings),
      pollInterval: 10,
      reconnectDelay: 1000
    });
    model.start();
    await waitFor(() => model!.mode === 'offline');
    expect(model.error).toContain('Failed to fetch');
  });

  it('lets live events win over answers that cross them', async () => {
    const { live, stream } = await followLive();
    stream.write(sse('service', view('a', 'stopping', { revision: 3 })));
    await waitFor(() => live.get('a')?.status.state === 'stopping');
    // the answer to "restart", computed before the stop began, arrives after the event
    live.applyAnswer(view('a', 'ready', { revision: 2 }));
    expect(live.get('a')?.status.state).toBe('stopping');
    // a service the stream has not shown yet is taken from the answer
    live.applyAnswer(view('new', 'pending'));
    expect(live.get('new')?.status.state).toBe('pending');
  });

  it('orders events by status.revision, per service', async () => {
    const { live, stream } = await followLive();
    const changes: string[] = [];
    live.changed.connect(m =>
      changes.push(m.services.map(s => `${s.name}:${s.status.state}`).join())
    );
    stream.write(sse('service', view('a', 'starting', { revision: 4 })));
    stream.write(sse('service', view('a', 'ready', { revision: 5 })));
    // a late event with an older revision: ignored, no change signalled
    stream.write(sse('service', view('a', 'starting', { revision: 4 })));
    // the same revision again is taken (the same status, as a reconnect resends it)
    stream.write(sse('service', view('a', 'ready', { revision: 5 })));
    // revisions are counted per service: another one's lower number is not older
    stream.write(sse('service', view('b', 'pending', { revision: 1 })));
    stream.write(sse('service', view('a', 'stopping', { revision: 6 })));
    await waitFor(() => live.get('a')?.status.state === 'stopping');
    expect(changes).toEqual([
      'a:starting',
      'a:ready',
      'a:ready',
      'a:ready,b:pending',
      'a:stopping,b:pending'
    ]);
  });

  it('applies a new poll interval and reconnect delay at once', async () => {
    let eventsUp = false;
    let polls = 0;
    const stream = new StreamController();
    const { settings } = fakeServer(r => {
      if (apiPath(r.url) === 'events') {
        return eventsUp
          ? new Response(stream.stream as any)
          : json({ message: 'Not Found' }, 404);
      }
      polls += 1;
      return json({ services: [] });
    });
    model = new ServicesModel({
      api: new SvcApi(settings),
      pollInterval: 60_000,
      reconnectDelay: 60_000
    });
    model.start();
    await waitFor(() => model!.mode === 'polling' && polls === 1);
    // the next poll was a minute away: it is rescheduled with the new interval
    model.pollInterval = 10;
    expect(model.pollInterval).toBe(10);
    await waitFor(() => polls >= 3);
    // so was the next try of the event stream
    eventsUp = true;
    model.reconnectDelay = 20;
    await waitFor(() => model!.mode === 'live');
  });

  it('takes answers as they come while polling', () => {
    const { settings } = fakeServer(() => json({ services: [] }));
    model = new ServicesModel({ api: new SvcApi(settings) });
    model.upsert(view('a', 'stopping'));
    model.applyAnswer(view('a', 'ready'));
    expect(model.get('a')?.status.state).toBe('ready');
  });

  it('never goes back to an older spec generation', () => {
    const { settings } = fakeServer(() => json({ services: [] }));
    model = new ServicesModel({ api: new SvcApi(settings) });
    model.upsert(view('a', 'starting', { generation: 2 }));
    model.upsert(view('a', 'ready', { generation: 1 }));
    expect(model.get('a')?.status.state).toBe('starting');
    model.upsert(view('a', 'ready', { generation: 2 }));
    expect(model.get('a')?.status.state).toBe('ready');
  });

  it('ignores events it does not understand', () => {
    const { settings } = fakeServer(() => json({ services: [] }));
    model = new ServicesModel({ api: new SvcApi(settings) });
    model.handleEvent({ event: 'service', data: 'not json' });
    model.handleEvent({ event: 'service', data: '{"name": "x"}' });
    model.handleEvent({ event: 'other', data: JSON.stringify(view('y')) });
    expect(model.services).toEqual([]);
  });

  it('tells when a known service fails, once, and not for failures it found on loading', () => {
    const { settings } = fakeServer(() => json({ services: [] }));
    const m = new ServicesModel({ api: new SvcApi(settings) });
    const failed: string[] = [];
    m.failed.connect((_, v) => void failed.push(v.name));
    m.replaceAll([view('old', 'failed'), view('app', 'starting')]);
    expect(failed).toEqual([]);
    m.upsert(view('app', 'failed', { revision: 2, message: 'exit 1' }));
    m.upsert(view('app', 'failed', { revision: 3 }));
    expect(failed).toEqual(['app']);
    m.replaceAll([
      view('old', 'failed'),
      view('app', 'ready', { revision: 4 })
    ]);
    m.replaceAll([
      view('old', 'failed'),
      view('app', 'failed', { revision: 5 })
    ]);
    expect(failed).toEqual(['app', 'app']);
    m.dispose();
  });
});
