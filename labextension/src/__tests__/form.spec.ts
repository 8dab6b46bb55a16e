import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { SvcApi } from '../api';
import { SpecFormWidget } from '../form';
import type { ITemplateInfo } from '../picker';
import type { IBackends } from '../support';
import type { IServiceView } from '../types';
import {
  apiPath,
  fakeServer,
  IRecordedRequest,
  json,
  trans,
  view,
  waitFor
} from './helpers';
import specSchema from '../generated/service-spec.schema.json';

/** What GET svc/api/backends answers on a server with the local backend only. */
const LOCAL: IBackends = {
  default: 'local',
  backends: [
    {
      name: 'local',
      unsupported: [
        'image',
        'image_pull_secrets',
        'init.image',
        'node_selector',
        'priority_class',
        'replicas',
        'resources',
        'sidecars',
        'volumes'
      ]
    }
  ]
};

/** Type into a React-controlled input as a user does (React listens to `input` events). */
function type(node: HTMLElement, selector: string, value: string): void {
  const input = node.querySelector(selector) as HTMLInputElement;
  expect(input).not.toBeNull();
  const proto = Object.getPrototypeOf(input);
  Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

function click(node: HTMLElement, selector: string): void {
  (node.querySelector(selector) as HTMLElement).click();
}

const fieldErrors = (node: HTMLElement, id: string) =>
  node
    .querySelector(`#${id}`)!
    .closest('.form-group')!
    .querySelector('.validationErrors')?.textContent ?? '';

describe('SpecForm', () => {
  let widget: SpecFormWidget | null = null;
  afterEach(() => widget?.dispose());

  const mount = (
    answer: (r: IRecordedRequest) => Response,
    initial: object | null,
    backends: IBackends | null = LOCAL
  ) => {
    const { settings, requests } = fakeServer(answer);
    const saved: [IServiceView, boolean][] = [];
    widget = new SpecFormWidget({
      api: new SvcApi(settings),
      schema: specSchema as any,
      backends,
      initial: initial as any,
      trans,
      translator: nullTranslator,
      onSaved: (v, created) => saved.push([v, created]),
      onCancel: () => undefined
    });
    Widget.attach(widget, document.body);
    return { requests, saved, node: widget.node };
  };

  it('creates a service from a name and a command line, sending nothing else', async () => {
    const { node, requests, saved } = mount(() => json(view('web'), 201), null);
    await waitFor(() => !!node.querySelector('#root_name'));
    type(node, '#root_name', 'web');
    type(
      node,
      '#root_command',
      "python3 -m http.server {port} --bind '127.0.0.1'"
    );
    // the argv it will run, as shlex splits it
    await waitFor(() => node.querySelectorAll('.jp-svc-Arg').length === 6);
    expect(
      [...node.querySelectorAll('.jp-svc-Arg')].map(a => a.textContent)
    ).toEqual([
      'python3',
      '-m',
      'http.server',
      '{port}',
      '--bind',
      '127.0.0.1'
    ]);
    click(node, '[data-action="save"]');
    await waitFor(() => saved.length === 1);
    expect(requests).toHaveLength(1);
    expect(requests[0].method).toBe('POST');
    expect(apiPath(requests[0].url)).toBe('services');
    // no readiness.statuses: [], no port 0, no empty lists: the server's defaults apply
    expect(JSON.parse(requests[0].body)).toEqual({
      name: 'web',
      command: ['python3', '-m', 'http.server', '{port}', '--bind', '127.0.0.1']
    });
    expect(saved[0][1]).toBe(true);
  });

  it('shows a short form with schema titles, the rest closed under Advanced', async () => {
    const { node } = mount(() => json({}), null);
    await waitFor(() => !!node.querySelector('#root_readiness_path'));
    const basic = node.querySelector('.jp-svc-Basic')!;
    const labels = [...basic.querySelectorAll('label')].map(l => l.textContent);
    expect(labels).toEqual([
      'Name',
      'Command',
      'Run through a shell',
      'Port',
      'Idle window',
      'Public',
      'Description'
    ]);
    expect(basic.textContent).toContain(
      'Reachable without Jupyter authentication'
    );
    const advanced = node.querySelector(
      'details.jp-svc-Advanced'
    ) as HTMLDetailsElement;
    expect(advanced.open).toBe(false);
    expect(advanced.querySelector('#root_readiness_path')).not.toBeNull();
    expect(advanced.querySelector('#root_port')).toBeNull(); // not twice
    // what the local backend refuses is not offered
    for (const id of [
      'root_image',
      'root_volumes',
      'root_node_selector',
      'root_replicas'
    ]) {
      expect(node.querySelector(`#${id}`)).toBeNull();
    }
  });

  it('shows every field when the server does not say what its backends support', async () => {
    const { node } = mount(() => json({}), null, null);
    await waitFor(() => !!node.querySelector('#root_readiness_path'));
    expect(node.querySelector('#root_image')).not.toBeNull();
    expect(node.querySelector('#root_resources_limits_cpu')).not.toBeNull();
  });

  it('patches only what an edit changed, nested fields included', async () => {
    const app = view('app');
    const { node, requests, saved } = mount(() => json(app), app.spec);
    await waitFor(() => !!node.querySelector('#root_readiness_path'));
    expect(
      (node.querySelector('#root_command') as HTMLInputElement).value
    ).toBe('python -m http.server {port}');
    type(node, '#root_readiness_path', '/health');
    type(node, '#root_scale_to_zero', '15m');
    click(node, '[data-action="save"]');
    await waitFor(() => saved.length === 1);
    expect(requests).toHaveLength(1);
    expect(requests[0].method).toBe('PATCH');
    expect(apiPath(requests[0].url)).toBe('services/app');
    expect(JSON.parse(requests[0].body)).toEqual({
      readiness: { path: '/health' },
      scale_to_zero: '15m'
    });
    expect(saved[0][1]).toBe(false);
  });

  it('restarts a failed service saved without changes', async () => {
    const failed = view('app', 'failed');
    const { node, requests, saved } = mount(
      r => json(r.method === 'GET' ? failed : view('app', 'starting')),
      failed.spec
    );
    await waitFor(() => !!node.querySelector('[data-action="save"]'));
    click(node, '[data-action="save"]');
    await waitFor(() => saved.length === 1);
    expect(requests.map(r => [r.method, apiPath(r.url)])).toEqual([
      ['GET', 'services/app'],
      ['POST', 'services/app/restart']
    ]);
  });

  it('shows the server field errors next to their fields and focuses the first', async () => {
    const body = {
      message: 'invalid service spec',
      errors: [
        { field: 'readiness.interval', message: 'not a duration: soon' },
        {
          field: 'port',
          message: 'Input should be less than or equal to 65535'
        },
        { field: '', message: 'set command, image or url' }
      ]
    };
    const app = view('app');
    const { node, requests, saved } = mount(() => json(body, 422), app.spec);
    await waitFor(() => !!node.querySelector('[data-action="save"]'));
    expect(
      (node.querySelector('#root_name') as HTMLInputElement).readOnly
    ).toBe(true);
    type(node, '#root_port', '70000');
    click(node, '[data-action="save"]');
    await waitFor(() => !!node.querySelector('.jp-svc-FormProblem'));
    await waitFor(() => fieldErrors(node, 'root_readiness_interval') !== '');
    expect(JSON.parse(requests[0].body)).toEqual({ port: 70000 });
    expect(fieldErrors(node, 'root_port')).toContain('less than or equal');
    expect(fieldErrors(node, 'root_readiness_interval')).toContain(
      'not a duration'
    );
    // an error in the advanced part opens it
    expect(
      (node.querySelector('details.jp-svc-Advanced') as HTMLDetailsElement).open
    ).toBe(true);
    expect(node.querySelector('.jp-svc-FormProblem')!.textContent).toContain(
      'set command, image or url'
    );
    await waitFor(
      () => document.activeElement === node.querySelector('#root_port')
    );
    expect(saved).toEqual([]);
  });

  it('shows an invalid name next to the Name field', async () => {
    const body = {
      message: 'invalid service spec',
      errors: [{ field: 'name', message: 'must be a DNS-1123 label' }]
    };
    const { node, requests } = mount(() => json(body, 422), null);
    await waitFor(() => !!node.querySelector('#root_name'));
    type(node, '#root_name', 'Bad_Name');
    type(node, '#root_command', 'python app.py');
    click(node, '[data-action="save"]');
    await waitFor(() => fieldErrors(node, 'root_name') !== '');
    expect(fieldErrors(node, 'root_name')).toContain('DNS-1123');
    expect(node.querySelector('#root_name')!.getAttribute('aria-invalid')).toBe(
      'true'
    );
    await waitFor(
      () => document.activeElement === node.querySelector('#root_name')
    );
    expect(JSON.parse(requests[0].body).name).toBe('Bad_Name');
  });

  it('asks for a name, and a command it can read, before sending', async () => {
    const { node, requests } = mount(() => json({}), null);
    await waitFor(() => !!node.querySelector('[data-action="save"]'));
    type(node, '#root_command', "python 'app.py");
    await waitFor(() => !!node.querySelector('.jp-svc-ArgvError'));
    click(node, '[data-action="save"]');
    await waitFor(() => !!node.querySelector('.jp-svc-FormProblem'));
    expect(fieldErrors(node, 'root_name')).toContain('a service needs a name');
    expect(fieldErrors(node, 'root_command')).toContain(
      'single quote is not closed'
    );
    expect(requests).toHaveLength(0);
  });
});

describe('SpecForm template picker', () => {
  let widget: SpecFormWidget | null = null;
  afterEach(() => widget?.dispose());

  /** Two templates, as GET svc/api/templates lists them. */
  const TEMPLATES: ITemplateInfo[] = [
    {
      name: 'http',
      description: 'Static files from a folder',
      framework: null,
      available: true,
      example: '%svc http site --directory public',
      params: [
        {
          name: 'directory',
          help: 'folder to serve',
          default: '.',
          required: false,
          kind: 'dir'
        }
      ]
    },
    {
      name: 'streamlit',
      description: 'Streamlit app (a script)',
      framework: 'streamlit',
      available: false,
      example: '',
      params: [
        {
          name: 'script',
          help: "path of the app's Python file",
          default: null,
          required: true,
          kind: 'path'
        }
      ]
    }
  ];

  /** The specs the server's templates make (the parts the test looks at). */
  const answer = (r: IRecordedRequest): Response => {
    const url = new URL(r.url);
    const path = apiPath(r.url);
    if (path === 'templates/http/spec') {
      return json({
        template: 'http',
        spec: {
          command: [
            'python',
            '-m',
            'http.server',
            '{port}',
            '--directory',
            `/root/${url.searchParams.get('directory')}`
          ],
          rewrite_path: true,
          description: 'http app',
          labels: { 'jupyter-svc/template': 'http' }
        }
      });
    }
    if (path === 'templates/streamlit/spec') {
      return url.searchParams.get('script') === 'missing.py'
        ? json(
            {
              message: 'invalid template parameters',
              errors: [{ field: 'params.script', message: 'no such file' }]
            },
            422
          )
        : json({
            template: 'streamlit',
            spec: {
              command: ['python', '-m', 'streamlit', 'run', 'app.py'],
              rewrite_path: false,
              readiness: { path: '/_stcore/health' },
              labels: { 'jupyter-svc/template': 'streamlit' }
            }
          });
    }
    return json(view('web'), 201);
  };

  it('fills the command and the template fields from the chosen template, and sends them', async () => {
    const { settings, requests } = fakeServer(answer);
    const saved: IServiceView[] = [];
    widget = new SpecFormWidget({
      api: new SvcApi(settings),
      schema: specSchema as any,
      backends: null,
      initial: null,
      templates: TEMPLATES,
      trans,
      translator: nullTranslator,
      onSaved: v => void saved.push(v),
      onCancel: () => undefined
    });
    Widget.attach(widget, document.body);
    const node = widget.node;
    await waitFor(() => !!node.querySelector('#root_template'));
    const options = [...node.querySelectorAll('#root_template option')].map(
      o => o.textContent
    );
    expect(options).toEqual([
      'none: I give the command',
      'http: Static files from a folder',
      'streamlit: Streamlit app (a script) (streamlit is not installed)'
    ]);
    const choose = (name: string) => {
      const select = node.querySelector('#root_template') as HTMLSelectElement;
      select.value = name;
      select.dispatchEvent(new Event('change', { bubbles: true }));
    };
    const command = () =>
      (node.querySelector('#root_command') as HTMLInputElement).value;

    // streamlit: nothing is asked until its required script is there; a 422 lands next to it
    choose('streamlit');
    await waitFor(() => !!node.querySelector('#root_template_script'));
    expect(node.querySelector('[data-param="script"] label')!.textContent).toBe(
      'script*'
    );
    type(node, '#root_template_script', 'missing.py');
    await waitFor(
      () =>
        node.querySelector('[data-param="script"] .validationErrors')
          ?.textContent === 'no such file'
    );
    expect(command()).toBe('');
    type(node, '#root_template_script', 'app.py');
    await waitFor(() => command() === 'python -m streamlit run app.py');

    // another template takes back what the first one set (its readiness path)
    choose('http');
    await waitFor(() => command().includes('http.server'));
    expect(command()).toBe('python -m http.server {port} --directory /root/.');
    type(node, '#root_template_directory', 'site');
    await waitFor(() => command().endsWith('/root/site'));
    type(node, '#root_name', 'site');
    click(node, '[data-action="save"]');
    await waitFor(() => saved.length === 1);
    const posted = requests.filter(r => r.method === 'POST');
    expect(posted).toHaveLength(1);
    const body = JSON.parse(posted[0].body);
    expect(body).toMatchObject({
      name: 'site',
      command: [
        'python',
        '-m',
        'http.server',
        '{port}',
        '--directory',
        '/root/site'
      ],
      description: 'http app',
      labels: { 'jupyter-svc/template': 'http' }
    });
    expect(body.readiness).toBeUndefined();
    expect(
      requests.filter(r => r.method === 'GET').map(r => apiPath(r.url))
    ).toEqual(
      expect.arrayContaining([
        'templates/streamlit/spec',
        'templates/http/spec'
      ])
    );
  });

  it('is not offered when editing', async () => {
    const { settings } = fakeServer(answer);
    widget = new SpecFormWidget({
      api: new SvcApi(settings),
      schema: specSchema as any,
      backends: null,
      initial: view('web').spec,
      templates: TEMPLATES,
      trans,
      translator: nullTranslator,
      onSaved: () => undefined,
      onCancel: () => undefined
    });
    Widget.attach(widget, document.body);
    await waitFor(() => !!widget!.node.querySelector('#root_name'));
    expect(widget.node.querySelector('#root_template')).toBeNull();
  });
});
