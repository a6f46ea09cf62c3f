// The harness without any nftables rules: plain routing through the node namespace must work,
// the pod must see the client's real address, and each failure mode must be reported as the
// right error kind within its time limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTopology,
  exec,
  nftList,
  requestBatch,
  sampleEndpoints,
  sctpRequest,
  sctpSupported,
  startEchoServer,
  tcpRequest,
  udpRequest,
  type RequestResult,
  type Topology,
} from '../harness/index.js';

let topo: Topology;
let client: string;

beforeAll(async () => {
  topo = await createTopology({
    pods: [
      { name: 'a', serve: { tcp: [8080], udp: [8080] } },
      { name: 'b', serve: { tcp: [8080, 9090], udp: [5353] } },
    ],
  });
  client = topo.client('client').ns;
});
afterAll(async () => {
  await topo?.destroy();
});

function okReply(r: RequestResult) {
  if (!r.ok) throw new Error(`request failed: ${r.error} (${r.code ?? ''}) after ${r.elapsedMs} ms`);
  if (!r.reply) throw new Error(`not an echo reply: ${r.raw}`);
  return r.reply;
}

describe('topology', () => {
  it('has the documented addresses and no nftables rules', async () => {
    expect(topo.node.ipv4).toBe('192.168.0.1');
    expect(topo.node.ipv6).toBe('fd00:192:168::1');
    expect(topo.pod('a')).toMatchObject({ ipv4: '10.244.0.10', ipv6: 'fd00:10:244::10' });
    expect(topo.pod('b')).toMatchObject({ ipv4: '10.244.0.11', ipv6: 'fd00:10:244::11' });
    expect(topo.client('client')).toMatchObject({ ipv4: '192.168.0.100', ipv6: 'fd00:192:168::100' });
    for (const l of [...topo.pods, ...topo.clients]) expect(l.nodeInterface.length).toBeLessThanOrEqual(15);
    expect((await nftList(topo.node.ns)).trim()).toBe('');
    const fwd = await exec(topo.node.ns, ['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']);
    expect(fwd.stdout.split('\n').slice(0, 2)).toEqual(['1', '1']);
    const routes = await exec(topo.node.ns, ['ip', 'route', 'get', '10.96.3.4']);
    expect(routes.stdout).toContain('dev svc0');
  });
});

describe('routing through the node, no rules', () => {
  it('TCP over IPv4: the pod answers and sees the client address', async () => {
    const reply = okReply(await tcpRequest(client, '10.244.0.10', 8080, { payload: 'ping-1' }));
    expect(reply).toMatchObject({ pod: 'a', proto: 'tcp', local: '10.244.0.10', localPort: 8080, peer: '192.168.0.100', req: 'ping-1' });
  });

  it('UDP over IPv4', async () => {
    const reply = okReply(await udpRequest(client, '10.244.0.10', 8080));
    expect(reply).toMatchObject({ pod: 'a', proto: 'udp', local: '10.244.0.10', peer: '192.168.0.100' });
    expect(okReply(await udpRequest(client, '10.244.0.11', 5353)).pod).toBe('b');
  });

  it('TCP and UDP over IPv6', async () => {
    const [t, u] = await requestBatch(client, [
      { proto: 'tcp', host: 'fd00:10:244::11', port: 9090 },
      { proto: 'udp', host: 'fd00:10:244::10', port: 8080 },
    ]);
    expect(okReply(t!)).toMatchObject({ pod: 'b', local: 'fd00:10:244::11', localPort: 9090, peer: 'fd00:192:168::100' });
    expect(okReply(u!)).toMatchObject({ pod: 'a', proto: 'udp', local: 'fd00:10:244::10', peer: 'fd00:192:168::100' });
  });

  it('pod to pod and node to pod', async () => {
    expect(okReply(await tcpRequest(topo.pod('a').ns, '10.244.0.11', 8080))).toMatchObject({ pod: 'b', peer: '10.244.0.10' });
    expect(okReply(await tcpRequest(topo.pod('b').ns, 'fd00:10:244::10', 8080))).toMatchObject({ pod: 'a', peer: 'fd00:10:244::11' });
    // From the node, the source is its address on the pod link (the gateway).
    expect(okReply(await udpRequest(topo.node.ns, '10.244.0.10', 8080)).peer).toBe('10.244.0.1');
  });

  it('pod back to a client (servers can run in any namespace)', async () => {
    const srv = await startEchoServer(client, { name: 'client-srv', tcp: [7000] });
    try {
      expect(okReply(await tcpRequest(topo.pod('b').ns, '192.168.0.100', 7000))).toMatchObject({ pod: 'client-srv', peer: '10.244.0.11' });
    } finally {
      await srv.stop();
    }
    // stopped means stopped: the port is closed again
    expect(await tcpRequest(topo.pod('b').ns, '192.168.0.100', 7000)).toMatchObject({ ok: false, error: 'refused' });
  });

  it('a closed port is refused quickly (TCP RST, UDP ICMP port unreachable), both families', async () => {
    const rs = await requestBatch(client, [
      { proto: 'tcp', host: '10.244.0.10', port: 9999, timeoutMs: 2000 },
      { proto: 'udp', host: '10.244.0.10', port: 9999, timeoutMs: 2000 },
      { proto: 'tcp', host: 'fd00:10:244::10', port: 9999, timeoutMs: 2000 },
      { proto: 'udp', host: 'fd00:10:244::10', port: 9999, timeoutMs: 2000 },
    ]);
    for (const r of rs) {
      expect(r).toMatchObject({ ok: false, error: 'refused' });
      expect(r!.elapsedMs).toBeLessThan(500);
    }
  });

  it('traffic to a service IP with no rules is silently dropped: timeout within the limit', async () => {
    const rs = await requestBatch(client, [
      { proto: 'tcp', host: '10.96.0.1', port: 80, timeoutMs: 300 },
      { proto: 'udp', host: '10.96.0.1', port: 53, timeoutMs: 300 },
      { proto: 'tcp', host: 'fd00:10:96::1', port: 80, timeoutMs: 300 },
    ]);
    const fromNode = await tcpRequest(topo.node.ns, '10.96.0.1', 80, { timeoutMs: 300 });
    for (const r of [...rs, fromNode]) {
      expect(r).toMatchObject({ ok: false, error: 'timeout' });
      expect(r!.elapsedMs).toBeGreaterThanOrEqual(290);
      expect(r!.elapsedMs).toBeLessThan(800);
    }
  });

  it('an address nobody routes is unreachable (ICMP from the node)', async () => {
    const r = await tcpRequest(client, '203.0.113.9', 80, { timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: false, error: 'unreachable' });
    expect(r.elapsedMs).toBeLessThan(1000);
  });

  it('sampleEndpoints uses a fresh source port per request and counts who answered', async () => {
    const s = await sampleEndpoints(client, '10.244.0.11', 8080, 'tcp', 60);
    expect(s.histogram).toEqual({ b: 60 });
    expect(s.pods).toEqual(['b']);
    expect(s.peers).toEqual(['192.168.0.100']);
    expect(s.failures).toEqual({});
    const ports = s.results.map((r) => r.localPort);
    expect(new Set(ports).size).toBe(60);
    const u = await sampleEndpoints(client, 'fd00:10:244::10', 8080, 'udp', 30);
    expect(u.histogram).toEqual({ a: 30 });
    expect(new Set(u.results.map((r) => r.localPort)).size).toBe(30);
  });

  it('a pod added later is routed too', async () => {
    const c = await topo.addPod({ name: 'late', serve: { tcp: [8080] } });
    expect(c).toMatchObject({ ipv4: '10.244.0.12', ipv6: 'fd00:10:244::12' });
    expect(okReply(await tcpRequest(client, 'fd00:10:244::12', 8080))).toMatchObject({ pod: 'late', peer: 'fd00:192:168::100' });
  });

  it('SCTP: echoes when the kernel supports it, otherwise reports unsupported', async () => {
    if (await sctpSupported(client)) {
      const srv = await startEchoServer(topo.pod('a').ns, { name: 'a-sctp', sctp: [3868] });
      try {
        expect(okReply(await sctpRequest(client, '10.244.0.10', 3868))).toMatchObject({ pod: 'a-sctp', proto: 'sctp', peer: '192.168.0.100' });
        expect(await sctpRequest(client, '10.244.0.10', 3869)).toMatchObject({ ok: false, error: 'refused' });
      } finally {
        await srv.stop();
      }
    } else {
      expect(await sctpRequest(client, '10.244.0.10', 3868)).toMatchObject({ ok: false, error: 'unsupported' });
      await expect(startEchoServer(topo.pod('a').ns, { name: 'x', sctp: [3868] })).rejects.toThrow(/SCTP/);
    }
  });
});
