import {
  availableActions,
  formatAgo,
  formatDeadline,
  formatIdleWindow,
  formatLifetime,
  formatSeconds,
  parseTime,
  serviceUrl,
  shortInfo,
  stateLabel,
  stateTone
} from '../format';
import { SERVICE_STATES } from '../types';
import { trans, view } from './helpers';

describe('state badges', () => {
  it('gives every state a tone and a distinct label', () => {
    const labels = SERVICE_STATES.map(s => stateLabel(s, trans));
    expect(new Set(labels).size).toBe(SERVICE_STATES.length);
    expect(stateLabel('scaled_to_zero', trans)).toBe('scaled to zero');
    expect(SERVICE_STATES.map(stateTone)).toEqual([
      'progress',
      'progress',
      'success',
      'progress',
      'idle',
      'progress',
      'error',
      'muted'
    ]);
  });

  it('shows an unknown state as it came', () => {
    expect(stateLabel('exploded', trans)).toBe('exploded');
    expect(stateTone('exploded')).toBe('muted');
  });
});

describe('times', () => {
  it('formats seconds with the two largest units', () => {
    expect(formatSeconds(0)).toBe('0s');
    expect(formatSeconds(45)).toBe('45s');
    expect(formatSeconds(60)).toBe('1m');
    expect(formatSeconds(125)).toBe('2m 5s');
    expect(formatSeconds(3600 + 120 + 7)).toBe('1h 2m');
    expect(formatSeconds(3600 + 7)).toBe('1h');
    expect(formatSeconds(2 * 86400 + 3 * 3600)).toBe('2d 3h');
    expect(formatSeconds(-5)).toBe('0s');
  });

  it('reads server times with and without a zone as UTC', () => {
    expect(parseTime('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime('2026-01-01T00:00:00')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime('2026-01-01T01:00:00+01:00')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime(null)).toBeNull();
    expect(parseTime('not a time')).toBeNull();
  });

  it('says how long ago and how long until', () => {
    const now = Date.UTC(2026, 0, 1, 0, 5, 0);
    expect(formatAgo('2026-01-01T00:00:00Z', now, trans)).toBe('5m ago');
    expect(formatAgo('2026-01-01T00:04:59.5Z', now, trans)).toBe('just now');
    expect(formatAgo(null, now, trans)).toBe('—');
    expect(formatDeadline('2026-01-01T00:09:30Z', now, trans)).toBe(
      'in 4m 30s'
    );
    expect(formatDeadline('2026-01-01T00:04:00Z', now, trans)).toBe('due');
    expect(formatDeadline(null, now, trans)).toBe('—');
  });
});

describe('formatIdleWindow', () => {
  it('tells a window, never (0) and the server default (null) apart', () => {
    expect(formatIdleWindow('5m', trans)).toBe('5m');
    expect(formatIdleWindow('0s', trans)).toBe('never');
    expect(formatIdleWindow(null, trans)).toBe('server default');
    expect(formatIdleWindow(undefined, trans)).toBe('server default');
  });
});

describe('serviceUrl', () => {
  it('puts the status path on the origin of base_url', () => {
    expect(serviceUrl(view('app'), 'http://h:8888/user/me/')).toBe(
      'http://h:8888/svc/app/'
    );
    const v = view('app');
    v.status.url = '/user/me/svc/app/';
    expect(serviceUrl(v, 'http://h:8888/user/me/')).toBe(
      'http://h:8888/user/me/svc/app/'
    );
  });

  it('falls back to {base_url}svc/<name>/ without a status URL', () => {
    const v = view('app');
    v.status.url = '';
    expect(serviceUrl(v, 'http://h:8888/user/me')).toBe(
      'http://h:8888/user/me/svc/app/'
    );
  });
});

describe('availableActions', () => {
  it('offers wake for idle services and stop for running ones', () => {
    expect(availableActions(view('a', 'scaled_to_zero'))).toMatchObject({
      wake: true,
      stop: false,
      disable: true
    });
    expect(availableActions(view('a', 'ready'))).toMatchObject({
      wake: false,
      stop: true,
      restart: true
    });
    expect(availableActions(view('a', 'failed'))).toMatchObject({
      wake: true,
      stop: false
    });
  });

  it('offers only enable for disabled services', () => {
    expect(availableActions(view('a', 'disabled'))).toEqual({
      wake: false,
      stop: false,
      restart: false,
      enable: true,
      disable: false
    });
  });
});

describe('lifetimes', () => {
  const now = Date.UTC(2026, 0, 5, 9, 0, 0); // a Monday, 09:00 UTC

  it('says nothing for a service that only idles', () => {
    expect(formatLifetime(view('plain'), now, trans)).toEqual({
      kernel: '',
      keepWarm: '',
      expires: ''
    });
  });

  it('names the notebook a service belongs to, and what happens when its kernel ends', () => {
    const bound = view('bound');
    bound.spec.kernel = {
      id: '0f0f0f0f-1111',
      path: 'work/analysis.ipynb',
      on_end: 'delete'
    };
    expect(formatLifetime(bound, now, trans).kernel).toBe(
      'while the kernel of work/analysis.ipynb runs'
    );
    bound.spec.kernel = {
      id: '0f0f0f0f-1111',
      path: null,
      on_end: 'scale_to_zero'
    };
    expect(formatLifetime(bound, now, trans).kernel).toBe(
      'while the kernel of 0f0f0f0f runs, then scaled to zero'
    );
  });

  it('counts down to the next window change and to the expiry', () => {
    const warm = view('office', 'ready', {
      keep_warm: { warm: true, next_change: '2026-01-05T18:00:00Z' },
      expires_at: '2026-01-05T11:30:00Z'
    });
    const lifetime = formatLifetime(warm, now, trans);
    expect(lifetime.keepWarm).toBe('kept warm, ends in 9h');
    expect(lifetime.expires).toBe('in 2h 30m');
    expect(shortInfo(warm, now, trans)).toBe('kept warm, ends in 9h');
    const cold = view('office', 'scaled_to_zero', {
      keep_warm: { warm: false, next_change: '2026-01-06T07:59:00Z' }
    });
    expect(formatLifetime(cold, now, trans).keepWarm).toBe(
      'warm next in 22h 59m'
    );
    const never = view('x', 'ready', {
      keep_warm: { warm: false, next_change: null }
    });
    expect(formatLifetime(never, now, trans).keepWarm).toBe('never warm');
  });
});
