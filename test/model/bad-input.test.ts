import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/model/build.js';
import { loadObjects } from '../../compiler/model/load.js';
import type { Problem } from '../../compiler/model/types.js';
import { opts, service, slice } from './fixtures.js';

describe('examples/bad-objects.yaml', () => {
  const { objects } = loadObjects(readFileSync(new URL('../../examples/bad-objects.yaml', import.meta.url), 'utf8'));
  const model = buildModel(objects, opts({ nodeName: 'node-a' }));
  const find = (kind: string, name: string | undefined, field: string): Problem | undefined =>
    model.problems.find((p) => p.kind === kind && p.name === name && p.field === field);

  it.each<[string, string | undefined, string, RegExp]>([
    ['Service', 'bad-ip', 'spec.clusterIP', /expected an IP address or "None", got "10\.96\.1\.300"/],
    ['Service', 'port-zero', 'spec.ports[0].port', /1\.\.65535.*0 is not a valid port/],
    ['Service', 'port-too-big', 'spec.ports[1].port', /expected a port number 1\.\.65535/],
    ['Service', 'bad-protocol', 'spec.ports[0].protocol', /expected protocol TCP, UDP or SCTP/],
    ['Service', undefined, 'metadata.name', /required field is missing/],
    ['Service', 'dup-names', 'spec.ports[1].name', /unique port names, "http" is also spec\.ports\[0\]/],
    ['Service', 'unnamed-ports', 'spec.ports[0].name', /multi-port Service must be named/],
    ['Service', 'unnamed-ports', 'spec.ports[1].name', /multi-port Service must be named/],
    ['Service', 'a-very-long-service-name-that-goes-on-and-on-beyond-the-dns-label-limit', 'metadata.name', /at most 63 characters/],
    ['Service', 'bad-namespace', 'metadata.namespace', /DNS-1123 label/],
    ['Service', 'bad-nodeport', 'spec.ports[0].nodePort', /nodePort in 1\.\.65535/],
    ['Service', 'bad-source-range', 'spec.loadBalancerSourceRanges[1]', /expected a CIDR.*10\.0\.0\.0\/33/],
    ['Service', 'bad-timeout', 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', /timeoutSeconds in 1\.\.86400/],
    ['Service', 'no-cluster-ip', 'spec.clusterIP', /required field is missing.*cluster IP/],
    ['EndpointSlice', 'ok-abcde', 'ports[1].port', /0 is not a valid port/],
    ['EndpointSlice', 'ok-abcde', 'endpoints[1].addresses[0]', /expected an IPv4 address, got "10\.244\.0\.300"/],
    ['EndpointSlice', 'ok-abcde', 'endpoints[2].addresses[0]', /addressType.*fd00:10:244::10/],
    ['EndpointSlice', 'ok-abcde', 'endpoints[3].addresses', /at least one address/],
    ['EndpointSlice', 'orphan-xyz12', 'metadata.labels["kubernetes.io/service-name"]', /required label is missing/],
    ['EndpointSlice', 'ok-ipv5', 'addressType', /IPv4, IPv6 or FQDN/],
    ['input', 'mystery', '[22].kind', /object kind/],
  ])('%s %s: %s', (kind, name, field, message) => {
    const p = find(kind, name, field);
    expect(p, JSON.stringify(model.problems, null, 1)).toBeDefined();
    expect(p?.message).toMatch(message);
  });

  it('reports nothing else (one problem per case, no noise)', () => {
    expect(model.problems).toHaveLength(21);
  });

  it('names the namespace of every namespaced problem', () => {
    for (const p of model.problems.filter((q) => q.kind === 'Service' || q.kind === 'EndpointSlice')) {
      expect(p.namespace, JSON.stringify(p)).toMatch(/^(good|bad|Bad_NS)$/);
    }
  });

  it('keeps the valid objects and the valid parts of the partly bad slice', () => {
    expect(model.servicePorts.map((p) => p.id)).toEqual(['good/ok:http']);
    expect(model.servicePorts[0]?.endpoints).toEqual([
      { ip: '10.244.0.10', port: 8080, nodeName: 'node-a', ready: true, serving: true, terminating: false, isLocal: true },
    ]);
  });
});

describe('buildModel never throws', () => {
  // JSON-ish values shaped a bit like Kubernetes objects, so the generator reaches deep fields.
  const scalar = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('None', '10.0.0.1', 'fd00::1', 'TCP', 'Local', 'IPv4', 'IPv6'));
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 3 })),
  })).value;
  const kind = fc.constantFrom('Service', 'EndpointSlice', 'Node', 'List', undefined, 7);
  const keyed = <T>(keys: string[], v: fc.Arbitrary<T>) => fc.record(Object.fromEntries(keys.map((k) => [k, v])) as Record<string, fc.Arbitrary<T>>, { requiredKeys: [] });
  const objectish = fc.record({
    kind,
    apiVersion: fc.constantFrom('v1', 'discovery.k8s.io/v1', undefined),
    metadata: fc.oneof(json, keyed(['name', 'namespace'], fc.oneof(fc.constantFrom('svc', 'ns', ''), json)), fc.constant({ name: 'svc', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'svc' } })),
    spec: fc.oneof(json, keyed(['clusterIP', 'clusterIPs', 'ports', 'type', 'ipFamilies', 'externalIPs', 'loadBalancerSourceRanges', 'sessionAffinityConfig'], json)),
    addressType: fc.oneof(json, fc.constantFrom('IPv4', 'IPv6', 'FQDN')),
    ports: json,
    endpoints: fc.oneof(json, fc.array(keyed(['addresses', 'conditions', 'nodeName', 'hints'], json), { maxLength: 3 })),
    status: json,
  }, { requiredKeys: [] });

  it('on arbitrary objects, and every problem names a kind and says something', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(objectish, json), { maxLength: 6 }), fc.constantFrom(undefined, 'svc'), (objects, nodeName) => {
        const m = buildModel(objects, opts(nodeName === undefined ? {} : { nodeName }));
        for (const p of m.problems) {
          expect(p.kind.length).toBeGreaterThan(0);
          expect(p.message.length).toBeGreaterThan(0);
        }
        for (const sp of m.servicePorts) {
          for (const e of sp.endpoints) expect(e.port).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('one bad object does not hide the good ones next to it', () => {
    fc.assert(
      fc.property(fc.array(json, { maxLength: 4 }), (junk) => {
        const good = [
          service('ns', 'svc', { clusterIP: '10.96.0.1', ports: [{ name: 'http', port: 80 }] }),
          slice('ns', 'svc-a', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.0.0.1' }]),
        ];
        const m = buildModel([...junk, ...good], opts());
        expect(m.servicePorts.map((p) => p.endpoints.map((e) => `${e.ip}:${e.port}`))).toContainEqual(['10.0.0.1:8080']);
      }),
      { numRuns: 200 },
    );
  });
});
