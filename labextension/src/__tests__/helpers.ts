/** Test helpers: a fake server behind ServerConnection settings, and service views. */

import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { ReadableStream as NodeReadableStream } from 'stream/web';
import type { IServiceView, ServiceState } from '../types';

export const trans = nullTranslator.load('jupyter_svc');

/** Resources as served when none are set. */
const NO_RESOURCES = {
  requests: { cpu: null, memory: null, gpu: null },
  limits: { cpu: null, memory: null, gpu: null }
};

/** A service as the server answers for it: every spec and status field is there. */
export function view(
  name: string,
  state: ServiceState = 'ready',
  extra: Partial<IServiceView['status']> = {}
): IServiceView {
  return {
    name,
    spec: {
      name,
      description: `the ${name} app`,
      labels: {},
      annotations: {},
      icon: null,
      backend: null,
      command: ['python', '-m', 'http.server', '{port}'],
      shell: false,
      cwd: null,
      env: {},
      secret_env: {},
      inherit_env: [],
      image: null,
      image_pull_secrets: [],
      url: null,
      port: 0,
      ports: [],
      rewrite_path: true,
      public: false,
      readiness: { path: '/', statuses: null, timeout: null, interval: '1s' },
      restart_policy: 'always',
      replicas: 1,
      scale_to_zero: '5m',
      desired_state: 'ready',
      resources: NO_RESOURCES,
      node_selector: {},
      priority_class: null,
      volumes: [],
      sidecars: [],
      init: [],
      depends_on: [],
      keep_warm: [],
      kernel: null,
      expires_after: null
    },
    status: {
      state,
      message: '',
      url: `/svc/${name}/`,
      backend: 'local',
      endpoint: state === 'ready' ? '127.0.0.1:40000' : '',
      generation: 1,
      revision: 1,
      replicas_ready: state === 'ready' ? 1 : 0,
      started_at: '2026-01-01T00:00:00Z',
      last_activity: '2026-01-01T00:00:00Z',
      restarts: 0,
      last_exit_code: null,
      cold_starts: 0,
      last_cold_start_ms: null,
      last_cold_start_steps: {},
      idle_deadline: null,
      changed_at: '2026-01-01T00:00:00Z',
      keep_warm: null,
      expires_at: null,
      ...extra
    }
  };
}

export interface IRecordedRequest {
  method: string;
  url: string;
  body: string;
  headers: Headers;
}

/** A text stream the test writes to chunk by chunk, as a Response body. */
export class StreamController {
  readonly stream: ReadableStream<Uint8Array>;
  constructor() {
    const encoder = new TextEncoder();
    let ctrl!: {
      enqueue: (c: Uint8Array) => void;
      close: () => void;
      error: (e: unknown) => void;
    };
    this.stream = new NodeReadableStream<Uint8Array>({
      start: c => {
        ctrl = c;
      }
    }) as unknown as ReadableStream<Uint8Array>;
    this.write = (text: string) => ctrl.enqueue(encoder.encode(text));
    this.close = () => ctrl.close();
    this.fail = (e: unknown) => ctrl.error(e);
  }
  write: (text: string) => void;
  close: () => void;
  fail: (e: unknown) => void;
}

export type Route = (request: IRecordedRequest) => Response | Promise<Response>;

/** ServerConnection settings whose fetch answers from `route` and records every request. */
export function fakeServer(route: Route): {
  settings: ServerConnection.ISettings;
  requests: IRecordedRequest[];
} {
  const requests: IRecordedRequest[] = [];
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://lab.test/base/',
    wsUrl: 'ws://lab.test/base/',
    token: 'secret',
    fetch: (async (input: RequestInfo) => {
      const request = input as Request;
      const recorded = {
        method: request.method,
        url: request.url,
        body:
          request.method === 'GET' || request.method === 'HEAD'
            ? ''
            : await request.text(),
        headers: request.headers
      };
      requests.push(recorded);
      return route(recorded);
    }) as typeof fetch
  });
  return { settings, requests };
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

/** The request's path under the API, without the cache-busting query. */
export function apiPath(url: string): string {
  const u = new URL(url);
  return u.pathname.replace(/^\/base\/svc\/api\//, '');
}

export async function waitFor(
  check: () => boolean,
  timeoutMs = 2000
): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error('condition not met in time');
    }
    await new Promise(r => setTimeout(r, 5));
  }
}
