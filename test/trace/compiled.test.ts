// The interpreter on what the compiler really emits: the example cluster dump, and hand-built
// service models for features the example does not carry (ETP Local, LB source ranges,
// affinity). These pin the Service behaviour the compiled program must have, as the trace sees it.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compile, compileText } from '../../compiler/index.js';
import { defaultCompileOptions, type CompileOptions, type Endpoint, type ServicePort } from '../../compiler/model/types.js';
import { predictedEndpoints, traceConnection, verdictProbabilities, type Packet, type TraceEnv } from '../../ir/interpret.js';
import { formatTrace } from '../../ir/trace-format.js';
import type { Ruleset } from '../../ir/types.js';

const NODE = '192.168.0.1';
const opts: CompileOptions = { ...defaultCompileOptions, nodeName: 'node-a', clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/64'] };
const example = compileText(readFileSync(new URL('../../examples/cluster.yaml', import.meta.url), 'utf8'), opts);

const outside: TraceEnv = { localAddresses: [NODE], sourceIsLocal: false };
const onNode: TraceEnv = { localAddresses: [NODE], sourceIsLocal: true };
const tcp = (src: string, dst: string, dport: number): Packet => ({ family: dst.includes(':') ? 'ip6' : 'ip', src, dst, proto: 'tcp', dport });

function endpoints(ruleset: Ruleset, p: Packet, env: TraceEnv = outside): Record<string, number> {
  return Object.fromEntries(predictedEndpoints(traceConnection(ruleset, p, env)));
}

describe('example cluster', () => {
  it('uses the Node object for the node address', () => {
    expect(example.model.node.addresses).toContain(NODE);
  });

  it('clusterIP with 3 endpoints: three outcomes of 1/3, masqueraded from outside the cluster', () => {
    const out = traceConnection(example.ruleset, tcp('192.168.0.100', '10.96.0.20', 80), outside);
    expect(out).toHaveLength(3);
    for (const o of out) {
      expect(o.probability).toBeCloseTo(1 / 3);
      expect(o).toMatchObject({ verdict: 'accept', masquerade: true, delivery: 'remote' });
    }
    expect(Object.keys(endpoints(example.ruleset, tcp('192.168.0.100', '10.96.0.20', 80))).sort()).toEqual(['10.244.0.5:8080', '10.244.1.6:8080', '10.244.1.7:8080']);
  });

  it('from a pod (cluster CIDR): no masquerade, except the hairpin back to itself', () => {
    const out = traceConnection(example.ruleset, tcp('10.244.0.5', '10.96.0.20', 80), outside);
    const masq = Object.fromEntries(out.map((o) => [o.dnat?.addr, o.masquerade]));
    expect(masq).toEqual({ '10.244.0.5': true, '10.244.1.6': false, '10.244.1.7': false });
  });

  it('UDP DNS: two endpoints', () => {
    const p: Packet = { family: 'ip', src: '10.244.1.9', dst: '10.96.0.10', proto: 'udp', dport: 53 };
    expect(endpoints(example.ruleset, p)).toEqual({ '10.244.0.2:53': 0.5, '10.244.1.3:53': 0.5 });
  });

  it('service without endpoints: rejected with a TCP reset', () => {
    const out = traceConnection(example.ruleset, tcp('192.168.0.100', '10.96.0.40', 8080), outside);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ verdict: 'reject', reject: 'tcp-reset', probability: 1 });
  });

  it('clusterIP on a port that is not a service port: rejected (also from the node itself)', () => {
    expect(verdictProbabilities(traceConnection(example.ruleset, tcp('192.168.0.100', '10.96.0.20', 81), outside)).reject).toBe(1);
    expect(verdictProbabilities(traceConnection(example.ruleset, tcp(NODE, '10.96.0.20', 81), onNode)).reject).toBe(1);
    const udp: Packet = { family: 'ip', src: '192.168.0.100', dst: '10.96.0.20', proto: 'udp', dport: 80 };
    expect(traceConnection(example.ruleset, udp, outside)[0]).toMatchObject({ verdict: 'reject', reject: 'icmpx-port-unreachable' });
  });

  it('NodePort on the node address: DNAT to every endpoint and masquerade', () => {
    const out = traceConnection(example.ruleset, tcp('192.168.0.100', NODE, 30080), outside);
    expect(out.map((o) => [o.dnat?.addr, o.masquerade, o.verdict])).toEqual([
      ['10.244.0.5', true, 'accept'],
      ['10.244.1.6', true, 'accept'],
      ['10.244.1.7', true, 'accept'],
    ]);
  });

  it('a port of the node that is no NodePort reaches the node unchanged', () => {
    const out = traceConnection(example.ruleset, tcp('192.168.0.100', NODE, 22), outside);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ verdict: 'accept', delivery: 'local', masquerade: false });
    expect(out[0]?.dnat).toBeUndefined();
  });

  it('from the node to a clusterIP: output path, masqueraded (node is outside the cluster CIDR)', () => {
    const out = traceConnection(example.ruleset, tcp(NODE, '10.96.0.70', 443), onNode);
    expect(Object.fromEntries(predictedEndpoints(out))).toEqual({ '10.244.0.9:8443': 0.5, '10.244.1.10:8443': 0.5 });
    expect(out.every((o) => o.masquerade)).toBe(true);
    expect(out[0]?.steps[0]).toMatchObject({ kind: 'chain', hook: 'output' });
  });

  it('the kubernetes service from the node: DNAT to the node itself, back in through lo', () => {
    const out = traceConnection(example.ruleset, tcp(NODE, '10.96.0.1', 443), onNode);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ verdict: 'accept', dnat: { addr: NODE, port: 6443 }, delivery: 'local' });
    expect(out[0]?.steps.some((s) => s.kind === 'route' && s.to === 'loopback')).toBe(true);
  });

  it('dual-stack: the IPv6 clusterIP balances over the IPv6 endpoints', () => {
    expect(endpoints(example.ruleset, tcp('fd00:10:244::99', 'fd00:10:96::50', 80))).toEqual({ '[fd00:10:244::11]:8080': 0.5, '[fd00:10:244:0:1::12]:8080': 0.5 });
  });

  it('SCTP', () => {
    const p: Packet = { family: 'ip', src: '10.244.1.9', dst: '10.96.0.60', proto: 'sctp', dport: 9999 };
    expect(endpoints(example.ruleset, p)).toEqual({ '10.244.0.8:9999': 1 });
  });

  it('formats a readable trace with shared steps once and every outcome in the summary', () => {
    const p = tcp('192.168.0.100', '10.96.0.20', 80);
    const text = formatTrace(p, outside, traceConnection(example.ruleset, p, outside));
    expect(text.split('\n')[0]).toBe('packet 192.168.0.100:40000 -> 10.96.0.20:80/tcp (ip), from outside the node');
    expect(text).toContain('in @service-ips -> goto svc-lb-3   # default/web:http cluster IP');
    expect(text).toContain('numgen random mod 3 -> 0 (p=1/3) | 1 (p=1/3) | 2 (p=1/3)');
    expect(text).toMatch(/outcomes:\n {3}33\.3% {2}DNAT 10\.244\.0\.5:8080 {3}masquerade: yes\n/);
    // The prerouting part is shown once, not once per branch.
    expect(text.match(/nat-prerouting rule 1: jump services/g)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Features the example does not carry, from hand-built service models.

const ep = (ip: string, nodeName: string, port = 8080): Endpoint => ({ ip, port, nodeName, ready: true, serving: true, terminating: false, isLocal: nodeName === 'node-a' });

function servicePort(over: Partial<ServicePort>): ServicePort {
  const eps = over.endpoints ?? [ep('10.244.0.5', 'node-a'), ep('10.244.1.6', 'node-b')];
  return {
    id: 'default/svc:http',
    namespace: 'default',
    name: 'svc',
    portName: 'http',
    protocol: 'tcp',
    family: 4,
    clusterIP: '10.96.1.1',
    port: 80,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    endpoints: eps,
    clusterEndpoints: eps,
    localEndpoints: eps.filter((e) => e.isLocal),
    ...over,
  };
}

const compileOne = (sp: ServicePort): Ruleset => compile({ servicePorts: [sp], node: { name: 'node-a', addresses: [NODE] }, problems: [], conflicts: [] }, opts);

describe('compiled features', () => {
  it('externalTrafficPolicy Local: outside traffic only to the local endpoint without masquerade; pods still reach all', () => {
    const rs = compileOne(servicePort({ nodePort: 30100, externalIPs: ['203.0.113.10'], externalTrafficPolicy: 'Local' }));
    for (const [dst, port] of [[NODE, 30100], ['203.0.113.10', 80]] as const) {
      const out = traceConnection(rs, tcp('198.51.100.7', dst, port), outside);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ verdict: 'accept', dnat: { addr: '10.244.0.5', port: 8080 }, masquerade: false });
      expect(Object.keys(endpoints(rs, tcp('10.244.3.3', dst, port))).sort()).toEqual(['10.244.0.5:8080', '10.244.1.6:8080']);
    }
  });

  it('externalTrafficPolicy Local without a local endpoint: external traffic dropped', () => {
    const rs = compileOne(servicePort({ nodePort: 30100, externalTrafficPolicy: 'Local', localEndpoints: [] }));
    expect(traceConnection(rs, tcp('198.51.100.7', NODE, 30100), outside).map((o) => o.verdict)).toEqual(['drop']);
  });

  it('loadBalancerSourceRanges: LB IP from outside the ranges dropped, inside allowed; the NodePort is not filtered', () => {
    const rs = compileOne(servicePort({ nodePort: 30100, loadBalancerIPs: ['203.0.113.20'], loadBalancerSourceRanges: ['198.51.100.0/24'] }));
    expect(verdictProbabilities(traceConnection(rs, tcp('198.51.100.7', '203.0.113.20', 80), outside)).accept).toBe(1);
    expect(traceConnection(rs, tcp('192.0.2.7', '203.0.113.20', 80), outside).map((o) => o.verdict)).toEqual(['drop']);
    expect(verdictProbabilities(traceConnection(rs, tcp('192.0.2.7', NODE, 30100), outside)).accept).toBe(1);
  });

  it('session affinity: a first connection picks any endpoint and is remembered for the timeout', () => {
    const rs = compileOne(servicePort({ sessionAffinity: { timeoutSeconds: 600 } }));
    const out = traceConnection(rs, tcp('10.244.3.3', '10.96.1.1', 80), outside);
    expect(Object.fromEntries(predictedEndpoints(out))).toEqual({ '10.244.0.5:8080': 0.5, '10.244.1.6:8080': 0.5 });
    for (const o of out) expect(o.remembered).toEqual([expect.objectContaining({ elem: '10.244.3.3', timeout: 600 })]);
  });
});
