// Kernel-load property (issue #3): random clusters mixing every Service feature — dual-stack and
// IPv6-only, TCP/UDP/SCTP, NodePorts, externalIPs, LB IPs with source ranges (node inside or not),
// ETP/ITP Local, session affinity, every endpoint condition, zones with full/partial hints, and the
// options nodeZone / nodePortAddresses / nodeIPs / masqueradeAll — always compile to a transaction
// `nft -j -f` accepts, twice in a row (the second replaces the first). For every cluster IP, trace
// on the same IR only ever reaches endpoints of that service.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileObjects } from '../../compiler/index.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { predictedEndpoints, traceConnection } from '../../ir/interpret.js';
import { createNamespace, destroyNamespace, nftList, nftLoad } from '../harness/index.js';
import { objectsFor, type EndpointSpec, type ServiceSpec } from '../datapath/cluster.js';

let ns: string;
beforeAll(async () => {
  ns = await createNamespace('feat-prop');
});
afterAll(async () => {
  if (ns) await destroyNamespace(ns);
});

const conditionArb = fc.constantFrom(
  { ready: true, serving: true, terminating: false },
  { ready: false, serving: false, terminating: false },
  { ready: false, serving: true, terminating: true },
  { ready: false, serving: false, terminating: true },
  { ready: false, serving: true, terminating: false },
);
const zoneArb = fc.constantFrom('zone-a', 'zone-b', 'zone-c');
const endpointArb = fc.record({
  node: fc.constantFrom('node-a', 'node-b', undefined),
  cond: conditionArb,
  zone: zoneArb,
  hinted: fc.boolean(),
});

const serviceArb = (i: number) =>
  fc
    .record({
      stack: fc.constantFrom('v4', 'v6', 'dual'),
      ports: fc.uniqueArray(
        fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const) }),
        { minLength: 1, maxLength: 3, selector: (p) => `${p.port}/${p.protocol}` },
      ),
      endpoints: fc.array(endpointArb, { maxLength: 9 }),
      allHinted: fc.boolean(),
      kind: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
      externalIPs: fc.integer({ min: 0, max: 2 }),
      lbIPs: fc.integer({ min: 1, max: 2 }),
      ranges: fc.constantFrom('none', 'node-inside', 'node-outside'),
      etpLocal: fc.boolean(),
      itpLocal: fc.boolean(),
      affinity: fc.option(fc.integer({ min: 1, max: 86400 }), { nil: undefined }),
      preferClose: fc.boolean(),
    })
    .map((r): ServiceSpec => {
      const families: ('IPv4' | 'IPv6')[] = r.stack === 'dual' ? ['IPv4', 'IPv6'] : r.stack === 'v6' ? ['IPv6'] : ['IPv4'];
      const hx = i.toString(16);
      const ipOf = (f: 'IPv4' | 'IPv6', v4: string, v6: string) => (f === 'IPv4' ? v4 : v6);
      const eps = (f: 'IPv4' | 'IPv6'): EndpointSpec[] =>
        r.endpoints.map((e, k) => ({
          ip: ipOf(f, `10.244.${i}.${k + 1}`, `fd00:10:244::${hx}:${(k + 1).toString(16)}`),
          ...(e.node ? { node: e.node } : {}),
          ...e.cond,
          zone: e.zone,
          ...(r.allHinted || e.hinted ? { hints: [e.zone] } : {}),
        }));
      const external = r.kind !== 'ClusterIP' || r.externalIPs > 0;
      const lb = r.kind === 'LoadBalancer';
      const rangesFor = (f: 'IPv4' | 'IPv6'): string[] =>
        r.ranges === 'node-inside'
          ? [ipOf(f, '192.168.0.0/24', 'fd00:192:168::/64'), ipOf(f, '10.0.0.0/8', 'fd00:10::/32')]
          : [ipOf(f, '172.16.0.0/12', 'fd00:172::/48')];
      return {
        name: `s${i}`,
        clusterIPs: families.map((f) => ipOf(f, `10.96.0.${i}`, `fd00:10:96::${hx}`)),
        ipFamilies: families,
        type: r.kind,
        ports: r.ports.map((p, k) => ({
          name: `p${k}`,
          protocol: p.protocol,
          port: p.port,
          ...(r.kind !== 'ClusterIP' ? { nodePort: 30000 + i * 4 + k } : {}),
        })),
        ...(r.externalIPs > 0
          ? { externalIPs: families.flatMap((f) => Array.from({ length: r.externalIPs }, (_, k) => ipOf(f, `203.0.${i}.${k + 1}`, `2001:db8:${hx}::${k + 1}`))) }
          : {}),
        ...(lb ? { loadBalancerIPs: families.flatMap((f) => Array.from({ length: r.lbIPs }, (_, k) => ipOf(f, `198.51.${i}.${k + 1}`, `2001:db8:1${hx}::${k + 1}`))) } : {}),
        ...(lb && r.ranges !== 'none' ? { loadBalancerSourceRanges: families.flatMap(rangesFor) } : {}),
        ...(r.etpLocal && external ? { externalTrafficPolicy: 'Local' as const } : {}),
        ...(r.itpLocal ? { internalTrafficPolicy: 'Local' as const } : {}),
        ...(r.affinity ? { affinitySeconds: r.affinity } : {}),
        ...(r.preferClose ? { trafficDistribution: 'PreferClose' } : {}),
        slices: families.map((f) => ({ family: f, targetPort: 8080 + (i % 7), endpoints: eps(f) })),
      };
    });

const clusterArb = fc.integer({ min: 1, max: 10 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => serviceArb(i + 1))));

const optionsArb = fc.record({
  nodeZone: fc.constantFrom(undefined, 'zone-a', 'zone-b'),
  nodePortAddresses: fc.constantFrom([], ['192.168.0.0/24', 'fd00:192:168::/64'], ['127.0.0.0/8', '198.51.100.0/24', '::1/128']),
  nodeIPs: fc.constantFrom([], ['192.168.0.1', 'fd00:192:168::1'], ['192.168.0.1', '198.51.100.1', 'fd00:192:168::1']),
  masqueradeAll: fc.boolean(),
  clusterCIDRs: fc.constantFrom([], ['10.244.0.0/16', 'fd00:10:244::/64']),
});

describe('random clusters with every feature', () => {
  it('load into the kernel with nft -j -f, twice; trace stays within each service', async () => {
    await fc.assert(
      fc.asyncProperty(clusterArb, optionsArb, async (services, o) => {
        const opts: CompileOptions = {
          ...defaultCompileOptions,
          nodeName: 'node-a',
          nodePortAddresses: [...o.nodePortAddresses],
          nodeIPs: [...o.nodeIPs],
          clusterCIDRs: [...o.clusterCIDRs],
          masqueradeAll: o.masqueradeAll,
          ...(o.nodeZone ? { nodeZone: o.nodeZone } : {}),
        };
        const nodes = [
          { name: 'node-a', ip: '192.168.0.1', zone: 'zone-a' },
          { name: 'node-b', ip: '192.168.0.2', zone: 'zone-b' },
        ];
        const { model, ruleset } = compileObjects(objectsFor(services, nodes), opts);
        expect(model.problems).toEqual([]);
        const json = JSON.stringify(rulesetToJson(ruleset));
        await nftLoad(ns, json, { format: 'json' });
        await nftLoad(ns, json, { format: 'json' });
        const listing = await nftList(ns);
        expect(listing).toContain('table ip nftproxy');
        expect(listing).toContain('table ip6 nftproxy');

        for (const s of services) {
          for (const ip of s.clusterIPs ?? []) {
            const fam = ip.includes(':') ? 'IPv6' : 'IPv4';
            const allowed = new Set(
              (s.slices ?? []).filter((sl) => (sl.family ?? 'IPv4') === fam).flatMap((sl) => sl.endpoints.map((e) => (fam === 'IPv6' ? `[${e.ip}]:${sl.targetPort}` : `${e.ip}:${sl.targetPort}`))),
            );
            for (const p of s.ports) {
              const proto = (p.protocol ?? 'TCP').toLowerCase() as 'tcp' | 'udp' | 'sctp';
              const out = traceConnection(
                ruleset,
                { family: fam === 'IPv6' ? 'ip6' : 'ip', src: fam === 'IPv6' ? 'fd00:10:244::99' : '10.244.99.99', dst: ip, proto, dport: p.port },
                { localAddresses: ['192.168.0.1', 'fd00:192:168::1'], sourceIsLocal: false },
              );
              for (const k of predictedEndpoints(out).keys()) expect(allowed, `${s.name} ${ip}:${p.port}/${proto} → ${k}`).toContain(k);
            }
          }
        }
      }),
      { numRuns: 20 },
    );
  }, 120_000);
});
