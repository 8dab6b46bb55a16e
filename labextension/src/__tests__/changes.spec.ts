import { mergePatch, sameValue, withoutNulls } from '../changes';
import { asBackends, schemaForBackend } from '../support';

describe('mergePatch', () => {
  it('is undefined when only blanks changed spelling (null, [], {}, "")', () => {
    const served = {
      readiness: { path: '/', statuses: null, timeout: null },
      env: {}
    };
    const shown = {
      readiness: { path: '/', statuses: [], timeout: '' },
      env: {},
      ports: []
    };
    expect(sameValue(served, shown)).toBe(true);
    expect(mergePatch(served, shown)).toBeUndefined();
  });

  it('names changed leaves, whole lists, and null for what was cleared', () => {
    expect(
      mergePatch(
        {
          readiness: { path: '/', statuses: null },
          cwd: '/srv',
          ports: [{ name: 'a' }]
        },
        {
          readiness: { path: '/health', statuses: [] },
          cwd: '',
          ports: [{ name: 'a' }, { name: 'b' }]
        }
      )
    ).toEqual({
      readiness: { path: '/health' },
      cwd: null,
      ports: [{ name: 'a' }, { name: 'b' }]
    });
  });

  it('drops what was cleared from a new spec', () => {
    expect(withoutNulls({ a: null, b: { c: null, d: 1 } })).toEqual({
      b: { d: 1 }
    });
  });
});

describe('schemaForBackend', () => {
  const schema = {
    properties: {
      image: { type: 'string' },
      backend: { type: 'string' },
      init: {
        type: 'array',
        items: { properties: { image: { type: 'string' } } }
      }
    }
  };
  const backends = {
    default: 'local',
    backends: [
      { name: 'local', unsupported: ['image', 'init.image'] },
      { name: 'kubernetes', unsupported: [] }
    ]
  };
  const note = (b: string) => `Not for ${b}.`;

  it('drops refused fields, marks nested ones, offers the backends', () => {
    const out = schemaForBackend(schema, backends, null, {}, note);
    expect(out.properties.image).toBeUndefined();
    expect(out.properties.init.items.properties.image.description).toBe(
      'Not for local.'
    );
    expect(out.properties.backend.enum).toEqual(['local', 'kubernetes']);
    expect(schema.properties.image).toBeDefined(); // a copy
  });

  it('keeps a refused field the spec already sets, and follows the chosen backend', () => {
    expect(
      schemaForBackend(schema, backends, null, { image: 'x' }, note).properties
        .image['x-unsupported']
    ).toBe(true);
    expect(
      schemaForBackend(schema, backends, 'kubernetes', {}, note).properties
        .image
    ).toBeDefined();
  });
});

describe('asBackends', () => {
  it('takes only an answer shaped like GET backends', () => {
    const good = {
      default: 'local',
      backends: [{ name: 'local', unsupported: ['image'] }]
    };
    expect(asBackends(good)).toBe(good);
    expect(asBackends({ services: [] })).toBeNull();
    expect(asBackends(null)).toBeNull();
    expect(
      asBackends({ default: 'local', backends: [{ name: 'local' }] })
    ).toBeNull();
  });
});
