/** Pure presentation helpers: state labels and colours, durations, relative times. */

import type { TranslationBundle } from '@jupyterlab/translation';
import type { IServiceView, ServiceState } from './types';

/** Badge tone per state; style/base.css maps each tone to JupyterLab colour variables. */
export type Tone = 'success' | 'progress' | 'idle' | 'error' | 'muted';

export function stateTone(state: ServiceState | string): Tone {
  switch (state) {
    case 'ready':
      return 'success';
    case 'pending':
    case 'starting':
    case 'waking':
    case 'stopping':
      return 'progress';
    case 'scaled_to_zero':
      return 'idle';
    case 'failed':
      return 'error';
    default:
      return 'muted';
  }
}

export function stateLabel(
  state: ServiceState | string,
  trans: TranslationBundle
): string {
  switch (state) {
    case 'pending':
      return trans.__('pending');
    case 'starting':
      return trans.__('starting');
    case 'ready':
      return trans.__('ready');
    case 'stopping':
      return trans.__('stopping');
    case 'scaled_to_zero':
      return trans.__('scaled to zero');
    case 'waking':
      return trans.__('waking');
    case 'failed':
      return trans.__('failed');
    case 'disabled':
      return trans.__('disabled');
    default:
      return String(state);
  }
}

/** "1h 2m", "45s", "3d 4h": the two largest units of a number of seconds. */
export function formatSeconds(seconds: number): string {
  const sizes: [string, number][] = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1]
  ];
  let rest = Math.max(0, Math.round(seconds));
  const counts = sizes.map(([unit, size]) => {
    const n = Math.floor(rest / size);
    rest -= n * size;
    return [unit, n] as [string, number];
  });
  const first = counts.findIndex(([, n]) => n > 0);
  if (first < 0) {
    return '0s';
  }
  const parts = [`${counts[first][1]}${counts[first][0]}`];
  const next = counts[first + 1];
  if (next && next[1] > 0) {
    parts.push(`${next[1]}${next[0]}`);
  }
  return parts.join(' ');
}

/** Milliseconds since the epoch of an ISO time from the server (naive times are UTC). */
export function parseTime(value: string | null | undefined): number | null {
  if (!value) {
    return null;
  }
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/** "12s ago", "3m ago", "just now", or "—" for no time. */
export function formatAgo(
  value: string | null | undefined,
  now: number,
  trans: TranslationBundle
): string {
  const ms = parseTime(value);
  if (ms === null) {
    return '—';
  }
  const seconds = (now - ms) / 1000;
  if (seconds < 2) {
    return trans.__('just now');
  }
  return trans.__('%1 ago', formatSeconds(seconds));
}

/** Time left before an idle service scales to zero: "in 4m 10s", "due", or "—". */
export function formatDeadline(
  value: string | null | undefined,
  now: number,
  trans: TranslationBundle
): string {
  const ms = parseTime(value);
  if (ms === null) {
    return '—';
  }
  const seconds = (ms - now) / 1000;
  if (seconds <= 0) {
    return trans.__('due');
  }
  return trans.__('in %1', formatSeconds(seconds));
}

/** "Scales down": a countdown while a window runs, "never" for a ready service without one. */
export function formatScalesDown(
  view: IServiceView,
  now: number,
  trans: TranslationBundle
): string {
  if (view.status.state !== 'ready') {
    return '—';
  }
  // the server sets idle_deadline whenever an idle window applies to a ready service
  return view.status.idle_deadline
    ? formatDeadline(view.status.idle_deadline, now, trans)
    : trans.__('never');
}

/**
 * What ends or holds a service besides its traffic, one line each (empty when nothing does):
 * the kernel it belongs to, its keep-warm schedule, its expiry. The same words as `%svc list`.
 */
export function formatLifetime(
  view: IServiceView,
  now: number,
  trans: TranslationBundle
): { kernel: string; keepWarm: string; expires: string } {
  const { spec, status } = view;
  let kernel = '';
  if (spec.kernel) {
    const who = spec.kernel.path || spec.kernel.id.slice(0, 8);
    kernel =
      spec.kernel.on_end === 'scale_to_zero'
        ? trans.__('while the kernel of %1 runs, then scaled to zero', who)
        : trans.__('while the kernel of %1 runs', who);
  }
  let keepWarm = '';
  const schedule = status.keep_warm;
  if (schedule) {
    const change = schedule.next_change
      ? formatDeadline(schedule.next_change, now, trans)
      : '';
    if (schedule.warm) {
      keepWarm = change
        ? trans.__('kept warm, ends %1', change)
        : trans.__('kept warm');
    } else {
      keepWarm = change
        ? trans.__('warm next %1', change)
        : trans.__('never warm');
    }
  }
  const expires = status.expires_at
    ? formatDeadline(status.expires_at, now, trans)
    : '';
  return { kernel, keepWarm, expires };
}

/** Where users open a service: the status URL, else {base_url}svc/<name>/, made absolute. */
export function serviceUrl(view: IServiceView, baseUrl: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const path = view.status.url || `svc/${encodeURIComponent(view.name)}/`;
  if (/^https?:\/\//.test(path)) {
    return path;
  }
  if (path.startsWith('/')) {
    // the status URL is a path from the server root; keep the origin of base_url
    const origin = /^https?:\/\/[^/]+/.exec(base);
    return origin ? `${origin[0]}${path}` : path;
  }
  return `${base}${path}`;
}

/** A spec's idle window: "5m"; "never" for 0 (kept up); null follows the server's default. */
export function formatIdleWindow(
  window: string | null | undefined,
  trans: TranslationBundle
): string {
  if (window === null || window === undefined || window === '') {
    return trans.__('server default');
  }
  if (/^0+(\.0+)?[a-z]*$/i.test(String(window))) {
    return trans.__('never');
  }
  return String(window);
}

/** Which actions make sense in a state (the server accepts all; this avoids no-op clicks). */
export function availableActions(view: IServiceView): {
  wake: boolean;
  stop: boolean;
  restart: boolean;
  enable: boolean;
  disable: boolean;
} {
  const state = view.status.state;
  const disabled =
    state === 'disabled' || view.spec.desired_state === 'disabled';
  return {
    wake: !disabled && (state === 'scaled_to_zero' || state === 'failed'),
    stop:
      !disabled && ['ready', 'starting', 'waking', 'pending'].includes(state),
    restart: !disabled,
    enable: disabled,
    disable: !disabled
  };
}

/** The first line of a status message, for one-line rows (the whole message is a click away). */
export function firstLine(text: string): string {
  const line = text.split('\n').find(l => l.trim()) ?? '';
  return line.trim();
}

/**
 * The short text of a compact row: why it is not ready (its message), when a ready one scales
 * down, else its description.
 */
export function shortInfo(
  view: IServiceView,
  now: number,
  trans: TranslationBundle
): string {
  const { status, spec } = view;
  if (status.state !== 'ready' && status.message) {
    return firstLine(status.message);
  }
  if (status.state === 'ready' && status.idle_deadline) {
    return trans.__(
      'scales down %1',
      formatDeadline(status.idle_deadline, now, trans)
    );
  }
  if (status.state === 'ready' && status.keep_warm?.warm) {
    return formatLifetime(view, now, trans).keepWarm;
  }
  return spec.description ?? '';
}
