// Random clusters whose Services fight over keys (issue 11): cluster IPs, externalIPs, LB IPs and
// nodePorts drawn from small shared pools, so that a Service's own cluster IP listed twice, shared
// external/LB IPs, cluster-IP+port and nodePort collisions, and nested or 0.0.0.0/0 source ranges
// are common; sequences of such clusters move ownership of keys in one change.

import fc from 'fast-check';
import type { Spec } from './conflict-reproducers.js';

const CLUSTER_IPS = ['10.96.0.1', '10.96.0.2', '10.96.0.3'];
/** Addresses users may set: two external ones and the cluster IPs. */
const USER_IPS = ['203.0.113.1', '203.0.113.2', ...CLUSTER_IPS];
const RANGES = [[], ['0.0.0.0/0'], ['10.0.0.0/8', '10.1.0.0/16'], ['192.168.0.0/16', '192.168.0.1/32', '172.16.0.0/12'], ['198.51.100.0/24']];

const portArb = fc.constantFrom(
  { name: 'dns', protocol: 'TCP' as const, port: 53 },
  { name: 'dns-udp', protocol: 'UDP' as const, port: 53 },
  { name: 'http', protocol: 'TCP' as const, port: 80 },
);

export const serviceArb = (name: string): fc.Arbitrary<Spec> =>
  fc
    .record({
      namespace: fc.constantFrom('ns-a', 'ns-b'),
      created: fc.constantFrom('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z', undefined),
      clusterIP: fc.constantFrom(...CLUSTER_IPS),
      ports: fc.uniqueArray(portArb, { minLength: 1, maxLength: 2, selector: (p) => p.name }),
      type: fc.constantFrom('ClusterIP' as const, 'NodePort' as const, 'LoadBalancer' as const),
      nodePorts: fc.constantFrom(30001, 30002),
      externalIPs: fc.subarray(USER_IPS, { maxLength: 2 }),
      lbIPs: fc.subarray(USER_IPS, { maxLength: 2 }),
      ranges: fc.constantFrom(...RANGES),
      etpLocal: fc.boolean(),
      itpLocal: fc.boolean(),
      endpoints: fc.integer({ min: 0, max: 3 }),
      localFirst: fc.boolean(),
    })
    .map((r): Spec => {
      const lb = r.type === 'LoadBalancer';
      const external = r.type !== 'ClusterIP' || r.externalIPs.length > 0;
      const seed = name.charCodeAt(name.length - 1);
      return {
        name,
        namespace: r.namespace,
        ...(r.created ? { created: r.created } : {}),
        clusterIP: r.clusterIP,
        type: r.type,
        ports: r.ports.map((p, k) => ({ ...p, ...(r.type !== 'ClusterIP' ? { nodePort: r.nodePorts + k * 10 } : {}) })),
        ...(r.externalIPs.length > 0 ? { externalIPs: r.externalIPs } : {}),
        ...(lb ? { loadBalancerIPs: r.lbIPs, loadBalancerSourceRanges: [...r.ranges] } : {}),
        ...(r.etpLocal && external ? { externalTrafficPolicy: 'Local' as const } : {}),
        ...(r.itpLocal ? { internalTrafficPolicy: 'Local' as const } : {}),
        slices: [
          {
            targetPort: 8000 + (seed % 50),
            endpoints: Array.from({ length: r.endpoints }, (_, i) => ({ ip: `10.244.${seed}.${i + 1}`, node: (i === 0) === r.localFirst ? 'node-a' : 'node-b' })),
          },
        ],
      };
    });

const NAMES = ['s0', 's1', 's2', 's3', 's4'];

/** A cluster: a subset of the services, each with random claims. */
export const collidingClusterArb: fc.Arbitrary<Spec[]> = fc
  .tuple(...NAMES.map((n) => fc.option(serviceArb(n), { nil: undefined, freq: 4 })))
  .map((xs) => xs.filter((x): x is Spec => x !== undefined))
  // One Service per namespace/name.
  .map((xs) => xs.filter((x, i) => xs.findIndex((y) => y.name === x.name && y.namespace === x.namespace) === i));

/**
 * A sequence of clusters: at each step every Service is kept as it was, replaced by a random
 * version, removed or added — so keys change owner, and unchanged Services stay the same objects.
 */
export const collidingSequenceArb = (min: number, max: number): fc.Arbitrary<Spec[][]> =>
  fc
    .array(fc.tuple(collidingClusterArb, fc.array(fc.boolean(), { minLength: NAMES.length, maxLength: NAMES.length })), { minLength: min, maxLength: max })
    .map((steps) => {
      const out: Spec[][] = [];
      let prev: Spec[] = [];
      for (const [fresh, keep] of steps) {
        const next = NAMES.flatMap((n, i) => {
          const old = prev.find((x) => x.name === n);
          const now = fresh.find((x) => x.name === n);
          const pick = keep[i] && old !== undefined ? old : now;
          return pick === undefined ? [] : [pick];
        });
        out.push(next);
        prev = next;
      }
      return out;
    });
