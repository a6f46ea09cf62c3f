// Conformance with kube-proxy's nftables mode (issue 12), with real traffic: every case of the
// table marked `kernel` is sent from its leaf of a namespace topology through the compiled
// ruleset, and what answers (which pod and port, whether the pod saw the client's address or the
// node's, or the refusal / silence) must be what the table says — the same table `trace` is
// checked against in conformance.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { compileObjects } from '../../compiler/index.js';
import { rulesetToJson, transactionToJson } from '../../compiler/nft/json.js';
import { diffRulesets } from '../../ir/diff.js';
import { conntrackFlush, createTopology, NODE_BIN, nftLoad, sampleEndpoints, spawnIn, tcpRequest, type Topology } from '../harness/index.js';
import { base, LB_CIDR, LEAVES, node, NODE_EXTERNAL_V4, POD_ORDER, scenarios, services, serviceCIDR, type FlowCase, type Leaf } from './cluster.js';
import { podsOf, runFlow, sourceOf } from './flow.js';

let topo: Topology;

beforeAll(async () => {
  topo = await createTopology({
    pods: POD_ORDER.map((name) => ({
      name,
      ...(name === 'x' || name === 'o' ? { ipv4: LEAVES[name].v4 } : {}),
      ...(['a', 'b', 'r'].includes(name) ? { serve: { tcp: [8080, 8081], udp: [8080] } } : name === 'x' ? { serve: { tcp: [80] } } : {}),
    })),
    routedCidrs: [LB_CIDR],
    nodeLocalAddresses: [NODE_EXTERNAL_V4],
  });
});

afterAll(async () => {
  await topo?.destroy();
});

const nsOf = (from: Exclude<Leaf, 'node'>): string => (from === 'client' ? topo.client('client').ns : topo.pod(from).ns);

async function expectKernel(c: FlowCase): Promise<void> {
  if (c.from === 'node') throw new Error('kernel cases are sent from leaves');
  const ns = nsOf(c.from);
  const proto = c.proto ?? 'tcp';
  const what = `${c.name} (${c.from} → ${c.dst}:${c.port}/${proto})`;
  if (c.output === 'REJECT' || c.output === 'DROP') {
    const s = await sampleEndpoints(ns, c.dst, c.port, proto, 3, { timeoutMs: 500 });
    expect(s.failures, what).toEqual({ [c.output === 'REJECT' ? 'refused' : 'timeout']: 3 });
    return;
  }
  if (c.output === '') {
    const s = await sampleEndpoints(ns, c.dst, c.port, proto, 3, { timeoutMs: 500 });
    if (c.untouched === 'refused') expect(s.failures, what).toEqual({ refused: 3 });
    else expect(s.pods, what).toEqual([c.untouched]);
    return;
  }
  const s = await sampleEndpoints(ns, c.dst, c.port, proto, 30);
  expect(s.failures, what).toEqual({});
  const reached = [...new Set(s.results.flatMap((r) => (r.ok && r.reply ? [`${r.reply.pod}:${r.reply.localPort}`] : [])))].sort();
  expect(reached.join(', '), what).toBe(c.output);
  expect(s.pods, what).toEqual(podsOf(c.output));
  // Masquerade: the endpoints see the node's address instead of the client's.
  const { src } = sourceOf(c);
  if (c.masq) expect(s.peers, what).not.toContain(src);
  else expect(s.peers, what).toEqual([src]);
}

describe('the harness allocates what the case table assumes', () => {
  it('addresses and node-side interfaces', () => {
    for (const name of POD_ORDER) expect([name, topo.pod(name).ipv4, topo.pod(name).nodeInterface]).toEqual([name, LEAVES[name].v4, LEAVES[name].iif]);
    expect([topo.client('client').ipv4, topo.client('client').nodeInterface]).toEqual([LEAVES.client.v4, LEAVES.client.iif]);
  });
});

for (const sc of scenarios) {
  const cases = sc.cases.filter((c) => c.kernel);
  if (cases.length === 0) continue;
  describe(sc.name, () => {
    beforeAll(async () => {
      const { ruleset } = compileObjects(sc.objects, sc.options);
      // The trace of every case is what the table says (conformance.test.ts checks all of them).
      for (const c of cases) expect(runFlow(ruleset, c).output, c.name).toBe(c.output);
      await nftLoad(topo.node.ns, JSON.stringify(rulesetToJson(ruleset)), { format: 'json' });
      await conntrackFlush(topo.node.ns);
    });
    it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      await expectKernel(c);
    });
  });
}

describe('loadBalancerSourceRanges apply to new connections only (firewall-check under ct state new)', () => {
  it('narrowing the ranges keeps an established connection and refuses a new one', async () => {
    const withRanges = (ranges: string[]) =>
      [node, serviceCIDR, ...services].map((o) => {
        const obj = o as { kind?: string; metadata?: { name?: string }; spec?: Record<string, unknown> };
        return obj.kind === 'Service' && obj.metadata?.name === 'lbsr' ? { ...obj, spec: { ...obj.spec, loadBalancerSourceRanges: ranges } } : o;
      });
    const opts = { ...base, nodePortAddresses: ['primary'] };
    const open = compileObjects(withRanges(['192.168.0.0/24']), opts).ruleset;
    const closed = compileObjects(withRanges(['10.244.0.0/16']), opts).ruleset;
    await nftLoad(topo.node.ns, JSON.stringify(rulesetToJson(open)), { format: 'json' });
    await conntrackFlush(topo.node.ns);

    // One TCP connection kept open: a line on stdin sends a request, each reply is printed.
    const script = `
      const net = require('node:net');
      const s = net.connect(80, '192.168.99.2');
      s.setEncoding('utf8');
      s.on('data', (d) => process.stdout.write(d));
      s.on('error', (e) => console.log('ERROR ' + e.code));
      s.on('close', () => console.log('CLOSED'));
      process.stdin.on('data', () => s.write('again\\n'));
    `;
    const child = spawnIn(topo.client('client').ns, [NODE_BIN, '-e', script]);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const nextLine = async (ms: number): Promise<string> => {
      const timer = new Promise<string>((resolve) => setTimeout(() => resolve('TIMEOUT'), ms));
      return Promise.race([once(lines, 'line').then(([l]) => String(l)), timer]);
    };
    try {
      child.stdin?.write('1\n');
      expect(await nextLine(3000)).toContain('"pod":"a"');
      // The partial sync the daemon would make: the source ranges no longer include the client.
      await nftLoad(topo.node.ns, JSON.stringify(transactionToJson(diffRulesets(open, closed))), { format: 'json' });
      child.stdin?.write('2\n');
      expect(await nextLine(3000)).toContain('"pod":"a"');
      const fresh = await tcpRequest(topo.client('client').ns, '192.168.99.2', 80, { timeoutMs: 500 });
      expect(fresh.ok ? 'answered' : fresh.error).toBe('timeout');
    } finally {
      child.kill();
    }
  });
});
