import { ISseEvent, readText, SseParser } from '../sse';
import { ReadableStream as NodeReadableStream } from 'stream/web';
import { StreamController } from './helpers';

describe('SseParser', () => {
  const collect = () => {
    const events: ISseEvent[] = [];
    const parser = new SseParser(e => events.push(e));
    return { events, parser };
  };

  it('dispatches named events with their data', () => {
    const { events, parser } = collect();
    parser.push(
      'event: service\ndata: {"name":"a"}\n\nevent: deleted\ndata: {"name":"b"}\n\n'
    );
    expect(events).toEqual([
      { event: 'service', data: '{"name":"a"}', id: undefined },
      { event: 'deleted', data: '{"name":"b"}', id: undefined }
    ]);
  });

  it('joins events split across chunks, anywhere, including inside CRLF', () => {
    const { events, parser } = collect();
    const text = 'event: service\r\ndata: {"name":\r\ndata: "x"}\r\n\r\n';
    for (const ch of text) {
      parser.push(ch);
    }
    expect(events).toEqual([
      { event: 'service', data: '{"name":\n"x"}', id: undefined }
    ]);
  });

  it('ignores comments (keep-alives), unknown fields and events without data', () => {
    const { events, parser } = collect();
    parser.push(': keepalive\n\nretry: 100\nfoo: bar\n\nevent: lonely\n\n');
    expect(events).toEqual([]);
  });

  it('defaults the event name to message and keeps the last id', () => {
    const { events, parser } = collect();
    parser.push('id: 7\ndata:no-space\n\n');
    expect(events).toEqual([{ event: 'message', data: 'no-space', id: '7' }]);
  });

  it('does not dispatch an event until its blank line arrives', () => {
    const { events, parser } = collect();
    parser.push('event: service\ndata: 1\n');
    expect(events).toHaveLength(0);
    parser.push('\n');
    expect(events).toHaveLength(1);
  });
});

describe('readText', () => {
  it('decodes chunks as they arrive, multi-byte characters split across chunks included', async () => {
    const bytes = new TextEncoder().encode('héllo ✓\n');
    // split inside the 2-byte é and inside the 3-byte check mark
    const chunks = [bytes.slice(0, 2), bytes.slice(2, 8), bytes.slice(8)];
    const body = new NodeReadableStream<Uint8Array>({
      start(c) {
        for (const chunk of chunks) {
          c.enqueue(chunk);
        }
        c.close();
      }
    });
    const parts: string[] = [];
    await readText(new Response(body as any), t => parts.push(t));
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.join('')).toBe('héllo ✓\n');
  });

  it('returns quietly when aborted and rejects when the stream fails', async () => {
    const s1 = new StreamController();
    const abort = new AbortController();
    const got: string[] = [];
    const p1 = readText(
      new Response(s1.stream as any),
      t => got.push(t),
      abort.signal
    );
    s1.write('a');
    await new Promise(r => setTimeout(r, 10));
    abort.abort();
    await expect(p1).resolves.toBeUndefined();
    expect(got).toEqual(['a']);

    const s2 = new StreamController();
    const p2 = readText(new Response(s2.stream as any), () => undefined);
    s2.fail(new Error('boom'));
    await expect(p2).rejects.toThrow('boom');
  });
});
