/**
 * What the log viewer reads in a log's text: its last lines, the server's marker lines (a
 * process started, ended; the service was deleted), and the matches of a search.
 */

/** Keeps the last `maxLines` complete lines of a text stream, plus the unfinished one. */
export class LineBuffer {
  constructor(readonly maxLines = 5000) {}

  push(text: string): void {
    const parts = (this._partial + text).split('\n');
    this._partial = parts.pop() ?? '';
    this._lines.push(...parts);
    if (this._lines.length > this.maxLines) {
      this._lines.splice(0, this._lines.length - this.maxLines);
    }
  }

  get text(): string {
    return (
      this._lines.join('\n') + (this._lines.length ? '\n' : '') + this._partial
    );
  }

  /** The complete lines held. */
  get lines(): readonly string[] {
    return this._lines;
  }

  get lineCount(): number {
    return this._lines.length + (this._partial ? 1 : 0);
  }

  clear(): void {
    this._lines = [];
    this._partial = '';
  }

  private _lines: string[] = [];
  private _partial = '';
}

/** What the marker lines say of the service's process, the last one that counts. */
export type ProcessNews =
  | { kind: 'unknown' }
  | { kind: 'running'; pid: number; at: string }
  | { kind: 'exited'; pid: number; how: string; at: string }
  | { kind: 'deleted'; at: string };

// the server's marker lines (jupyter_svc/backends/local/logs.py)
const TIME = '(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ)';
const STARTED = new RegExp(
  `^\\[jupyter-svc\\] started pid (\\d+) on .+? at ${TIME}: `
);
const EXITED = new RegExp(
  `^\\[jupyter-svc\\] pid (\\d+) ((?:exited with code|killed by) \\S+) at ${TIME}$`
);
const DELETED = new RegExp(`^\\[jupyter-svc\\] service deleted at ${TIME}: `);

/** The latest news of the process in `lines` (read from the end: the last marker wins). */
export function processNews(lines: readonly string[]): ProcessNews {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (!line.startsWith('[jupyter-svc] ')) {
      continue;
    }
    let m = DELETED.exec(line);
    if (m) {
      return { kind: 'deleted', at: m[1] };
    }
    m = EXITED.exec(line);
    if (m) {
      return { kind: 'exited', pid: Number(m[1]), how: m[2], at: m[3] };
    }
    m = STARTED.exec(line);
    if (m) {
      return { kind: 'running', pid: Number(m[1]), at: m[2] };
    }
  }
  return { kind: 'unknown' };
}

/** "09:03:10" in the browser's time zone for a marker's UTC time (the text itself if unreadable). */
export function localTime(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toLocaleTimeString();
}

/** Where `query` occurs in `text`, case-insensitively: [start, end) offsets, in order. */
export function findMatches(text: string, query: string): [number, number][] {
  if (!query) {
    return [];
  }
  const haystack = text.toLowerCase();
  const needle = query.toLowerCase();
  const out: [number, number][] = [];
  for (
    let at = haystack.indexOf(needle);
    at >= 0;
    at = haystack.indexOf(needle, at + needle.length)
  ) {
    out.push([at, at + needle.length]);
  }
  return out;
}

/** The file name a download of `service`'s log gets: `<service>-<UTC time>.log`. */
export function logFileName(service: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '');
  return `${service}-${stamp}.log`;
}
