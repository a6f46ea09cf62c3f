// The harness is ready for compiler output: a hand-written ruleset (DNAT of a clusterIP to a pod
// in nat prerouting + output, masquerade of DNATed traffic in postrouting) loaded into the node
// namespace makes the service IP carry real traffic — from a client, from the node, from another
// pod and hairpinned back to the endpoint itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conntrackFlush,
  conntrackList,
  createTopology,
  exec,
  iptablesRestore,
  iptablesSave,
  nftList,
  nftLoad,
  requestBatch,
  sampleEndpoints,
  tcpRequest,
  type RequestResult,
  type Topology,
} from '../harness/index.js';

const T = 'nfp_selftest';
const daddr = (v: string) => ({ match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: v } });
const dport = (proto: 'tcp' | 'udp', v: number) => ({ match: { op: '==', left: { payload: { protocol: proto, field: 'dport' } }, right: v } });
const chain = (name: string, hook: string, prio: number) => ({
  add: { chain: { family: 'ip', table: T, name, type: 'nat', hook, prio, policy: 'accept' } },
});
const rule = (chainName: string, expr: object[]) => ({ add: { rule: { family: 'ip', table: T, chain: chainName, expr } } });
const dnatRules = (c: string) => [
  rule(c, [daddr('10.96.0.1'), dport('tcp', 80), { dnat: { addr: '10.244.0.10', port: 8080 } }]),
  rule(c, [daddr('10.96.0.1'), dport('udp', 53), { dnat: { addr: '10.244.0.10', port: 8080 } }]),
];

const RULESET_JSON = {
  nftables: [
    { add: { table: { family: 'ip', name: T } } },
    chain('prerouting', 'prerouting', -100),
    chain('output', 'output', -100),
    chain('postrouting', 'postrouting', 100),
    ...dnatRules('prerouting'),
    ...dnatRules('output'),
    rule('postrouting', [{ match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } }, { masquerade: null }]),
  ],
};

const RULESET6_TEXT = `
table ip6 ${T} {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept;
    ip6 daddr fd00:10:96::1 tcp dport 80 dnat to [fd00:10:244::10]:8080
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    ct status dnat masquerade
  }
}
`;

let topo: Topology;
let client: string;

beforeAll(async () => {
  topo = await createTopology({
    pods: [
      { name: 'a', serve: { tcp: [8080], udp: [8080] } },
      { name: 'b', serve: { tcp: [8080] } },
    ],
  });
  client = topo.client('client').ns;
});
afterAll(async () => {
  await topo?.destroy();
});

function reply(r: RequestResult | undefined) {
  if (!r?.ok || !r.reply) throw new Error(`expected an echo reply, got ${JSON.stringify(r)}`);
  return r.reply;
}

describe('hand-written nft DNAT in the node namespace', () => {
  it('without rules the clusterIP does not answer (the test below can fail)', async () => {
    expect(await tcpRequest(client, '10.96.0.1', 80, { timeoutMs: 200 })).toMatchObject({ ok: false, error: 'timeout' });
  });

  it('rejects invalid JSON instead of silently doing nothing', async () => {
    await expect(nftLoad(topo.node.ns, '{"nftables": [ {"add": ', { format: 'json' })).rejects.toThrow(/nft -j -f/);
    expect((await nftList(topo.node.ns)).trim()).toBe('');
  });

  it('loads the JSON ruleset; the client reaches the pod via 10.96.0.1, masqueraded', async () => {
    await nftLoad(topo.node.ns, RULESET_JSON, { format: 'json' });
    const listed = await nftList(topo.node.ns);
    expect(listed).toContain('dnat to 10.244.0.10:8080');
    expect(listed).toContain('masquerade');

    const [t, u] = await requestBatch(client, [
      { proto: 'tcp', host: '10.96.0.1', port: 80 },
      { proto: 'udp', host: '10.96.0.1', port: 53 },
    ]);
    // The pod sees the node's address on its link (10.244.0.1): masqueraded, not 192.168.0.100.
    expect(reply(t)).toMatchObject({ pod: 'a', proto: 'tcp', local: '10.244.0.10', localPort: 8080, peer: '10.244.0.1' });
    expect(reply(u)).toMatchObject({ pod: 'a', proto: 'udp', local: '10.244.0.10', localPort: 8080, peer: '10.244.0.1' });
    // Only the DNATed port is proxied.
    expect(await tcpRequest(client, '10.96.0.1', 81, { timeoutMs: 200 })).toMatchObject({ ok: false, error: 'timeout' });
  });

  it('from the node itself (nat output), from another pod, and hairpinned to the endpoint itself', async () => {
    const [fromNode, fromB, hairpin] = await Promise.all([
      tcpRequest(topo.node.ns, '10.96.0.1', 80),
      tcpRequest(topo.pod('b').ns, '10.96.0.1', 80),
      tcpRequest(topo.pod('a').ns, '10.96.0.1', 80),
    ]);
    expect(reply(fromNode)).toMatchObject({ pod: 'a', local: '10.244.0.10' });
    expect(reply(fromB)).toMatchObject({ pod: 'a', peer: '10.244.0.1' });
    expect(reply(hairpin)).toMatchObject({ pod: 'a', local: '10.244.0.10', peer: '10.244.0.1' });
  });

  it('many fresh connections all land on the single endpoint', async () => {
    const s = await sampleEndpoints(client, '10.96.0.1', 80, 'tcp', 40);
    expect(s.histogram).toEqual({ a: 40 });
    expect(s.peers).toEqual(['10.244.0.1']);
  });

  it('loads an IPv6 ruleset in text syntax; the client reaches the pod via fd00:10:96::1', async () => {
    expect(await tcpRequest(client, 'fd00:10:96::1', 80, { timeoutMs: 200 })).toMatchObject({ ok: false, error: 'timeout' });
    await nftLoad(topo.node.ns, RULESET6_TEXT, { format: 'text' });
    const r = reply(await tcpRequest(client, 'fd00:10:96::1', 80));
    expect(r).toMatchObject({ pod: 'a', local: 'fd00:10:244::10', localPort: 8080 });
    const nodeAddrs = (await exec(topo.node.ns, ['ip', '-6', '-o', 'addr', 'show'])).stdout;
    expect(r.peer).not.toBe('fd00:192:168::100');
    expect(nodeAddrs).toContain(` ${r.peer}/`);
  });

  it('kube-proxy-style iptables-restore input works too, with the nft and the legacy backend', async () => {
    const rules = `*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
-A PREROUTING -j KUBE-SERVICES
-A OUTPUT -j KUBE-SERVICES
-A POSTROUTING -j KUBE-POSTROUTING
-A KUBE-SERVICES -d 10.96.0.2/32 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x4000/0x4000
-A KUBE-SERVICES -d 10.96.0.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.0.11:8080
-A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
COMMIT
`;
    await exec(topo.node.ns, ['nft', 'flush', 'ruleset']);
    expect(await tcpRequest(client, '10.96.0.1', 80, { timeoutMs: 200 })).toMatchObject({ ok: false, error: 'timeout' });
    for (const backend of ['nft', 'legacy'] as const) {
      await iptablesRestore(topo.node.ns, rules, { backend });
      expect(await iptablesSave(topo.node.ns, { backend })).toContain('--to-destination 10.244.0.11:8080');
      expect(reply(await tcpRequest(client, '10.96.0.2', 80)), backend).toMatchObject({ pod: 'b', peer: '10.244.0.1' });
      const entries = await conntrackList(topo.node.ns, ['-d', '10.96.0.2']);
      expect(entries.some((l) => l.includes('dst=10.96.0.2') && l.includes('src=10.244.0.11'))).toBe(true);
      await conntrackFlush(topo.node.ns);
      expect(await conntrackList(topo.node.ns, ['-d', '10.96.0.2'])).toEqual([]);
      if (backend === 'nft') await exec(topo.node.ns, ['nft', 'flush', 'ruleset']);
    }
  });
});
