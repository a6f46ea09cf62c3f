import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildModel,
  nodeInfoFrom,
  servicePortsFor,
  validateEndpointSlice,
  validateService,
  type EndpointSliceInfo,
} from '../../compiler/model/build.js';
import { loadObjects } from '../../compiler/model/load.js';
import { node, opts, service, slice } from './fixtures.js';

describe('per-object entry points', () => {
  const text = readFileSync(new URL('../../examples/cluster.yaml', import.meta.url), 'utf8');

  it('compose to the same model as buildModel', () => {
    const { objects } = loadObjects(text);
    const options = opts({ nodeName: 'node-a' });
    const kindOf = (o: unknown): unknown => (o as { kind?: unknown }).kind;
    const nodeObj = objects.find((o) => kindOf(o) === 'Node' && (o as { metadata: { name: string } }).metadata.name === 'node-a');
    const nodeInfo = nodeInfoFrom(nodeObj, options).value;
    expect(nodeInfo).toBeDefined();
    if (nodeInfo === undefined) return;
    const slices = new Map<string, EndpointSliceInfo[]>();
    for (const o of objects.filter((x) => kindOf(x) === 'EndpointSlice')) {
      const v = validateEndpointSlice(o).value;
      if (v !== undefined) slices.set(v.service, [...(slices.get(v.service) ?? []), v.slice]);
    }
    const services = objects
      .filter((x) => kindOf(x) === 'Service')
      .map((o) => validateService(o).value)
      .filter((s) => s !== undefined)
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    const ports = services.flatMap((s) => servicePortsFor(s, slices.get(`${s.metadata.namespace}/${s.metadata.name}`) ?? [], nodeInfo));
    expect(ports).toEqual(buildModel(objects, options).servicePorts);
  });

  it('report problems per object', () => {
    const bad = validateService(service('ns', 'svc', { clusterIP: '10.96.0.1', ports: [{ port: 0 }] }));
    expect(bad.value).toBeUndefined();
    expect(bad.problems).toEqual([
      { kind: 'Service', namespace: 'ns', name: 'svc', field: 'spec.ports[0].port', message: 'expected a port number 1..65535 (0 is not a valid port)' },
    ]);
    const partly = validateEndpointSlice(slice('ns', 'svc-a', 'svc', 'IPv6', [{ port: 80 }], [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }]));
    expect(partly.value?.slice.endpoints.map((e) => e.ip)).toEqual(['fd00::1']);
    expect(partly.problems).toHaveLength(1);
    expect(validateEndpointSlice(slice('ns', 'x', 'svc', 'FQDN', [], [])).value).toBeUndefined();
    expect(nodeInfoFrom(node('n', 'z', [{ type: 'InternalIP', address: 'bad' }]), opts({ nodeName: 'n' })).problems).toMatchObject([
      { kind: 'Node', name: 'n', field: 'status.addresses[0].address' },
    ]);
    expect(validateService('nope').problems).toHaveLength(1);
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
