import { ApiError, SvcApi } from '../api';
import { apiPath, fakeServer, json, view } from './helpers';

describe('SvcApi', () => {
  it('lists services with the token header under {base_url}svc/api/', async () => {
    const { settings, requests } = fakeServer(() =>
      json({ services: [view('a'), view('b')] })
    );
    const api = new SvcApi(settings);
    const services = await api.list();
    expect(services.map(s => s.name)).toEqual(['a', 'b']);
    expect(requests[0].method).toBe('GET');
    expect(apiPath(requests[0].url)).toBe('services');
    expect(requests[0].headers.get('Authorization')).toBe('token secret');
  });

  it('maps actions to their routes; stop is a scale to zero', async () => {
    const { settings, requests } = fakeServer(() => json(view('a')));
    const api = new SvcApi(settings);
    for (const action of [
      'restart',
      'enable',
      'disable',
      'wake',
      'stop'
    ] as const) {
      await api.action('a', action);
    }
    expect(requests.map(r => [r.method, apiPath(r.url)])).toEqual([
      ['POST', 'services/a/restart'],
      ['POST', 'services/a/enable'],
      ['POST', 'services/a/disable'],
      ['POST', 'services/a/wake'],
      ['POST', 'services/a/scale']
    ]);
    expect(JSON.parse(requests[4].body)).toEqual({ replicas: 0 });
  });

  it('creates and updates with PUT services/<name>, deletes with DELETE', async () => {
    const { settings, requests } = fakeServer(r =>
      r.method === 'DELETE'
        ? new Response(null, { status: 204 })
        : json(view('a'), 201)
    );
    const api = new SvcApi(settings);
    await api.put({ name: 'a', command: ['x'] });
    await api.remove('a');
    expect(requests.map(r => [r.method, apiPath(r.url)])).toEqual([
      ['PUT', 'services/a'],
      ['DELETE', 'services/a']
    ]);
    expect(JSON.parse(requests[0].body)).toEqual({ name: 'a', command: ['x'] });
  });

  it('turns a 422 answer into an ApiError with the field errors', async () => {
    const body = {
      message: 'invalid service spec: resources.limits.cpu: bad',
      errors: [{ field: 'resources.limits.cpu', message: 'bad' }]
    };
    const { settings } = fakeServer(() => json(body, 422));
    const error = await new SvcApi(settings).put({ name: 'a' }).catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.message).toBe(body.message);
    expect(error.errors).toEqual(body.errors);
  });

  it('keeps the status of answers that are not JSON', async () => {
    const { settings } = fakeServer(
      () =>
        new Response('<html>gateway</html>', {
          status: 502,
          statusText: 'Bad Gateway'
        })
    );
    const error = await new SvcApi(settings).list().catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(502);
    expect(error.errors).toEqual([]);
  });

  it('asks for the log with follow and tail', async () => {
    const { settings, requests } = fakeServer(() => new Response('line\n'));
    await new SvcApi(settings).logs('a', new AbortController().signal, 50);
    const url = new URL(requests[0].url);
    expect(url.pathname).toBe('/base/svc/api/services/a/logs');
    expect(url.searchParams.get('follow')).toBe('1');
    expect(url.searchParams.get('tail')).toBe('50');
  });
});
