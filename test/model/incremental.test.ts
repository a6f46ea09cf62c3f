import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/model/build.js';
import { loadObjects } from '../../compiler/model/load.js';
import { node, opts, service, slice } from './fixtures.js';

describe('problems are reported per object, and cost only that object', () => {
  it('an invalid Service, a partly invalid slice, an FQDN slice and a bad Node address', () => {
    const objects = [
      service('ns', 'svc', { clusterIP: '10.96.0.1', ports: [{ port: 0 }] }),
      service('ns', 'ok', { clusterIP: '10.96.0.2', ports: [{ port: 80 }] }),
      slice('ns', 'ok-a', 'ok', 'IPv4', [{ port: 8080 }], [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }]),
      slice('ns', 'ok-f', 'ok', 'FQDN', [], []),
      node('n', 'z', [{ type: 'InternalIP', address: 'bad' }]),
      'nope',
    ];
    const m = buildModel(objects, opts({ nodeName: 'n' }));
    expect(m.problems).toContainEqual({ kind: 'Service', namespace: 'ns', name: 'svc', field: 'spec.ports[0].port', message: 'expected a port number 1..65535 (0 is not a valid port)' });
    expect(m.problems.filter((p) => p.kind === 'EndpointSlice' && p.name === 'ok-a')).toHaveLength(1);
    expect(m.problems.filter((p) => p.name === 'ok-f')).toEqual([]);
    expect(m.problems).toContainEqual(expect.objectContaining({ kind: 'Node', name: 'n', field: 'status.addresses[0].address' }));
    expect(m.problems.length).toBe(4);
    // Only the valid service and the valid endpoint survive.
    expect(m.servicePorts.map((p) => [p.id, p.endpoints.map((e) => e.ip)])).toEqual([['ns/ok', ['10.0.0.1']]]);
  });
});

describe('inputs', () => {
  it('are never mutated (objects come from shared informer caches)', () => {
    const { objects } = loadObjects(readFileSync(new URL('../../examples/bad-objects.yaml', import.meta.url), 'utf8'));
    const withNulls = [
      { ...service('ns', 'svc', { clusterIP: '10.96.0.1', ports: [{ name: 'http', port: 80 }], externalIPs: null }), status: null },
      { ...slice('ns', 'svc-a', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.0.0.1' }]), endpoints: [{ addresses: ['10.0.0.1'], zone: null }] },
    ];
    const all = [...objects, ...withNulls];
    const before = JSON.stringify(all);
    const frozen = structuredClone(all).map((o) => deepFreeze(o));
    const m = buildModel(frozen, opts());
    expect(JSON.stringify(all)).toBe(before);
    expect(m.servicePorts.find((p) => p.id === 'ns/svc:http')?.endpoints.map((e) => e.ip)).toEqual(['10.0.0.1']);
  });
});

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
