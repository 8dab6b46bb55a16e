/** Requests to the jupyter-svc REST API ({base_url}svc/api/...). */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import type { ITemplateInfo } from './picker';
import type { IBackends } from './support';
import type {
  IErrorBody,
  IFieldError,
  IServiceSpec,
  IServiceView,
  ServiceAction
} from './types';

export const API_PATH = 'svc/api';

/** An answer with an error status; `errors` holds the server's field errors (422). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: IFieldError[] = []
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function apiUrl(
  settings: ServerConnection.ISettings,
  ...parts: string[]
): string {
  return URLExt.join(
    settings.baseUrl,
    API_PATH,
    ...parts.map(p => p.split('/').map(encodeURIComponent).join('/'))
  );
}

/** Turn a failed Response into an ApiError carrying the server's message and field errors. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the body is gone: the status is all there is
  }
  let body: Partial<IErrorBody> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  const message =
    body.message ||
    body.reason ||
    response.statusText ||
    `HTTP ${response.status}`;
  return new ApiError(
    response.status,
    message,
    Array.isArray(body.errors) ? body.errors : []
  );
}

export class SvcApi {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  url(...parts: string[]): string {
    return apiUrl(this.settings, ...parts);
  }

  /** A raw request (streams read the Response body themselves). */
  async fetch(
    path: string,
    init: RequestInit = {},
    query = ''
  ): Promise<Response> {
    // makeRequest adds the token and XSRF headers; network failures reject with NetworkError
    const response = await ServerConnection.makeRequest(
      this.url(path) + query,
      init,
      this.settings
    );
    if (!response.ok) {
      throw await errorFromResponse(response);
    }
    return response;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.fetch(path, init);
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  async list(): Promise<IServiceView[]> {
    const body = await this.json<{ services: IServiceView[] }>('services');
    return body.services;
  }

  get(name: string): Promise<IServiceView> {
    return this.json<IServiceView>(`services/${name}`);
  }

  schema(): Promise<Record<string, unknown>> {
    return this.json<Record<string, unknown>>('schema');
  }

  /** The server's backends and the spec fields each cannot honour. */
  backends(): Promise<IBackends> {
    return this.json<IBackends>('backends');
  }

  /** The server's templates, with their parameters (the form's template picker). */
  async templates(): Promise<ITemplateInfo[]> {
    return (await this.json<{ templates: ITemplateInfo[] }>('templates'))
      .templates;
  }

  /** The spec (without a name) a template makes of `params` (422s name `params.<name>`). */
  async templateSpec(
    template: string,
    params: Record<string, string>
  ): Promise<Record<string, unknown>> {
    const query = new URLSearchParams(params).toString();
    const response = await this.fetch(
      `templates/${template}/spec`,
      {},
      query ? `?${query}` : ''
    );
    return (await response.json()).spec;
  }

  /** Create a new service (409 if the name is taken). */
  create(spec: IServiceSpec): Promise<IServiceView> {
    return this.json<IServiceView>('services', {
      method: 'POST',
      body: JSON.stringify(spec)
    });
  }

  /** Change a service's spec with a JSON merge patch: only the fields it names change. */
  patch(name: string, changes: Record<string, unknown>): Promise<IServiceView> {
    return this.json<IServiceView>(`services/${name}`, {
      method: 'PATCH',
      body: JSON.stringify(changes)
    });
  }

  /** Create or replace a service's spec. */
  put(spec: IServiceSpec): Promise<IServiceView> {
    return this.json<IServiceView>(`services/${spec.name}`, {
      method: 'PUT',
      body: JSON.stringify(spec)
    });
  }

  async remove(name: string): Promise<void> {
    await this.fetch(`services/${name}`, { method: 'DELETE' });
  }

  action(name: string, action: ServiceAction): Promise<IServiceView> {
    if (action === 'stop') {
      return this.json<IServiceView>(`services/${name}/scale`, {
        method: 'POST',
        body: JSON.stringify({ replicas: 0 })
      });
    }
    return this.json<IServiceView>(`services/${name}/${action}`, {
      method: 'POST',
      body: '{}'
    });
  }

  /** Follow a service's log: the last `tail` lines, then new ones as they come. */
  logs(name: string, signal: AbortSignal, tail = 200): Promise<Response> {
    return this.fetch(
      `services/${name}/logs`,
      { signal },
      `?follow=1&tail=${tail}`
    );
  }

  /** The server-sent events stream of service changes. */
  events(signal: AbortSignal): Promise<Response> {
    return this.fetch('events', {
      signal,
      headers: { Accept: 'text/event-stream' }
    });
  }
}
