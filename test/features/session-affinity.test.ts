// sessionAffinity ClientIP (issue #3): every connection of one client goes to one endpoint; other
// clients are balanced independently; the kernel remembers the client in exactly the affinity set
// that `trace` says the chosen endpoint's branch updates; when the sticky endpoint leaves the
// slice (applied as the daemon's partial sync does) its clients move to a remaining endpoint while
// clients of endpoints that stay keep theirs; the memory expires after timeoutSeconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ruleset } from '../../ir/types.js';
import { createTopology, sampleEndpoints, type Topology } from '../harness/index.js';
import {
  applyDelta,
  compileCluster,
  expectAllAnswered,
  kernelSetKeys,
  loadCluster,
  NODE_V4,
  predict,
  type Loaded,
  type ServiceSpec,
} from './helpers.js';

const STICKY = '10.96.6.10';
const SHORT = '10.96.6.11';
const CLIENTS = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];

let topo: Topology;
let loaded: Loaded;
let services: ServiceSpec[];

const servicesWith = (pods: string[]): ServiceSpec[] => [
  {
    name: 'sticky',
    clusterIP: STICKY,
    affinitySeconds: 10800,
    ports: [{ name: 'http', port: 80 }, { name: 'dns', protocol: 'UDP', port: 53 }],
    slices: [{ targetPort: 8080, endpoints: pods.map((p) => ({ ip: topo.pod(p).ipv4, node: 'node-a' })) }],
  },
  {
    // Affinity together with ETP Local: outside clients stick to a local endpoint.
    name: 'sticky-local',
    clusterIP: '10.96.6.12',
    affinitySeconds: 10800,
    externalTrafficPolicy: 'Local',
    ports: [{ name: 'http', port: 80, nodePort: 30160 }],
    slices: [
      {
        targetPort: 8080,
        endpoints: [
          { ip: topo.pod('a').ipv4, node: 'node-a' },
          { ip: topo.pod('b').ipv4, node: 'node-a' },
          { ip: topo.pod('c').ipv4, node: 'node-b' },
        ],
      },
    ],
  },
  {
    name: 'short',
    clusterIP: SHORT,
    affinitySeconds: 2,
    ports: [{ name: 'http', port: 80 }],
    slices: [{ targetPort: 8080, endpoints: ['a', 'b', 'c'].map((p) => ({ ip: topo.pod(p).ipv4, node: 'node-a' })) }],
  },
];

beforeAll(async () => {
  topo = await createTopology({
    pods: ['a', 'b', 'c'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })),
    clients: CLIENTS,
  });
  services = servicesWith(['a', 'b', 'c']);
  loaded = await loadCluster(topo, services);
});

afterAll(async () => {
  await topo?.destroy();
});

/** The affinity set trace says a new connection from `src` that lands on `pod` is remembered in. */
function rememberedSet(ruleset: Ruleset, src: string, dst: string, port: number, proto: 'tcp' | 'udp', pod: string): string {
  const t = predict(topo, ruleset, src, dst, port, proto);
  const o = t.outcomes.find((x) => x.dnat?.addr === topo.pod(pod).ipv4);
  expect(o, `trace has no outcome to ${pod}`).toBeDefined();
  expect(o!.remembered).toHaveLength(1);
  expect(o!.remembered[0]!.elem).toBe(src);
  return o!.remembered[0]!.set;
}

/** Sends `n` connections from the client; asserts they all reached one pod and returns it. */
async function stickyPod(client: string, dst: string, port: number, proto: 'tcp' | 'udp', n = 15): Promise<string> {
  const s = await sampleEndpoints(topo.client(client).ns, dst, port, proto, n);
  expectAllAnswered(s);
  expect(s.pods, `${client} → ${dst}:${port}/${proto}`).toHaveLength(1);
  return s.pods[0]!;
}

const sticky = new Map<string, string>();

describe('sessionAffinity ClientIP', () => {
  it('each client sticks to one endpoint, which trace lists, and the kernel remembers it where trace says', async () => {
    const all = await Promise.all(CLIENTS.map((c) => stickyPod(c, STICKY, 80, 'tcp')));
    for (const [i, c] of CLIENTS.entries()) {
      const client = topo.client(c);
      const pod = all[i]!;
      sticky.set(c, pod);
      const t = predict(topo, loaded.ruleset, client.ipv4, STICKY, 80, 'tcp');
      expect(t.pods).toEqual(['a', 'b', 'c']); // a new client may land anywhere
      expect(t.pods).toContain(pod);
      // The kernel holds the client in the set of the branch that DNATs to its pod, and only there.
      for (const o of t.outcomes) {
        const set = o.remembered[0]!.set;
        const keys = await kernelSetKeys(topo, 'ip', loaded.opts.tableName, set);
        expect(keys.includes(client.ipv4), `${c} in ${set} (${o.dnat?.addr})`).toBe(o.dnat?.addr === topo.pod(pod).ipv4);
      }
    }
  });

  it('UDP sticks too, independently of the TCP port', async () => {
    for (const c of CLIENTS.slice(0, 3)) {
      const pod = await stickyPod(c, STICKY, 53, 'udp');
      const set = rememberedSet(loaded.ruleset, topo.client(c).ipv4, STICKY, 53, 'udp', pod);
      expect(await kernelSetKeys(topo, 'ip', loaded.opts.tableName, set)).toContain(topo.client(c).ipv4);
    }
  });

  it('when the sticky endpoint leaves, its clients move to a remaining one; the others keep theirs', async () => {
    const victimClient = 'c0';
    const gone = sticky.get(victimClient)!;
    const remaining = ['a', 'b', 'c'].filter((p) => p !== gone);
    const before = loaded.ruleset;
    const nextServices = servicesWith(remaining);
    const after = compileCluster(nextServices, loaded.opts);
    await applyDelta(topo, before, after);
    loaded = { ruleset: after, opts: loaded.opts };

    for (const c of CLIENTS) {
      const pod = await stickyPod(c, STICKY, 80, 'tcp', 10);
      const t = predict(topo, after, topo.client(c).ipv4, STICKY, 80, 'tcp');
      expect(t.pods).toEqual(remaining);
      expect(remaining).toContain(pod);
      if (sticky.get(c) !== gone) expect(pod, `${c} kept its endpoint`).toBe(sticky.get(c));
      const set = rememberedSet(after, topo.client(c).ipv4, STICKY, 80, 'tcp', pod);
      expect(await kernelSetKeys(topo, 'ip', loaded.opts.tableName, set)).toContain(topo.client(c).ipv4);
    }
  });

  it('with ETP Local, outside clients stick to a local endpoint and keep their address', async () => {
    const locals = new Set<string>();
    for (const c of CLIENTS) {
      const client = topo.client(c);
      const s = await sampleEndpoints(client.ns, NODE_V4, 30160, 'tcp', 10);
      expectAllAnswered(s);
      expect(s.pods).toHaveLength(1);
      expect(s.peers).toEqual([client.ipv4]);
      const t = predict(topo, loaded.ruleset, client.ipv4, NODE_V4, 30160, 'tcp');
      expect(t.pods).toEqual(['a', 'b']);
      expect(t.pods).toContain(s.pods[0]);
      locals.add(s.pods[0]!);
    }
    expect(locals.has('c')).toBe(false);
  });

  it('the client is forgotten after timeoutSeconds', async () => {
    const client = topo.client('c1');
    const pod = await stickyPod('c1', SHORT, 80, 'tcp', 3);
    const set = rememberedSet(loaded.ruleset, client.ipv4, SHORT, 80, 'tcp', pod);
    expect(await kernelSetKeys(topo, 'ip', loaded.opts.tableName, set)).toContain(client.ipv4);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await kernelSetKeys(topo, 'ip', loaded.opts.tableName, set)).not.toContain(client.ipv4);
  });
});
