import { Widget } from '@lumino/widgets';
import { SvcApi } from '../api';
import { LineBuffer, LogView } from '../logs';
import { findMatches, logFileName, processNews } from '../logtext';
import {
  apiPath,
  fakeServer,
  json,
  StreamController,
  trans,
  waitFor
} from './helpers';

describe('LineBuffer', () => {
  it('joins partial lines and keeps only the last lines', () => {
    const buffer = new LineBuffer(3);
    buffer.push('one\ntw');
    expect(buffer.text).toBe('one\ntw');
    buffer.push('o\nthree\nfour\nfi');
    expect(buffer.text).toBe('two\nthree\nfour\nfi');
    expect(buffer.lineCount).toBe(4);
    buffer.clear();
    expect(buffer.text).toBe('');
  });
});

describe('log text', () => {
  it('reads the latest news of the process from the marker lines', () => {
    const at = '2026-01-01T10:00:00Z';
    const started = `[jupyter-svc] started pid 7 on port 9 at ${at}: python -m app`;
    const exited = `[jupyter-svc] pid 7 killed by SIGTERM at ${at}`;
    expect(processNews(['hello'])).toEqual({ kind: 'unknown' });
    expect(processNews([started, 'serving'])).toEqual({
      kind: 'running',
      pid: 7,
      at
    });
    expect(processNews([started, exited, 'echo [jupyter-svc] pid 1'])).toEqual({
      kind: 'exited',
      pid: 7,
      how: 'killed by SIGTERM',
      at
    });
    // a restart after the exit: running again
    expect(processNews([started, exited, started]).kind).toBe('running');
    // an app on a Unix socket
    expect(
      processNews([
        `[jupyter-svc] started pid 8 on /tmp/svc-1/web.sock at ${at}: panel serve`
      ])
    ).toEqual({ kind: 'running', pid: 8, at });
    expect(
      processNews([
        started,
        `[jupyter-svc] service deleted at ${at}: the log ends here`
      ])
    ).toEqual({ kind: 'deleted', at });
  });

  it('finds every match, whatever the case, and names downloads', () => {
    expect(findMatches('aXa xa', 'xA')).toEqual([
      [1, 3],
      [4, 6]
    ]);
    expect(findMatches('aaaa', 'aa')).toEqual([
      [0, 2],
      [2, 4]
    ]);
    expect(findMatches('abc', '')).toEqual([]);
    expect(logFileName('web', new Date('2026-01-02T03:04:05.678Z'))).toBe(
      'web-2026-01-02T030405Z.log'
    );
  });
});

describe('LogView', () => {
  it('shows the tail, then lines as they come, until the stream ends', async () => {
    const stream = new StreamController();
    const { settings, requests } = fakeServer(
      () => new Response(stream.stream as any)
    );
    const view = new LogView({ api: new SvcApi(settings), name: 'app', trans });
    Widget.attach(view, document.body);
    await waitFor(() => view.state === 'following');
    expect(apiPath(requests[0].url)).toBe('services/app/logs');
    stream.write('old line\n');
    await waitFor(
      () => view.node.querySelector('pre')!.textContent === 'old line\n'
    );
    stream.write('new ');
    stream.write('line\n');
    await waitFor(
      () =>
        view.node.querySelector('pre')!.textContent === 'old line\nnew line\n'
    );
    stream.close();
    await waitFor(() => view.state === 'ended');
    expect(view.node.textContent).toContain('ended');
    view.dispose();
  });

  const STARTED =
    '[jupyter-svc] started pid 41 on port 8000 at 2026-01-01T10:00:00Z: python app.py\n';
  const EXITED =
    '[jupyter-svc] pid 41 exited with code 3 at 2026-01-01T10:00:05Z\n';
  const DELETED =
    '[jupyter-svc] service deleted at 2026-01-01T10:01:00Z: the log ends here\n';

  /** A log stream for `app`, and GET services/app answering `serviceStatus`. */
  const following = async (serviceStatus = 200) => {
    const stream = new StreamController();
    const { settings } = fakeServer(request =>
      apiPath(request.url) === 'services/app/logs'
        ? new Response(stream.stream as any)
        : json({ message: 'no service app' }, serviceStatus)
    );
    const view = new LogView({ api: new SvcApi(settings), name: 'app', trans });
    Widget.attach(view, document.body);
    await waitFor(() => view.state === 'following');
    const status = () =>
      view.node.querySelector('.jp-svc-LogStatus')!.textContent ?? '';
    return { stream, view, status };
  };

  it('says that the process exited, and that the follow ended with the service deleted', async () => {
    const { stream, view, status } = await following();
    stream.write(STARTED + 'serving\n');
    await waitFor(() => status().includes('pid 41, started at'));
    stream.write('Traceback: boom\n' + EXITED);
    await waitFor(() => view.node.dataset.process === 'exited');
    expect(status()).toMatch(
      /^Following the log of app: its process \(pid 41\) exited with code 3 at /
    );
    stream.write(DELETED);
    stream.close();
    await waitFor(() => view.state === 'ended');
    expect(status()).toMatch(
      /^Stream ended: service deleted \(app, at .+\)\.$/
    );
    expect(view.node.dataset.ended).toBe('deleted');
    view.dispose();
  });

  it('tells a deleted service (404) from a stream the server closed', async () => {
    const gone = await following(404);
    gone.stream.close();
    await waitFor(() => gone.view.state === 'ended');
    expect(gone.status()).toMatch(/^Stream ended: service deleted/);
    gone.view.dispose();

    const alive = await following(200);
    alive.stream.write(STARTED + EXITED);
    alive.stream.close();
    await waitFor(() => alive.view.state === 'ended');
    expect(alive.status()).toMatch(/^Stream ended at .+ follows it again\./);
    expect(alive.status()).toContain('exited with code 3');
    expect(alive.view.node.dataset.ended).toBe('');
    alive.view.dispose();
  });

  it('highlights what is searched, goes round the matches, wraps and downloads', async () => {
    const { stream, view } = await following();
    stream.write('GET / 200\nGET /x 404\npost / 200\nget /y 200\n');
    await waitFor(() => view.text.split('\n').length === 5);
    const box = view.node.querySelector(
      '.jp-svc-LogSearch'
    ) as HTMLInputElement;
    box.value = 'get';
    box.dispatchEvent(new Event('input'));
    const marks = () => [...view.node.querySelectorAll('mark.jp-svc-LogMatch')];
    const current = () =>
      marks().findIndex(m => m.classList.contains('jp-mod-current'));
    const count = () =>
      view.node.querySelector('.jp-svc-LogCount')!.textContent;
    expect(marks().map(m => m.textContent)).toEqual(['GET', 'GET', 'get']);
    expect([current(), count()]).toEqual([0, '1/3']);
    // the text itself is unchanged by the highlights
    expect(view.node.querySelector('pre')!.textContent).toBe(view.text);
    const click = (action: string) =>
      (
        view.node.querySelector(`[data-action="${action}"]`) as HTMLElement
      ).click();
    click('next');
    expect([current(), count()]).toEqual([1, '2/3']);
    box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(current()).toBe(2);
    click('next'); // round the end
    expect(current()).toBe(0);
    click('prev');
    expect([current(), count()]).toEqual([2, '3/3']);
    box.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', shiftKey: true })
    );
    expect(current()).toBe(1);
    // new lines keep the search
    stream.write('GET /z 200\n');
    await waitFor(() => marks().length === 4);
    box.value = 'nothing';
    box.dispatchEvent(new Event('input'));
    expect([marks().length, count()]).toEqual([0, 'no match']);

    const pre = view.node.querySelector('pre')!;
    expect(pre.classList).toContain('jp-mod-wrap');
    click('wrap');
    expect(pre.classList).not.toContain('jp-mod-wrap');

    // jsdom has no object URLs: these two stand in for the browser's (the e2e test downloads for real)
    const blobs: Blob[] = [];
    const saved: string[] = [];
    URL.createObjectURL = (blob: Blob) => {
      blobs.push(blob);
      return 'blob:log';
    };
    URL.revokeObjectURL = () => undefined;
    const clickLink = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      saved.push(this.download);
    };
    try {
      click('download');
    } finally {
      HTMLAnchorElement.prototype.click = clickLink;
    }
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatch(/^app-\d{4}-\d\d-\d\dT\d{6}Z\.log$/);
    const read = await new Promise<unknown>(resolve => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.readAsText(blobs[0]);
    });
    expect(read).toBe(view.text);
    view.dispose();
  });

  it('says why it cannot read the log', async () => {
    const { settings } = fakeServer(() =>
      json({ message: 'no service named ghost' }, 404)
    );
    const view = new LogView({
      api: new SvcApi(settings),
      name: 'ghost',
      trans
    });
    Widget.attach(view, document.body);
    await waitFor(() => view.state === 'error');
    expect(view.node.querySelector('.jp-svc-LogStatus')!.textContent).toContain(
      'no service named ghost'
    );
    view.dispose();
  });
});
