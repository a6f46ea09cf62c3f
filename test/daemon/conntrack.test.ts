// UDP conntrack cleanup: which flows are stale between two models (pure), and that the deletions
// remove exactly those entries from a real conntrack table in a private namespace.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint, ServicePort } from '../../compiler/model/types.js';
import { deleteStaleUdpFlows, staleUdpFlowDeletions } from '../../runtime/conntrack/udp.js';
import { createNamespace, destroyNamespace, exec, nsExecArgv } from '../harness/index.js';

const ep = (ip: string): Endpoint => ({ ip, port: 53, ready: true, serving: true, terminating: false, isLocal: false });

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

describe('staleUdpFlowDeletions', () => {
  it('deletes flows to an endpoint that went away, for every service address and the node port', () => {
    const before = [sp({ endpoints: [ep('10.244.0.5'), ep('10.244.0.6')], externalIPs: ['203.0.113.1'], nodePort: 30053 })];
    const after = [sp({ endpoints: [ep('10.244.0.6')], externalIPs: ['203.0.113.1'], nodePort: 30053 })];
    expect(staleUdpFlowDeletions(before, after)).toEqual([
      ['-D', '-p', 'udp', '--orig-dst', '10.96.0.10', '--dport', '53', '--reply-src', '10.244.0.5'],
      ['-D', '-p', 'udp', '--orig-dst', '203.0.113.1', '--dport', '53', '--reply-src', '10.244.0.5'],
      ['-D', '-p', 'udp', '--dport', '30053', '--reply-src', '10.244.0.5'],
    ]);
  });

  it('a service port that gains its first endpoint drops the entries of rejected clients', () => {
    expect(staleUdpFlowDeletions([sp({})], [sp({ endpoints: [ep('10.244.0.5')] })])).toEqual([
      ['-D', '-p', 'udp', '--orig-dst', '10.96.0.10', '--dport', '53'],
    ]);
  });

  it('ignores TCP, unchanged endpoints and ports without endpoints; handles IPv6 and deleted services', () => {
    const tcp = sp({ protocol: 'tcp', endpoints: [ep('10.244.0.5')] });
    expect(staleUdpFlowDeletions([tcp], [])).toEqual([]);
    const same = sp({ endpoints: [ep('10.244.0.5')] });
    expect(staleUdpFlowDeletions([same], [same])).toEqual([]);
    expect(staleUdpFlowDeletions([sp({})], [sp({})])).toEqual([]);
    const v6 = sp({ family: 6, clusterIP: 'fd00:10:96::a', endpoints: [ep('fd00:10:244::5')] });
    expect(staleUdpFlowDeletions([v6], [])).toEqual([['-D', '-f', 'ipv6', '-p', 'udp', '--orig-dst', 'fd00:10:96::a', '--dport', '53', '--reply-src', 'fd00:10:244::5']]);
  });
});

describe('deleteStaleUdpFlows in a namespace', () => {
  let ns: string;
  const log = { debug: () => undefined, warn: (o: object) => warnings.push(o) };
  const warnings: object[] = [];

  beforeAll(async () => {
    ns = await createNamespace('conntrack');
  });
  afterAll(async () => {
    await destroyNamespace(ns);
  });

  const insert = (sport: number, dst: string, replySrc: string): Promise<unknown> =>
    exec(ns, ['conntrack', '-I', '-p', 'udp', '-s', '10.0.0.1', '-d', dst, '--sport', String(sport), '--dport', '53', '-r', replySrc, '-q', '10.0.0.1', '--reply-port-src', '53', '--reply-port-dst', String(sport), '-t', '300']);
  const flows = async (): Promise<string> => (await exec(ns, ['conntrack', '-L', '-p', 'udp'], { check: false })).stdout;

  it('removes the flows of the vanished endpoint and keeps the others; "0 deleted" is not an error', async () => {
    await insert(5000, '10.96.0.10', '10.244.0.5');
    await insert(5001, '10.96.0.10', '10.244.0.6');
    await insert(5002, '10.96.0.99', '10.244.0.5'); // another service, same pod IP
    const before = [sp({ endpoints: [ep('10.244.0.5'), ep('10.244.0.6'), ep('10.244.0.7')] })];
    const after = [sp({ endpoints: [ep('10.244.0.6')] })];
    const results = await deleteStaleUdpFlows(before, after, log, { wrap: nsExecArgv(ns) });
    expect(results.map((r) => r.deleted)).toEqual([1, 0]);
    expect(results.every((r) => r.error === undefined)).toBe(true);
    expect(warnings).toEqual([]);
    const left = await flows();
    expect(left).toContain('sport=5001');
    expect(left).toContain('sport=5002');
    expect(left).not.toContain('sport=5000');
  });

  it('reports a failing conntrack run as an error', async () => {
    const results = await deleteStaleUdpFlows([sp({ endpoints: [ep('10.244.0.5')] })], [], log, { wrap: nsExecArgv(ns), binary: '/nonexistent/conntrack' });
    expect(results[0]?.error).toBeDefined();
    expect(warnings).toHaveLength(1);
  });
});
