/**
 * The client-side list of services, kept live: server-sent events from svc/api/events, and
 * polling of svc/api/services while the event stream is unavailable.
 */

import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { SvcApi } from './api';
import { ISseEvent, readText, SseParser } from './sse';
import type { IServiceView } from './types';

export type ConnectionMode = 'connecting' | 'live' | 'polling' | 'offline';

/** Milliseconds between polls while the event stream is down, unless configured. */
export const DEFAULT_POLL_INTERVAL = 3000;
/** Milliseconds before a failed event stream is tried again, unless configured. */
export const DEFAULT_RECONNECT_DELAY = 10000;
/** Milliseconds before an event stream that ended (it was open) is tried again. */
const RECONNECT_AFTER_END = 1000;

export interface IServicesModelOptions {
  api: SvcApi;
  /** Milliseconds between polls while the event stream is down. */
  pollInterval?: number;
  /** Milliseconds before the event stream is tried again after it failed. */
  reconnectDelay?: number;
}

/** Natural order of names: s1, s2, s10 (not s1, s10, s2). */
const NAME_ORDER = new Intl.Collator(undefined, { numeric: true });

/** A service known before, not failed then, failed now. */
function isNewFailure(
  before: IServiceView | undefined,
  now: IServiceView
): boolean {
  return (
    before !== undefined &&
    before.status.state !== 'failed' &&
    now.status.state === 'failed'
  );
}

export class ServicesModel implements IDisposable {
  constructor(options: IServicesModelOptions) {
    this.api = options.api;
    this._pollInterval = options.pollInterval ?? DEFAULT_POLL_INTERVAL;
    this._reconnectDelay = options.reconnectDelay ?? DEFAULT_RECONNECT_DELAY;
  }

  readonly api: SvcApi;

  /** Milliseconds between polls while the event stream is down; a pending poll is rescheduled. */
  get pollInterval(): number {
    return this._pollInterval;
  }

  set pollInterval(ms: number) {
    this._pollInterval = ms;
    if (this._pollTimer !== null) {
      clearTimeout(this._pollTimer);
      this._schedulePoll(ms);
    }
  }

  /** Milliseconds before a failed event stream is tried again; a pending wait restarts. */
  get reconnectDelay(): number {
    return this._reconnectDelay;
  }

  set reconnectDelay(ms: number) {
    this._reconnectDelay = ms;
    const wait = this._reconnect;
    if (wait?.afterFailure && this._reconnectTimer !== null) {
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = setTimeout(wait.resolve, ms);
    }
  }

  /** Emitted whenever the list or a service changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted with a service that just failed (it was known, and not failed, before). */
  get failed(): ISignal<this, IServiceView> {
    return this._failed;
  }

  /** Emitted with the name of a service that was deleted. */
  get deleted(): ISignal<this, string> {
    return this._deleted;
  }

  get modeChanged(): ISignal<this, ConnectionMode> {
    return this._modeChanged;
  }

  get mode(): ConnectionMode {
    return this._mode;
  }

  /** Services sorted by name, numbers in names by value (s2 before s10). */
  get services(): IServiceView[] {
    return [...this._services.values()].sort((a, b) =>
      NAME_ORDER.compare(a.name, b.name)
    );
  }

  get(name: string): IServiceView | undefined {
    return this._services.get(name);
  }

  /** The last error from the server, if the list could not be loaded. */
  get error(): string {
    return this._error;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Start following the server: the event stream, polling while it is down. */
  start(): void {
    if (this._started || this._disposed) {
      return;
    }
    this._started = true;
    void this._connect();
  }

  /** Load the whole list once (also used by polling). */
  async refresh(): Promise<void> {
    try {
      const views = await this.api.list();
      this._error = '';
      this.replaceAll(views);
    } catch (error) {
      this._error = (error as Error).message || String(error);
      this._changed.emit();
      throw error;
    }
  }

  /** Replace the whole list (what a poll or a fresh event stream reports). */
  replaceAll(views: IServiceView[]): void {
    const names = new Set(views.map(v => v.name));
    for (const name of [...this._services.keys()]) {
      if (!names.has(name)) {
        this._services.delete(name);
        this._deleted.emit(name);
      }
    }
    const failures = views.filter(v =>
      isNewFailure(this._services.get(v.name), v)
    );
    for (const view of views) {
      this._services.set(view.name, view);
    }
    this._changed.emit();
    failures.forEach(v => this._failed.emit(v));
  }

  /**
   * Apply one service change (an event, or the answer to an action). Events and answers can
   * cross: a view older than the one held (a lower status revision, or an older spec
   * generation) is ignored.
   */
  upsert(view: IServiceView): void {
    const current = this._services.get(view.name);
    if (current && isOlder(view, current)) {
      return;
    }
    this._services.set(view.name, view);
    this._changed.emit();
    if (isNewFailure(current, view)) {
      this._failed.emit(view);
    }
  }

  /**
   * Apply the answer to a request (an action, a save). The answer of a "restart" computed
   * before the stop that an event already showed carries a lower revision and is ignored.
   */
  applyAnswer(view: IServiceView): void {
    this.upsert(view);
  }

  remove(name: string): void {
    if (this._services.delete(name)) {
      this._deleted.emit(name);
      this._changed.emit();
    }
  }

  /** Handle one server-sent event. */
  handleEvent(event: ISseEvent): void {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return; // not ours
    }
    if (event.event === 'service' && isView(data)) {
      this.upsert(data);
    } else if (
      event.event === 'deleted' &&
      data &&
      typeof (data as { name?: unknown }).name === 'string'
    ) {
      this.remove((data as { name: string }).name);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._abort?.abort();
    this._clearTimers();
    Signal.clearData(this);
  }

  private async _connect(): Promise<void> {
    while (!this._disposed) {
      this._setMode(this._mode === 'polling' ? 'polling' : 'connecting');
      const ok = await this._stream();
      if (this._disposed) {
        return;
      }
      // the stream failed or ended: poll until it is time to try it again
      this._startPolling();
      await new Promise<void>(resolve => {
        this._reconnect = { resolve, afterFailure: !ok };
        this._reconnectTimer = setTimeout(
          resolve,
          ok ? RECONNECT_AFTER_END : this._reconnectDelay
        );
      });
      this._reconnect = null;
      this._reconnectTimer = null;
    }
  }

  /** Follow the event stream until it ends; true if it was ever open. */
  private async _stream(): Promise<boolean> {
    const abort = new AbortController();
    this._abort = abort;
    let opened = false;
    try {
      const response = await this.api.events(abort.signal);
      opened = true;
      this._stopPolling();
      this._setMode('live');
      // services deleted while the stream was down: the full list settles them
      void this.refresh().catch(() => undefined);
      const parser = new SseParser(event => this.handleEvent(event));
      await readText(response, text => parser.push(text), abort.signal);
    } catch {
      // network error, 404 (server extension missing) or an abort: fall back to polling
    }
    return opened;
  }

  private _startPolling(): void {
    if (this._polling || this._disposed) {
      return;
    }
    this._polling = true;
    this._setMode('polling');
    this._schedulePoll(0);
  }

  /** The next poll; one at a time: none is scheduled while one is in flight. */
  private _schedulePoll(delay: number): void {
    this._pollTimer = setTimeout(() => {
      this._pollTimer = null;
      void this._poll();
    }, delay);
  }

  private async _poll(): Promise<void> {
    try {
      await this.refresh();
      if (this._mode === 'offline') {
        this._setMode('polling');
      }
    } catch {
      this._setMode('offline');
    }
    if (this._polling && this._pollTimer === null && !this._disposed) {
      this._schedulePoll(this._pollInterval);
    }
  }

  private _stopPolling(): void {
    this._polling = false;
    if (this._pollTimer !== null) {
      clearTimeout(this._pollTimer);
      this._pollTimer = null;
    }
  }

  private _clearTimers(): void {
    this._stopPolling();
    if (this._reconnectTimer !== null) {
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
    }
  }

  private _setMode(mode: ConnectionMode): void {
    if (this._mode !== mode) {
      this._mode = mode;
      this._modeChanged.emit(mode);
    }
  }

  private _services = new Map<string, IServiceView>();
  private _changed = new Signal<this, void>(this);
  private _deleted = new Signal<this, string>(this);
  private _failed = new Signal<this, IServiceView>(this);
  private _modeChanged = new Signal<this, ConnectionMode>(this);
  private _mode: ConnectionMode = 'connecting';
  private _error = '';
  private _started = false;
  private _disposed = false;
  private _abort: AbortController | null = null;
  private _polling = false;
  private _pollTimer: ReturnType<typeof setTimeout> | null = null;
  private _reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** The wait before the event stream is tried again, while there is one. */
  private _reconnect: { resolve: () => void; afterFailure: boolean } | null =
    null;
  private _pollInterval: number;
  private _reconnectDelay: number;
}

/** The server bumps status.revision on every change of a service, generation on every spec change. */
function isOlder(view: IServiceView, than: IServiceView): boolean {
  return (
    view.status.revision < than.status.revision ||
    view.status.generation < than.status.generation
  );
}

function isView(data: unknown): data is IServiceView {
  const v = data as IServiceView;
  return (
    !!v &&
    typeof v.name === 'string' &&
    !!v.spec &&
    !!v.status &&
    typeof v.status.state === 'string'
  );
}
