// UDP conntrack cleanup (kube-proxy's CleanStaleEntries): which entries are stale given the
// service model (pure), and, with real UDP traffic through the compiled datapath in a private
// namespace, that a reconciler without any history (a restarted daemon's first sync) deletes
// exactly the flows to endpoints that no longer serve, for cluster IPs, external IPs and NodePorts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileObjects } from '../../compiler/index.js';
import type { Endpoint, ServicePort } from '../../compiler/model/types.js';
import { UdpConntrackReconciler, cleanStaleUdpEntries, parseConntrackList, staleEntryDeletions, type ConntrackEntry } from '../../runtime/conntrack/udp.js';
import { createTopology, exec, nsExecArgv, udpRequest, type Topology } from '../harness/index.js';
import { objectsFor, type ServiceSpec } from '../datapath/cluster.js';
import { baseOptions, loadCluster, NODE_V4 } from '../features/helpers.js';

const ep = (ip: string, o: Partial<Endpoint> = {}): Endpoint => ({ ip, port: 53, ready: true, serving: true, terminating: false, isLocal: false, ...o });

function sp(o: Partial<ServicePort> & { endpoints?: Endpoint[] }): ServicePort {
  const endpoints = o.endpoints ?? [];
  return {
    id: 'kube-system/dns:dns',
    namespace: 'kube-system',
    name: 'dns',
    portName: 'dns',
    protocol: 'udp',
    family: 4,
    clusterIP: '10.96.0.10',
    port: 53,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    clusterEndpoints: endpoints,
    localEndpoints: [],
    ...o,
    endpoints,
  };
}

const entry = (origDst: string, origDport: number, replySrc: string, family: 4 | 6 = 4): ConntrackEntry => ({ family, origDst, origDport, replySrc });

describe('staleEntryDeletions', () => {
  it('deletes entries to a service address or NodePort whose reply source is not a serving endpoint', () => {
    const ports = [sp({ endpoints: [ep('10.244.0.6')], externalIPs: ['203.0.113.1'], loadBalancerIPs: ['198.51.100.1'], nodePort: 30053 })];
    const entries = [
      entry('10.96.0.10', 53, '10.244.0.5'), // cluster IP → gone endpoint
      entry('10.96.0.10', 53, '10.244.0.6'), // still serving: kept
      entry('203.0.113.1', 53, '10.244.0.5'),
      entry('198.51.100.1', 53, '10.244.0.5'),
      entry('192.168.0.1', 30053, '10.244.0.5'), // NodePort
      entry('10.96.0.10', 54, '10.244.0.5'), // another port: not ours
      entry('10.96.0.99', 53, '10.244.0.5'), // another address
      entry('10.96.0.10', 53, '10.96.0.10'), // a client that hit the service while it had no endpoint
    ];
    expect(staleEntryDeletions(ports, entries)).toEqual([
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '10.96.0.10', '--dport', '53', '--reply-src', '10.244.0.5'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '203.0.113.1', '--dport', '53', '--reply-src', '10.244.0.5'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '198.51.100.1', '--dport', '53', '--reply-src', '10.244.0.5'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--dport', '30053', '--reply-src', '10.244.0.5'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '10.96.0.10', '--dport', '53', '--reply-src', '10.96.0.10'],
    ]);
  });

  it('a terminating endpoint that still serves keeps its flows; one that stopped serving loses them', () => {
    const ports = [sp({ endpoints: [ep('10.244.0.5', { ready: false, serving: true, terminating: true }), ep('10.244.0.6', { ready: false, serving: false, terminating: true }), ep('10.244.0.7')] })];
    expect(staleEntryDeletions(ports, [entry('10.96.0.10', 53, '10.244.0.5'), entry('10.96.0.10', 53, '10.244.0.6')])).toEqual([
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '10.96.0.10', '--dport', '53', '--reply-src', '10.244.0.6'],
    ]);
  });

  it('leaves TCP, ports without serving endpoints and the other family alone; handles IPv6', () => {
    expect(staleEntryDeletions([sp({ protocol: 'tcp', endpoints: [ep('10.244.0.6')] })], [entry('10.96.0.10', 53, '10.244.0.5')])).toEqual([]);
    expect(staleEntryDeletions([sp({ endpoints: [ep('10.244.0.6', { serving: false, ready: false })] })], [entry('10.96.0.10', 53, '10.244.0.5')])).toEqual([]);
    const v6 = sp({ family: 6, clusterIP: 'fd00:10:96::a', endpoints: [ep('fd00:10:244::6')] });
    expect(staleEntryDeletions([v6], [entry('fd00:10:96::a', 53, 'fd00:10:244::5', 6), entry('fd00:10:96::a', 53, 'fd00:10:244::5', 4)])).toEqual([
      ['-D', '-f', 'ipv6', '-p', 'udp', '--orig-dst', 'fd00:10:96::a', '--dport', '53', '--reply-src', 'fd00:10:244::5'],
    ]);
  });

  it('parses conntrack -L output (original tuple first, then the reply)', () => {
    const text = [
      'udp      17 27 src=10.0.0.1 dst=10.96.0.10 sport=5000 dport=53 [UNREPLIED] src=10.244.0.5 dst=10.0.0.1 sport=53 dport=5000 mark=0 use=1',
      'udp      17 29 src=fd00::1 dst=fd00:10:96:0:0:0:0:a sport=5000 dport=53 src=fd00:10:244::5 dst=fd00::1 sport=53 dport=5000 [ASSURED] mark=0 use=1',
      'tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.96.0.10 sport=1 dport=80 src=10.244.0.5 dst=10.0.0.1 sport=80 dport=1',
    ].join('\n');
    expect(parseConntrackList(text, 4)).toEqual([entry('10.96.0.10', 53, '10.244.0.5'), entry('fd00:10:96::a', 53, 'fd00:10:244::5')]);
  });
});

describe('UDP conntrack reconciliation with real traffic, in a private namespace', () => {
  let topo: Topology;
  const warnings: object[] = [];
  const log = { debug: () => undefined, warn: (o: object) => warnings.push(o) };
  const EXTERNAL = '203.0.113.7';

  const dns = (endpoints: { pod: string; ready?: boolean; serving?: boolean; terminating?: boolean }[]): ServiceSpec => ({
    name: 'dns',
    clusterIP: '10.96.7.10',
    type: 'NodePort',
    externalIPs: [EXTERNAL],
    ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053 }],
    slices: [{ targetPort: 8053, endpoints: endpoints.map((e) => ({ ip: topo.pod(e.pod).ipv4, node: 'node-a', ...e })) }],
  });
  const portsOf = (s: ServiceSpec): ServicePort[] => compileObjects(objectsFor([s], [{ name: 'node-a', ip: NODE_V4 }]), baseOptions).model.servicePorts;

  beforeAll(async () => {
    topo = await createTopology({ pods: ['a', 'b', 'c'].map((name) => ({ name, serve: { udp: [8053] } })), routedCidrs: ['203.0.113.0/24'] });
  }, 120_000);
  afterAll(async () => {
    await topo?.destroy();
  });

  /** Reply sources of the node's UDP entries per original destination `addr:port`. */
  async function flows(): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const r = await exec(topo.node.ns, ['conntrack', '-L', '-f', 'ipv4', '-p', 'udp'], { check: false });
    for (const e of parseConntrackList(r.stdout, 4)) {
      const k = `${e.origDst}:${e.origDport}`;
      if (!out.has(k)) out.set(k, new Set());
      out.get(k)?.add(e.replySrc);
    }
    return out;
  }

  it('a restarted daemon (no history) deletes flows to endpoints that stopped serving, keeps the terminating-but-serving ones', async () => {
    const a = topo.pod('a').ipv4;
    const b = topo.pod('b').ipv4;
    await loadCluster(topo, [dns([{ pod: 'a' }, { pod: 'b' }])]);
    const client = topo.client('client').ns;
    const targets = [['10.96.7.10', 53], [EXTERNAL, 53], [NODE_V4, 30053]] as const;
    // New source port per request: flows spread over both endpoints on every address.
    for (let i = 0; i < 40; i++) {
      const [host, port] = targets[i % targets.length] as (typeof targets)[number];
      const r = await udpRequest(client, host, port, { timeoutMs: 2000 });
      expect(r.ok, JSON.stringify(r)).toBe(true);
    }
    const before = await flows();
    for (const [host, port] of targets) expect([...(before.get(`${host}:${port}`) ?? [])].sort(), `${host}:${port}`).toEqual([a, b].sort());

    // a turns terminating but still serves; b is gone; c is new.
    const after = portsOf(dns([{ pod: 'a', ready: false, serving: true, terminating: true }, { pod: 'c' }]));
    const reconciler = new UdpConntrackReconciler(log, { wrap: nsExecArgv(topo.node.ns) });
    const results = await reconciler.afterSync(after);
    expect(warnings).toEqual([]);
    expect(results.every((r) => r.error === undefined)).toBe(true);
    expect(results.reduce((n, r) => n + r.deleted, 0)).toBeGreaterThanOrEqual(3);
    const left = await flows();
    for (const [host, port] of targets) expect([...(left.get(`${host}:${port}`) ?? [])], `${host}:${port}`).toEqual([a]);
    // Nothing changed since: no conntrack run at all.
    expect(await reconciler.afterSync(after)).toEqual([]);
  }, 120_000);

  it('a failing conntrack binary is reported, not thrown', async () => {
    const w: object[] = [];
    const results = await cleanStaleUdpEntries(portsOf(dns([{ pod: 'a' }])), { debug: () => undefined, warn: (o: object) => w.push(o) }, { wrap: nsExecArgv(topo.node.ns), binary: '/nonexistent/conntrack' });
    expect(results).toEqual([]);
    expect(w).toHaveLength(1);
  });
});
