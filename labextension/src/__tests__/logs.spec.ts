import { Widget } from '@lumino/widgets';
import { SvcApi } from '../api';
import { LineBuffer, LogView } from '../logs';
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
