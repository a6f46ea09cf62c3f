// Kernel-load property (issue #3): random clusters mixing every Service feature — dual-stack and
// IPv6-only, TCP/UDP/SCTP, NodePorts, externalIPs, LB IPs with source ranges (node inside or not),
// ETP/ITP Local, session affinity, every endpoint condition, zones with full/partial hints, and the
// options nodeZone / nodePortAddresses / nodeIPs / masqueradeAll — always compile to a transaction
// `nft -j -f` accepts, twice in a row (the second replaces the first). For every cluster IP, trace
// on the same IR only ever reaches endpoints of that service.
// Issue 11: the clusters also hold shared and colliding keys — a Service's own cluster IP listed
// as its externalIP/LB IP, externalIPs and LB IPs shared between Services (and equal to another
// Service's cluster IP), the same IP as externalIP and LB IP, nodePort and cluster-IP+port
// collisions, nested and 0.0.0.0/0 source ranges: the model resolves them (one owner per key), the
// ruleset holds the invariants (ir/invariants.ts), the kernel accepts it, and trace reaches only
// the endpoints of the key's owner.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileObjects } from '../../compiler/index.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { predictedEndpoints, traceConnection } from '../../ir/interpret.js';
import { checkRuleset } from '../../ir/invariants.js';
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
        // Mostly well-known ports, so that keys shared between Services collide.
        fc.record({ port: fc.oneof(fc.constantFrom(53, 80), fc.integer({ min: 1, max: 65535 })), protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const) }),
        { minLength: 1, maxLength: 3, selector: (p) => `${p.port}/${p.protocol}` },
      ),
      endpoints: fc.array(endpointArb, { maxLength: 9 }),
      allHinted: fc.boolean(),
      kind: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
      externalIPs: fc.integer({ min: 0, max: 2 }),
      lbIPs: fc.integer({ min: 1, max: 2 }),
      ranges: fc.constantFrom('none', 'node-inside', 'node-outside', 'nested', 'all'),
      etpLocal: fc.boolean(),
      itpLocal: fc.boolean(),
      affinity: fc.option(fc.integer({ min: 1, max: 86400 }), { nil: undefined }),
      preferClose: fc.boolean(),
      // Colliding keys (issue 11): indexes into small shared pools, or a claim of the own cluster IP.
      shareExt: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
      shareLb: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
      extIsLb: fc.boolean(),
      sameClusterIPAs: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
      sharedNodePort: fc.boolean(),
      age: fc.integer({ min: 0, max: 3 }),
    })
    .map((r): ServiceSpec & { created: string } => {
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
          : r.ranges === 'nested'
            ? [ipOf(f, '10.0.0.0/8', 'fd00:10::/32'), ipOf(f, '10.1.0.0/16', 'fd00:10:1::/48'), ipOf(f, '192.168.0.0/16', 'fd00:192::/32'), ipOf(f, '192.168.0.0/24', 'fd00:192:168::/64')]
            : r.ranges === 'all'
              ? [ipOf(f, '0.0.0.0/0', '::/0'), ipOf(f, '10.0.0.0/8', 'fd00:10::/32')]
              : [ipOf(f, '172.16.0.0/12', 'fd00:172::/48')];
      // Shared pool: two external addresses and the cluster IPs of services 1..4.
      const pool = (f: 'IPv4' | 'IPv6', k: number): string =>
        k < 2 ? ipOf(f, `203.0.113.${k + 1}`, `2001:db8:ff::${k + 1}`) : ipOf(f, `10.96.0.${k - 1}`, `fd00:10:96::${(k - 1).toString(16)}`);
      const own = (f: 'IPv4' | 'IPv6'): string => ipOf(f, `10.96.0.${cip}`, `fd00:10:96::${cip.toString(16)}`);
      const cip = r.sameClusterIPAs ?? i;
      const extra = (k: number | undefined, f: 'IPv4' | 'IPv6'): string[] => (k === undefined ? [] : [k === 5 ? own(f) : pool(f, k)]);
      return {
        name: `s${i}`,
        created: `202${r.age}-01-01T00:00:00Z`,
        clusterIPs: families.map(own),
        ipFamilies: families,
        type: r.kind,
        ports: r.ports.map((p, k) => ({
          name: `p${k}`,
          protocol: p.protocol,
          port: p.port,
          ...(r.kind !== 'ClusterIP' ? { nodePort: r.sharedNodePort ? 30000 + k : 30000 + i * 4 + k } : {}),
        })),
        ...(r.externalIPs > 0 || r.shareExt !== undefined || (lb && r.extIsLb)
          ? {
              externalIPs: families.flatMap((f) => [
                ...Array.from({ length: r.externalIPs }, (_, k) => ipOf(f, `203.0.${i}.${k + 1}`, `2001:db8:${hx}::${k + 1}`)),
                ...extra(r.shareExt, f),
                ...(lb && r.extIsLb ? [ipOf(f, `198.51.${i}.1`, `2001:db8:1${hx}::1`)] : []),
              ]),
            }
          : {}),
        ...(lb ? { loadBalancerIPs: families.flatMap((f) => [...Array.from({ length: r.lbIPs }, (_, k) => ipOf(f, `198.51.${i}.${k + 1}`, `2001:db8:1${hx}::${k + 1}`)), ...extra(r.shareLb, f)]) } : {}),
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
        const objects = objectsFor(services, nodes) as { kind: string; metadata: { name: string; creationTimestamp?: string } }[];
        for (const o of objects) if (o.kind === 'Service') o.metadata.creationTimestamp = services.find((s) => s.name === o.metadata.name)?.created;
        const { model, ruleset } = compileObjects(objects, opts);
        expect(model.problems).toEqual([]);
        expect(checkRuleset(ruleset)).toEqual([]);
        const json = JSON.stringify(rulesetToJson(ruleset));
        await nftLoad(ns, json, { format: 'json' });
        await nftLoad(ns, json, { format: 'json' });
        const listing = await nftList(ns);
        expect(listing).toContain('table ip nftproxy');
        expect(listing).toContain('table ip6 nftproxy');

        // Every cluster-IP key the model kept: trace reaches only its owner's endpoints.
        for (const sp of model.servicePorts) {
          if (sp.clusterIP === undefined) continue;
          const v6 = sp.family === 6;
          const allowed = new Set(sp.endpoints.map((e) => (v6 ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`)));
          const out = traceConnection(
            ruleset,
            { family: v6 ? 'ip6' : 'ip', src: v6 ? 'fd00:10:244::99' : '10.244.99.99', dst: sp.clusterIP, proto: sp.protocol, dport: sp.port },
            { localAddresses: ['192.168.0.1', 'fd00:192:168::1'], sourceIsLocal: false },
          );
          for (const k of predictedEndpoints(out).keys()) expect(allowed, `${sp.id} ${sp.clusterIP}:${sp.port}/${sp.protocol} → ${k}`).toContain(k);
        }
      }),
      { numRuns: 20 },
    );
  }, 120_000);
});
