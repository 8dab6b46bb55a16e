import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { SvcApi } from '../api';
import { SpecFormWidget } from '../form';
import type { IServiceView } from '../types';
import { apiPath, fakeServer, json, trans, view, waitFor } from './helpers';
import specSchema from '../generated/service-spec.schema.json';

describe('SpecForm', () => {
  let widget: SpecFormWidget | null = null;
  afterEach(() => widget?.dispose());

  const mount = (
    answer: () => Response,
    initial: Record<string, unknown> | null
  ) => {
    const { settings, requests } = fakeServer(answer);
    const saved: [IServiceView, boolean][] = [];
    widget = new SpecFormWidget({
      api: new SvcApi(settings),
      schema: specSchema as any,
      initial: initial as any,
      trans,
      translator: nullTranslator,
      onSaved: (v, created) => saved.push([v, created]),
      onCancel: () => undefined
    });
    Widget.attach(widget, document.body);
    return { requests, saved, node: widget.node };
  };

  it('renders a field per schema property, nested objects and lists included', async () => {
    const { node } = mount(() => json({}), null);
    await waitFor(() => !!node.querySelector('#root_name'));
    for (const id of [
      'root_description',
      'root_port',
      'root_resources_limits_cpu',
      'root_readiness_path',
      'root_shell'
    ]) {
      expect(node.querySelector(`#${id}`)).not.toBeNull();
    }
    expect((node.querySelector('#root_port') as HTMLInputElement).value).toBe(
      '0'
    );
    expect(node.textContent).toContain('New service');
  });

  it('shows the server field errors next to their fields', async () => {
    const body = {
      message: 'invalid service spec',
      errors: [
        { field: 'resources.limits.cpu', message: 'not a quantity: lots' },
        {
          field: 'port',
          message: 'Input should be less than or equal to 65535'
        },
        { field: '', message: 'set command, image or url' }
      ]
    };
    const spec = {
      ...view('app').spec,
      command: ['python', 'app.py'],
      port: 70000,
      resources: { limits: { cpu: 'lots' }, requests: {} }
    };
    const { node, requests, saved } = mount(() => json(body, 422), spec);
    await waitFor(() => !!node.querySelector('[data-action="save"]'));
    expect(
      (node.querySelector('#root_name') as HTMLInputElement).readOnly
    ).toBe(true);
    (node.querySelector('[data-action="save"]') as HTMLButtonElement).click();
    await waitFor(() => !!node.querySelector('.jp-svc-FormProblem'));
    await waitFor(
      () => node.querySelectorAll('.validationErrors li').length >= 2
    );

    const fieldGroup = (id: string) =>
      node.querySelector(`#${id}`)!.closest('.form-group')!;
    expect(
      fieldGroup('root_resources_limits_cpu').querySelector(
        '.validationErrors'
      )!.textContent
    ).toContain('not a quantity: lots');
    expect(
      fieldGroup('root_port').querySelector('.validationErrors')!.textContent
    ).toContain('less than or equal');
    expect(node.querySelector('.jp-svc-FormProblem')!.textContent).toContain(
      'set command, image or url'
    );
    expect(saved).toEqual([]);

    expect(requests).toHaveLength(1);
    expect(requests[0].method).toBe('PUT');
    expect(apiPath(requests[0].url)).toBe('services/app');
    const sent = JSON.parse(requests[0].body);
    expect(sent.name).toBe('app');
    expect(sent.command).toEqual(['python', 'app.py']);
    expect('icon' in sent).toBe(false); // null optional fields are left to the server's default
  });

  it('reports the saved service', async () => {
    const answer = view('app');
    const { node, saved } = mount(() => json(answer, 201), {
      ...answer.spec,
      command: ['x']
    });
    await waitFor(() => !!node.querySelector('[data-action="save"]'));
    (node.querySelector('[data-action="save"]') as HTMLButtonElement).click();
    await waitFor(() => saved.length === 1);
    expect(saved[0][0].name).toBe('app');
    expect(saved[0][1]).toBe(false);
  });

  it('asks for a name before sending a new spec', async () => {
    const { node, requests } = mount(() => json({}), null);
    await waitFor(() => !!node.querySelector('[data-action="save"]'));
    (node.querySelector('[data-action="save"]') as HTMLButtonElement).click();
    await waitFor(() => !!node.querySelector('.jp-svc-FormProblem'));
    expect(
      node.querySelector('#root_name')!.closest('.form-group')!.textContent
    ).toContain('a service needs a name');
    expect(requests).toHaveLength(0);
  });
});
