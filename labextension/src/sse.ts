/**
 * A server-sent events parser (the text/event-stream format of the HTML standard) for streams
 * read with fetch: the panel reads `svc/api/events` through ServerConnection.makeRequest so
 * that it authenticates exactly like every other request (token header, cookies), which
 * EventSource cannot do.
 */

export interface ISseEvent {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  constructor(private readonly onEvent: (event: ISseEvent) => void) {}

  /** Feed the next decoded chunk; complete events are dispatched as they end. */
  push(chunk: string): void {
    this._buffer += chunk;
    // lines end with CRLF, LF or CR; keep an incomplete last line (and a lone trailing CR)
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this._buffer);
      if (!match) {
        break;
      }
      if (match[0] === '\r' && match.index === this._buffer.length - 1) {
        break; // may be the first half of a CRLF split across chunks
      }
      const line = this._buffer.slice(0, match.index);
      this._buffer = this._buffer.slice(match.index + match[0].length);
      this._line(line);
    }
  }

  private _line(line: string): void {
    if (line === '') {
      this._dispatch();
      return;
    }
    if (line.startsWith(':')) {
      return; // a comment (keep-alive)
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this._event = value;
        break;
      case 'data':
        this._data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) {
          this._id = value;
        }
        break;
      default:
        break; // 'retry' and unknown fields are ignored
    }
  }

  private _dispatch(): void {
    if (this._data.length > 0) {
      this.onEvent({
        event: this._event || 'message',
        data: this._data.join('\n'),
        id: this._id
      });
    }
    this._event = '';
    this._data = [];
  }

  private _buffer = '';
  private _event = '';
  private _data: string[] = [];
  private _id: string | undefined = undefined;
}

/**
 * Read a fetch Response body as text, chunk by chunk, until it ends or `signal` aborts.
 * Resolves when the stream ends; rejects on a network error (but not on abort).
 */
export async function readText(
  response: Response,
  onText: (text: string) => void,
  signal?: AbortSignal
): Promise<void> {
  if (!response.body) {
    onText(await response.text());
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const cancel = () => {
    void reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        const rest = decoder.decode();
        if (rest) {
          onText(rest);
        }
        return;
      }
      onText(decoder.decode(value, { stream: true }));
    }
  } catch (error) {
    if (signal?.aborted) {
      return;
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}
