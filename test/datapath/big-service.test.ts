// A Service with 1,000 endpoints, with real traffic: every endpoint gets 1/N of new connections.
// One backend namespace holds the 1,000 endpoint addresses (on its loopback, routed to it by the
// node) and one echo server bound to the wildcard reports the local address each connection
// reached, i.e. which endpoint the node's DNAT chose. The counts over a few thousand connections
// are checked with a chi-square test (which fails on a biased choice: see the control below), and
// `trace` (the IR interpreter) must give each endpoint exactly probability 1/N.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot, isRoot, NEEDS_ROOT } from '../harness/privileges.js';
import { compileObjects } from '../../compiler/index.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { predictedEndpoints, traceConnection } from '../../ir/interpret.js';
import type { Ruleset } from '../../ir/types.js';
import { createTopology, exec, nftLoad, requestBatch, type Topology } from '../harness/index.js';
import { objectsFor } from './cluster.js';

const N = 1000;
const CONNECTIONS = 5000;
const endpointIp = (k: number): string => `10.245.${k >> 8}.${k & 255}`;
const opts: CompileOptions = { ...defaultCompileOptions, clusterCIDRs: ['10.244.0.0/16', '10.245.0.0/16'], nodeName: 'node-a', nodeIPs: ['192.168.0.1'] };

/** Pearson's chi-square statistic of observed counts against a uniform expectation over `cells`. */
export function chiSquare(counts: Map<string, number>, cells: number, total: number): number {
  const expected = total / cells;
  let stat = 0;
  let seen = 0;
  for (const c of counts.values()) {
    stat += (c - expected) ** 2 / expected;
    seen++;
  }
  return stat + (cells - seen) * expected; // cells never hit contribute (0 - e)² / e = e each
}

/** Upper critical value of chi-square with k degrees of freedom (Wilson–Hilferty), z = 3.29: p = 0.0005. */
export function chiSquareCritical(k: number, z = 3.29): number {
  const a = 2 / (9 * k);
  return k * (1 - a + z * Math.sqrt(a)) ** 3;
}

let topo: Topology;
let ruleset: Ruleset;

beforeAll(async () => {
  if (!isRoot) return; // see describeAsRoot below
  topo = await createTopology({ pods: [{ name: 'big', serve: { tcp: [8080] } }] });
  const pod = topo.pod('big');
  // The 1,000 endpoint addresses live on the backend's loopback; the node routes them to it.
  const script = Array.from({ length: N }, (_, k) => `address add ${endpointIp(k)}/32 dev lo`).join('\n');
  await exec(pod.ns, ['ip', '-batch', '-'], { input: script + '\n' });
  await exec(topo.node.ns, ['ip', 'route', 'add', '10.245.0.0/22', 'via', pod.ipv4]);
  const objects = objectsFor(
    [
      {
        name: 'big',
        clusterIP: '10.96.5.1',
        ports: [{ name: 'http', port: 80, nodePort: 30500 }],
        externalIPs: ['203.0.113.50'],
        slices: Array.from({ length: N / 100 }, (_, s) => ({
          targetPort: 8080,
          endpoints: Array.from({ length: 100 }, (_, j) => ({ ip: endpointIp(s * 100 + j), node: 'node-a' })),
        })),
      },
      // A small service next to it: its lb chain and slots are shared with the big one's pool.
      { name: 'small', clusterIP: '10.96.5.2', ports: [{ name: 'http', port: 80 }], slices: [{ targetPort: 8080, endpoints: [{ ip: endpointIp(7), node: 'node-a' }, { ip: endpointIp(8), node: 'node-a' }] }] },
    ],
    [{ name: 'node-a', ip: '192.168.0.1' }],
  );
  const compiled = compileObjects(objects, opts);
  expect(compiled.model.problems).toEqual([]);
  ruleset = compiled.ruleset;
  await nftLoad(topo.node.ns, JSON.stringify(rulesetToJson(ruleset)), { format: 'json' });
}, 120_000);

afterAll(async () => {
  await topo?.destroy();
});

/** Which endpoint each of `n` new connections reached, by the local address the server saw. */
async function sample(host: string, port: number, n: number): Promise<{ counts: Map<string, number>; failures: number }> {
  const results = await requestBatch(topo.client('client').ns, Array.from({ length: n }, () => ({ proto: 'tcp' as const, host, port })), { concurrency: 16 });
  const counts = new Map<string, number>();
  let failures = 0;
  for (const r of results) {
    if (!r.ok || !r.reply) failures++;
    else counts.set(r.reply.local, (counts.get(r.reply.local) ?? 0) + 1);
  }
  return { counts, failures };
}

describeAsRoot(NEEDS_ROOT.bigTransactions)(`a Service with ${N} endpoints`, () => {
  it('the chi-square check rejects a biased choice (control: the test can fail)', () => {
    // Draws from a layout that gave 10% of the endpoints twice the share, with a seeded generator.
    let seed = 12345;
    const random = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const draw = (weight: (k: number) => number): Map<string, number> => {
      const cum: number[] = [];
      let sum = 0;
      for (let k = 0; k < N; k++) cum.push((sum += weight(k)));
      const counts = new Map<string, number>();
      for (let i = 0; i < CONNECTIONS; i++) {
        const x = random() * sum;
        let lo = 0;
        let hi = N - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((cum[mid] as number) > x) hi = mid;
          else lo = mid + 1;
        }
        counts.set(endpointIp(lo), (counts.get(endpointIp(lo)) ?? 0) + 1);
      }
      return counts;
    };
    expect(chiSquare(draw((k) => (k < N / 10 ? 2 : 1)), N, CONNECTIONS)).toBeGreaterThan(chiSquareCritical(N - 1));
    // ...while the same generator drawing uniformly passes.
    expect(chiSquare(draw(() => 1), N, CONNECTIONS)).toBeLessThan(chiSquareCritical(N - 1));
  });

  it(`trace: each endpoint has probability exactly 1/${N}`, () => {
    const outcomes = traceConnection(ruleset, { family: 'ip', src: '192.168.0.100', dst: '10.96.5.1', proto: 'tcp', dport: 80 }, { localAddresses: ['192.168.0.1'], sourceIsLocal: false });
    const p = predictedEndpoints(outcomes);
    expect(p.size).toBe(N);
    for (let k = 0; k < N; k++) expect(p.get(`${endpointIp(k)}:8080`)).toBeCloseTo(1 / N, 12);
  });

  it(`${CONNECTIONS} connections to the cluster IP spread uniformly (chi-square, p = 0.0005)`, async () => {
    const { counts, failures } = await sample('10.96.5.1', 80, CONNECTIONS);
    expect(failures).toBe(0);
    for (const ip of counts.keys()) expect(ip).toMatch(/^10\.245\./);
    const stat = chiSquare(counts, N, CONNECTIONS);
    console.log(`[big-service] ${counts.size}/${N} endpoints reached, chi-square ${stat.toFixed(0)} (critical ${chiSquareCritical(N - 1).toFixed(0)})`);
    expect(stat).toBeLessThan(chiSquareCritical(N - 1));
    // With 5 connections per endpoint on average, about e^-5 of the endpoints are never hit.
    expect(counts.size).toBeGreaterThan(N * 0.97);
  }, 180_000);

  it('the NodePort and the external IP reach the big service too', async () => {
    for (const [host, port] of [['192.168.0.1', 30500], ['203.0.113.50', 80]] as const) {
      const { counts, failures } = await sample(host, port, 200);
      expect(failures).toBe(0);
      expect(counts.size).toBeGreaterThan(150); // 200 draws among 1,000: ~181 distinct
    }
  }, 120_000);
});
