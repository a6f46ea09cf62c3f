import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError, loadObjects } from '../../compiler/model/load.js';

const kinds = (objects: unknown[]): unknown[] => objects.map((o) => (o as { kind?: unknown }).kind);

describe('loadObjects', () => {
  it('reads the kubectl List dump', () => {
    const { objects } = loadObjects(readFileSync(new URL('../../examples/cluster.yaml', import.meta.url), 'utf8'));
    expect(objects).toHaveLength(19);
    expect(new Set(kinds(objects))).toEqual(new Set(['Service', 'EndpointSlice', 'Node']));
  });

  it('reads multi-document YAML, skipping empty documents and comments', () => {
    const text = `# comment\n---\nkind: Service\nmetadata: {name: a}\n---\n---\n# only a comment\n---\nkind: Node\nmetadata: {name: n}\n`;
    expect(kinds(loadObjects(text).objects)).toEqual(['Service', 'Node']);
  });

  it('reads JSON: a single object and a List', () => {
    expect(kinds(loadObjects('{"kind":"Service","metadata":{"name":"a"}}').objects)).toEqual(['Service']);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ kind: 'Service' }, { kind: 'EndpointSlice' }] });
    expect(kinds(loadObjects(list).objects)).toEqual(['Service', 'EndpointSlice']);
  });

  it('flattens nested Lists and top-level arrays', () => {
    const text = JSON.stringify([
      { kind: 'List', items: [{ kind: 'Service' }, { kind: 'List', items: [{ kind: 'Node' }] }] },
      { kind: 'EndpointSlice' },
    ]);
    expect(kinds(loadObjects(text).objects)).toEqual(['Service', 'Node', 'EndpointSlice']);
  });

  it('fills kind and apiVersion for items of typed API lists (ServiceList)', () => {
    const text = JSON.stringify({ apiVersion: 'v1', kind: 'ServiceList', items: [{ metadata: { name: 'a' } }] });
    expect(loadObjects(text).objects).toEqual([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } }]);
  });

  it('passes non-object list items on for the builder to report', () => {
    const { objects } = loadObjects('kind: List\nitems:\n- kind: Service\n- just a string\n');
    expect(objects).toEqual([{ kind: 'Service' }, 'just a string']);
  });

  it.each([
    ['empty input', ''],
    ['only comments', '# nothing here\n'],
    ['a scalar', 'hello world'],
    ['a number', '42'],
    ['broken YAML', 'kind: Service\n  metadata: [unclosed\n'],
    ['broken JSON', '{"kind": "Service", '],
    ['duplicate keys', 'kind: Service\nkind: Node\n'],
  ])('throws InputError for %s', (_what, text) => {
    expect(() => loadObjects(text)).toThrow(InputError);
  });

  it('says which document is broken', () => {
    expect(() => loadObjects('kind: Service\n---\nkind: [\n')).toThrow(/document 2/);
  });
});
