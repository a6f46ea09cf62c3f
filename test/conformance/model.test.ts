// The model side of issue 12, checked against kube-proxy's rules: ServiceCIDR objects, the Node's
// primary IPs and pod CIDRs, node hints (PreferSameNode), endpoints keyed by ip:port.
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/model/build.js';
import { categorizeEndpoints, hasUsableEndpoints, topologyMode } from '../../compiler/model/categorize.js';
import { defaultCompileOptions, type Endpoint } from '../../compiler/model/types.js';
import { nodePortAddresses } from '../../compiler/lower.js';

const opts = { ...defaultCompileOptions, nodeName: 'n1' };

const svc = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 's', namespace: 'ns' },
  spec: { clusterIP: '10.96.0.1', ports: [{ name: 'p', port: 80 }] },
};
const slice = (name: string, port: number, eps: { ip: string; node?: string; ready?: boolean }[]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace: 'ns', labels: { 'kubernetes.io/service-name': 's' } },
  addressType: 'IPv4',
  ports: [{ name: 'p', port }],
  endpoints: eps.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true }, ...(e.node ? { nodeName: e.node } : {}) })),
});

describe('ServiceCIDR objects', () => {
  it('are read from networking.k8s.io/v1 (both families, normalised, deduplicated)', () => {
    const sc = (name: string, cidrs: string[]) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name }, spec: { cidrs } });
    const m = buildModel([sc('kubernetes', ['10.96.0.0/16', 'FD00:10:96::/112']), sc('extra', ['10.96.0.0/16', '10.100.0.0/24'])], opts);
    expect(m.serviceCIDRs).toEqual(['10.96.0.0/16', 'fd00:10:96::/112', '10.100.0.0/24']);
    expect(m.problems).toEqual([]);
  });

  it('of another API group or with bad CIDRs are left out (the latter reported)', () => {
    const m = buildModel(
      [
        { apiVersion: 'example.com/v1', kind: 'ServiceCIDR', metadata: { name: 'other' }, spec: { cidrs: ['10.0.0.0/8'] } },
        { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'bad' }, spec: { cidrs: ['nope'] } },
      ],
      opts,
    );
    expect(m.serviceCIDRs).toEqual([]);
    expect(m.problems).toMatchObject([{ kind: 'ServiceCIDR', name: 'bad', field: 'spec.cidrs[0]' }]);
  });
});

describe('the Node object', () => {
  const nodeObj = (addresses: { type: string; address: string }[], podCIDRs: unknown[] = []) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1' },
    spec: { podCIDRs },
    status: { addresses },
  });

  it('primary IPs: the first InternalIP of each family, else the first ExternalIP', () => {
    const m = buildModel(
      [nodeObj([{ type: 'ExternalIP', address: '203.0.113.1' }, { type: 'InternalIP', address: '10.0.0.2' }, { type: 'InternalIP', address: '10.0.0.3' }, { type: 'ExternalIP', address: '2001:db8::1' }])],
      opts,
    );
    expect(m.node.primaryIPs).toEqual(['10.0.0.2', '2001:db8::1']);
  });

  it('pod CIDRs: normalised; a bad entry is reported and does not cost the Node its addresses', () => {
    const m = buildModel([nodeObj([{ type: 'InternalIP', address: '10.0.0.2' }], ['10.244.1.0/24', 'bad', 'FD00::/64'])], opts);
    expect(m.node.podCIDRs).toEqual(['10.244.1.0/24', 'fd00::/64']);
    expect(m.node.addresses).toEqual(['10.0.0.2']);
    expect(m.problems).toMatchObject([{ kind: 'Node', field: 'spec.podCIDRs[1]' }]);
  });
});

describe('nodePortAddresses (kube-proxy NodePortAddresses)', () => {
  const o = (nodePortAddresses: string[], nodeIPs: string[] = []) => ({ ...defaultCompileOptions, nodePortAddresses, nodeIPs });
  const addrs = ['10.0.0.2', '10.1.0.2', '127.0.0.1', 'fd00::2', 'fd01::2'];
  it('primary: the primary IP of each family, among the node addresses', () => {
    expect(nodePortAddresses('ip', o(['primary']), addrs, ['10.0.0.2', 'fd01::2'])).toEqual(['10.0.0.2']);
    expect(nodePortAddresses('ip6', o(['primary']), addrs, ['10.0.0.2', 'fd01::2'])).toEqual(['fd01::2']);
  });
  it('a family without a CIDR is unrestricted (every local address, or --node-ip)', () => {
    expect(nodePortAddresses('ip6', o(['10.0.0.0/8']), addrs, [])).toBe('all-local');
    expect(nodePortAddresses('ip6', o(['10.0.0.0/8'], addrs), addrs, [])).toEqual(['fd00::2', 'fd01::2']);
    expect(nodePortAddresses('ip', o(['primary']), addrs, ['fd01::2'])).toBe('all-local');
  });
  it('CIDRs of a family select the node addresses inside; never loopback; a zero CIDR means all', () => {
    expect(nodePortAddresses('ip', o(['10.1.0.0/16', '127.0.0.0/8']), addrs, [])).toEqual(['10.1.0.2']);
    expect(nodePortAddresses('ip', o(['0.0.0.0/0']), addrs, [])).toBe('all-local');
  });
});

describe('endpoints', () => {
  it('are keyed by ip:port: one address with two target ports is two endpoints', () => {
    const m = buildModel([svc, slice('a', 8080, [{ ip: '10.0.0.1' }]), slice('b', 8081, [{ ip: '10.0.0.1' }])], opts);
    expect(m.servicePorts[0]?.endpoints.map((e) => `${e.ip}:${e.port}`)).toEqual(['10.0.0.1:8080', '10.0.0.1:8081']);
  });

  it('a duplicate ip:port: the local copy wins (kube-proxy), then the ready one', () => {
    const m = buildModel([svc, slice('a', 8080, [{ ip: '10.0.0.1', node: 'other', ready: true }]), slice('b', 8080, [{ ip: '10.0.0.1', node: 'n1', ready: false }])], opts);
    expect(m.servicePorts[0]?.endpoints).toMatchObject([{ ip: '10.0.0.1', isLocal: true, ready: false }]);
    const r = buildModel([svc, slice('a', 8080, [{ ip: '10.0.0.1', ready: false }]), slice('b', 8080, [{ ip: '10.0.0.1', ready: true }])], opts);
    expect(r.servicePorts[0]?.endpoints).toMatchObject([{ ready: true }]);
  });
});

describe('topology (kube-proxy topologyModeFromHints)', () => {
  const ep = (ip: string, o: Partial<Endpoint> = {}): Endpoint => ({ ip, port: 80, ready: true, serving: true, terminating: false, isLocal: false, ...o });
  const node = { name: 'n1', zone: 'z1' };
  it('PreferSameNode when every ready endpoint has node hints and one is for this node', () => {
    const eps = [ep('10.0.0.1', { hintNodes: ['n1'], hintZones: ['z1'] }), ep('10.0.0.2', { hintNodes: ['n2'], hintZones: ['z1'] })];
    expect(topologyMode(eps, node)).toBe('PreferSameNode');
    expect(categorizeEndpoints(eps, 'Cluster', node).cluster.map((e) => e.ip)).toEqual(['10.0.0.1']);
  });
  it('falls back to zone hints, then to every endpoint', () => {
    const eps = [ep('10.0.0.1', { hintNodes: ['n3'], hintZones: ['z1'] }), ep('10.0.0.2', { hintNodes: ['n2'], hintZones: ['z2'] })];
    expect(topologyMode(eps, node)).toBe('PreferSameZone');
    expect(topologyMode([ep('10.0.0.1', { hintNodes: ['n1'] }), ep('10.0.0.2')], node)).toBe('');
    // Not-ready endpoints do not count against hints.
    expect(topologyMode([ep('10.0.0.1', { hintNodes: ['n1'] }), ep('10.0.0.2', { ready: false })], node)).toBe('PreferSameNode');
  });
  it('hasUsableEndpoints: a ready, or a serving and terminating, endpoint anywhere', () => {
    expect(hasUsableEndpoints([ep('10.0.0.1', { ready: false, serving: false })])).toBe(false);
    expect(hasUsableEndpoints([ep('10.0.0.1', { ready: false, serving: true, terminating: true })])).toBe(true);
  });
});
