import {
  cleanFormData,
  defaultsFor,
  errorsToTree,
  parseFieldPath,
  prepareSchema
} from '../schema';
// the JSON Schema GET svc/api/schema answers (jupyter_svc.model.spec.spec_json_schema), generated
import specSchema from '../generated/service-spec.schema.json';

describe('prepareSchema', () => {
  const prepared = prepareSchema(specSchema as any);
  const props = prepared.schema.properties;

  it('inlines every $ref and drops $defs', () => {
    const text = JSON.stringify(prepared.schema);
    expect(text).not.toContain('$ref');
    expect(text).not.toContain('$defs');
    expect(props.resources.properties.limits.properties.cpu.type).toBe(
      'string'
    );
    expect(props.ports.items.properties.protocol.enum).toEqual(['TCP', 'UDP']);
    expect(props.restart_policy.enum).toContain('on-failure');
    expect(props.restart_policy.default).toBe('always');
  });

  it('folds optional fields (anyOf with null) into their type and remembers them', () => {
    expect(props.icon.type).toBe('string');
    expect(props.icon.anyOf).toBeUndefined();
    expect(props.icon.default).toBeUndefined();
    expect(prepared.nullable.has(props.icon)).toBe(true);
    expect(prepared.nullable.has(props.description)).toBe(false);
    // a union of two real types stays a choice, with readable option titles
    expect(props.command.anyOf.map((o: any) => o.title)).toEqual([
      'list',
      'string'
    ]);
    expect(prepared.nullable.has(props.command)).toBe(true);
  });

  it('drops the duration format that the browser would check differently from the server', () => {
    expect(props.scale_to_zero.type).toBe('string');
    expect(props.scale_to_zero.format).toBeUndefined();
    expect(props.readiness.properties.interval.format).toBeUndefined();
  });

  it('refuses unresolvable and endless references', () => {
    expect(() =>
      prepareSchema({ properties: { a: { $ref: '#/$defs/Missing' } } })
    ).toThrow('unresolvable');
    expect(() =>
      prepareSchema({
        $defs: { Loop: { properties: { next: { $ref: '#/$defs/Loop' } } } },
        $ref: '#/$defs/Loop'
      })
    ).toThrow('recursive');
  });
});

describe('cleanFormData', () => {
  const prepared = prepareSchema(specSchema as any);

  it('drops undefined and empty optional strings but keeps empty required ones', () => {
    const data = {
      name: 'app',
      description: '',
      icon: '',
      cwd: undefined,
      command: ['python', '-m', 'http.server', '{port}'],
      env: { A: '1' },
      resources: { limits: { cpu: '', memory: '1Gi' }, requests: {} },
      ports: [{ name: 'metrics', port: 0 }, undefined]
    };
    expect(cleanFormData(data, prepared.schema, prepared)).toEqual({
      name: 'app',
      description: '',
      command: ['python', '-m', 'http.server', '{port}'],
      env: { A: '1' },
      resources: { limits: { memory: '1Gi' }, requests: {} },
      ports: [{ name: 'metrics', port: 0 }]
    });
  });
});

describe('field errors', () => {
  const prepared = prepareSchema(specSchema as any);

  it('parses the server error paths', () => {
    expect(parseFieldPath('resources.limits.cpu')).toEqual([
      'resources',
      'limits',
      'cpu'
    ]);
    expect(parseFieldPath('ports[0].name')).toEqual(['ports', 0, 'name']);
    expect(parseFieldPath('')).toEqual([]);
  });

  it('puts each message on the field it names', () => {
    const tree = errorsToTree(
      [
        { field: 'resources.limits.cpu', message: 'not a quantity' },
        { field: 'ports[1].name', message: 'bad name' },
        { field: 'env.1BAD', message: 'not a variable name' },
        { field: 'name', message: 'too long' },
        { field: 'name', message: 'reserved' },
        { field: '', message: 'set command, image or url' }
      ],
      prepared.schema
    );
    expect(tree.resources.limits.cpu.__errors).toEqual(['not a quantity']);
    expect(tree.ports[1].name.__errors).toEqual(['bad name']);
    expect(tree.env['1BAD'].__errors).toEqual(['not a variable name']);
    expect(tree.name.__errors).toEqual(['too long', 'reserved']);
    expect(tree.__errors).toEqual(['set command, image or url']);
  });

  it('keeps the part of a path the form has no field for in the message', () => {
    const tree = errorsToTree(
      [{ field: 'command.str', message: 'needs shell: true' }],
      prepared.schema
    );
    expect(tree.command.__errors).toEqual(['str: needs shell: true']);
    const unknown = errorsToTree(
      [{ field: 'nonsense.deep', message: 'unknown field' }],
      prepared.schema
    );
    expect(unknown.__errors).toEqual(['nonsense.deep: unknown field']);
  });
});

describe('defaultsFor', () => {
  it('starts a new spec from the schema defaults, without nulls', () => {
    const defaults = defaultsFor(prepareSchema(specSchema as any).schema);
    expect(defaults).toMatchObject({
      description: '',
      shell: false,
      port: 0,
      replicas: 1,
      restart_policy: 'always'
    });
    expect('icon' in defaults).toBe(false);
    expect('name' in defaults).toBe(false);
  });
});
