import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/model/build.js';
import { loadObjects } from '../../compiler/model/load.js';
import type { ServicePort } from '../../compiler/model/types.js';
import { node, opts, service, slice } from './fixtures.js';

const byId = (ports: ServicePort[], id: string, family: 4 | 6 = 4): ServicePort => {
  const sp = ports.find((p) => p.id === id && p.family === family);
  if (sp === undefined) throw new Error(`no service port ${id} (IPv${family}); have ${ports.map((p) => p.id).join(', ')}`);
  return sp;
};
const addrs = (sp: ServicePort): string[] => sp.endpoints.map((e) => `${e.ip}:${e.port}`);

describe('buildModel on examples/cluster.yaml', () => {
  const { objects } = loadObjects(readFileSync(new URL('../../examples/cluster.yaml', import.meta.url), 'utf8'));
  const model = buildModel(objects, opts({ nodeName: 'node-a' }));

  it('has no problems and one service port per (service, port, family)', () => {
    expect(model.problems).toEqual([]);
    expect(model.servicePorts.map((p) => `${p.id}/${p.protocol}/v${p.family}`)).toEqual([
      'default/dual:http/tcp/v4',
      'default/dual:http/tcp/v6',
      'default/kubernetes:https/tcp/v4',
      'default/multi:http/tcp/v4',
      'default/multi:https/tcp/v4',
      'default/no-endpoints/tcp/v4',
      'default/sctp-echo:echo/sctp/v4',
      'default/web:http/tcp/v4',
      'default/web-nodeport:http/tcp/v4',
      'kube-system/kube-dns:dns/udp/v4',
      'kube-system/kube-dns:dns-tcp/tcp/v4',
      'kube-system/kube-dns:metrics/tcp/v4',
    ]);
  });

  it('takes node facts from the Node object', () => {
    expect(model.node).toEqual({
      name: 'node-a',
      zone: 'a',
      addresses: ['192.168.0.1'],
      primaryIPs: ['192.168.0.1'],
      podCIDRs: ['10.244.0.0/24', 'fd00:10:244::/80'],
    });
  });

  it('resolves named target ports through the slice port of the same name and protocol', () => {
    const dns = byId(model.servicePorts, 'kube-system/kube-dns:dns');
    expect(dns).toMatchObject({ protocol: 'udp', port: 53, clusterIP: '10.96.0.10' });
    expect(addrs(dns)).toEqual(['10.244.0.2:53', '10.244.1.3:53']);
    expect(addrs(byId(model.servicePorts, 'kube-system/kube-dns:metrics'))).toEqual(['10.244.0.2:9153', '10.244.1.3:9153']);
    expect(addrs(byId(model.servicePorts, 'default/multi:https'))).toEqual(['10.244.0.9:8443', '10.244.1.10:8443']);
  });

  it('marks local endpoints and categorises them', () => {
    const web = byId(model.servicePorts, 'default/web:http');
    expect(web.endpoints.filter((e) => e.isLocal).map((e) => e.ip)).toEqual(['10.244.0.5']);
    expect(web.clusterEndpoints).toHaveLength(3);
    expect(web.localEndpoints.map((e) => e.ip)).toEqual(['10.244.0.5']);
  });

  it('splits dual-stack services per family', () => {
    const v4 = byId(model.servicePorts, 'default/dual:http', 4);
    const v6 = byId(model.servicePorts, 'default/dual:http', 6);
    expect(v4.clusterIP).toBe('10.96.0.50');
    expect(v6.clusterIP).toBe('fd00:10:96::50');
    expect(addrs(v4)).toEqual(['10.244.0.11:8080', '10.244.1.12:8080']);
    expect(v6.endpoints.map((e) => e.ip)).toEqual(['fd00:10:244::11', 'fd00:10:244:0:1::12']);
  });

  it('keeps NodePorts only on NodePort/LoadBalancer services and empty services', () => {
    expect(byId(model.servicePorts, 'default/web-nodeport:http').nodePort).toBe(30080);
    expect(byId(model.servicePorts, 'default/web:http').nodePort).toBeUndefined();
    expect(byId(model.servicePorts, 'default/no-endpoints').endpoints).toEqual([]);
  });

  it('is independent of input order', () => {
    const reversed = buildModel([...objects].reverse(), opts({ nodeName: 'node-a' }));
    expect(reversed).toEqual(model);
  });
});

describe('buildModel', () => {
  const svc80 = (extra: Record<string, unknown> = {}) =>
    service('ns', 'svc', { clusterIP: '10.96.0.1', ports: [{ name: 'http', port: 80, targetPort: 'web' }], ...extra });

  it('merges endpoints across slices, dedupes addresses and sorts numerically', () => {
    const m = buildModel(
      [
        svc80(),
        slice('ns', 'svc-b', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.0.0.10' }, { ip: '10.0.0.9', ready: false }]),
        slice('ns', 'svc-a', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.0.0.9' }, { ip: '10.0.0.100' }]),
      ],
      opts(),
    );
    expect(m.problems).toEqual([]);
    const sp = byId(m.servicePorts, 'ns/svc:http');
    expect(sp.endpoints.map((e) => [e.ip, e.ready])).toEqual([
      ['10.0.0.9', true],
      ['10.0.0.10', true],
      ['10.0.0.100', true],
    ]);
  });

  it('prefers a ready copy of a duplicated address over a not-ready one seen first', () => {
    const m = buildModel(
      [
        svc80(),
        slice('ns', 'svc-a', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.0.0.9', ready: false }]),
        slice('ns', 'svc-b', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.0.0.9', ready: true }]),
      ],
      opts(),
    );
    expect(byId(m.servicePorts, 'ns/svc:http').endpoints).toEqual([
      { ip: '10.0.0.9', port: 8080, ready: true, serving: true, terminating: false, isLocal: false },
    ]);
  });

  it('uses a slice only for the ports it names (same name and protocol)', () => {
    const m = buildModel(
      [
        service('ns', 'svc', {
          clusterIP: '10.96.0.1',
          ports: [
            { name: 'dns', port: 53, protocol: 'UDP' },
            { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          ],
        }),
        // A slice with a stale port name or protocol contributes nothing to that service port.
        slice('ns', 'svc-a', 'svc', 'IPv4', [{ name: 'dns', port: 5353, protocol: 'UDP' }], [{ ip: '10.0.0.1' }]),
        slice('ns', 'svc-b', 'svc', 'IPv4', [{ name: 'dns-tcp', port: 5353, protocol: 'UDP' }], [{ ip: '10.0.0.2' }]),
      ],
      opts(),
    );
    expect(addrs(byId(m.servicePorts, 'ns/svc:dns'))).toEqual(['10.0.0.1:5353']);
    expect(addrs(byId(m.servicePorts, 'ns/svc:dns-tcp'))).toEqual([]);
  });

  it('resolves the target port per slice (pods of one service may listen on different ports)', () => {
    const m = buildModel(
      [
        svc80(),
        slice('ns', 'svc-old', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.0.0.1' }]),
        slice('ns', 'svc-new', 'svc', 'IPv4', [{ name: 'http', port: 9090 }], [{ ip: '10.0.0.2' }]),
      ],
      opts(),
    );
    expect(addrs(byId(m.servicePorts, 'ns/svc:http'))).toEqual(['10.0.0.1:8080', '10.0.0.2:9090']);
  });

  it('handles unnamed single ports (id has no colon, like kube-proxy) and defaults protocol to TCP', () => {
    const m = buildModel(
      [
        service('ns', 'svc', { clusterIP: '10.96.0.1', ports: [{ port: 80 }] }),
        slice('ns', 'svc-a', 'svc', 'IPv4', [{ port: 8080 }], [{ ip: '10.0.0.1' }]),
      ],
      opts(),
    );
    expect(byId(m.servicePorts, 'ns/svc')).toMatchObject({ portName: '', protocol: 'tcp', port: 80 });
    expect(addrs(byId(m.servicePorts, 'ns/svc'))).toEqual(['10.0.0.1:8080']);
  });

  it('builds single-stack IPv6 services and filters external addresses by family', () => {
    const m = buildModel(
      [
        service(
          'ns',
          'v6',
          {
            type: 'LoadBalancer',
            clusterIP: 'FD00:10:96::0:7',
            ipFamilies: ['IPv6'],
            ports: [{ name: 'http', port: 80, nodePort: 30007 }],
            externalIPs: ['203.0.113.7', '2001:db8::7'],
            loadBalancerSourceRanges: ['2001:db8::/32', ' 198.51.100.0/24 ', '2001:db8:1::1/48'],
            externalTrafficPolicy: 'Local',
            healthCheckNodePort: 32000,
          },
          { loadBalancer: { ingress: [{ ip: '2001:db8::8' }, { ip: '203.0.113.8' }, { hostname: 'lb.example.com' }, { ip: '2001:db8::9', ipMode: 'Proxy' }] } },
        ),
        slice('ns', 'v6-a', 'v6', 'IPv6', [{ name: 'http', port: 8080 }], [{ ip: 'fd00:10:244::0005' }]),
        slice('ns', 'v6-b', 'v6', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.244.0.5' }]),
      ],
      opts(),
    );
    expect(m.problems).toEqual([]);
    expect(m.servicePorts).toHaveLength(1);
    expect(m.servicePorts[0]).toMatchObject({
      family: 6,
      clusterIP: 'fd00:10:96::7',
      nodePort: 30007,
      externalIPs: ['2001:db8::7'],
      loadBalancerIPs: ['2001:db8::8'],
      loadBalancerSourceRanges: ['2001:db8::/32'], // 2001:db8:1::/48 lies inside: dropped (no overlapping intervals),
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 32000,
    });
    expect(addrs(m.servicePorts[0] as ServicePort)).toEqual(['fd00:10:244::5:8080']);
  });

  it('keeps healthCheckNodePort only for LoadBalancer services with externalTrafficPolicy Local', () => {
    const lb = (etp: string) =>
      service('ns', `lb-${etp.toLowerCase()}`, {
        type: 'LoadBalancer',
        clusterIP: '10.96.0.1',
        externalTrafficPolicy: etp,
        healthCheckNodePort: 32000,
        ports: [{ port: 80, nodePort: 30080 }],
      });
    const m = buildModel([lb('Local'), lb('Cluster')], opts());
    expect(byId(m.servicePorts, 'ns/lb-local').healthCheckNodePort).toBe(32000);
    expect(byId(m.servicePorts, 'ns/lb-cluster').healthCheckNodePort).toBeUndefined();
  });

  it('sets session affinity with the default and an explicit timeout', () => {
    const m = buildModel(
      [
        service('ns', 'a', { clusterIP: '10.96.0.1', sessionAffinity: 'ClientIP', ports: [{ port: 80 }] }),
        service('ns', 'b', {
          clusterIP: '10.96.0.2',
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
          ports: [{ port: 80 }],
        }),
        service('ns', 'c', { clusterIP: '10.96.0.3', ports: [{ port: 80 }] }),
      ],
      opts(),
    );
    expect(byId(m.servicePorts, 'ns/a').sessionAffinity).toEqual({ timeoutSeconds: 10800 });
    expect(byId(m.servicePorts, 'ns/b').sessionAffinity).toEqual({ timeoutSeconds: 60 });
    expect(byId(m.servicePorts, 'ns/c').sessionAffinity).toBeUndefined();
  });

  it('produces nothing (and no problem) for headless and ExternalName services and FQDN slices', () => {
    const m = buildModel(
      [
        service('ns', 'headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
        service('ns', 'ext', { type: 'ExternalName', externalName: 'example.com' }),
        slice('ns', 'headless-a', 'headless', 'IPv4', [{ port: 80 }], [{ ip: '10.0.0.1' }]),
        slice('ns', 'ext-a', 'ext', 'FQDN', [{ port: 80 }], [{ ip: 'example.com' }]),
      ],
      opts(),
    );
    expect(m).toMatchObject({ servicePorts: [], problems: [] });
  });

  it('ignores slices of services that do not exist and treats null fields as absent', () => {
    const m = buildModel(
      [
        { ...svc80(), status: null },
        slice('ns', 'gone-a', 'gone', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.0.0.1' }]),
        { ...slice('ns', 'svc-a', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], []), endpoints: null },
      ],
      opts(),
    );
    expect(m.problems).toEqual([]);
    expect(m.servicePorts).toHaveLength(1);
    expect(m.servicePorts[0]?.endpoints).toEqual([]);
  });

  it('uses the first address of an endpoint and carries zone, node and hints', () => {
    const s = slice('ns', 'svc-a', 'svc', 'IPv4', [{ name: 'http', port: 8080 }], [
      { ip: '10.0.0.1', node: 'n1', zone: 'z1', hints: ['z1'], ready: false, serving: true, terminating: true },
    ]);
    ((s['endpoints'] as Record<string, unknown>[])[0] as Record<string, unknown>)['addresses'] = ['10.0.0.1', '10.0.0.2'];
    const m = buildModel([svc80(), s], opts({ nodeName: 'n1' }));
    expect(m.servicePorts[0]?.endpoints).toEqual([
      { ip: '10.0.0.1', port: 8080, nodeName: 'n1', zone: 'z1', hintZones: ['z1'], ready: false, serving: true, terminating: true, isLocal: true },
    ]);
  });

  it('takes node facts from options over the Node object', () => {
    const objects = [node('n1', 'z-node', [{ type: 'InternalIP', address: '192.168.0.1' }, { type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: 'fd00::1' }])];
    expect(buildModel(objects, opts({ nodeName: 'n1' })).node).toEqual({
      name: 'n1',
      zone: 'z-node',
      addresses: ['192.168.0.1', 'fd00::1'],
      primaryIPs: ['192.168.0.1', 'fd00::1'],
    });
    expect(buildModel(objects, opts({ nodeName: 'n1', nodeZone: 'z-opt', nodeIPs: ['10.1.1.1'] })).node).toEqual({
      name: 'n1',
      zone: 'z-opt',
      addresses: ['10.1.1.1'],
      // --nodeport-addresses primary: always the Node object's.
      primaryIPs: ['192.168.0.1', 'fd00::1'],
    });
    expect(buildModel(objects, opts()).node).toEqual({ addresses: [] });
  });

  it('reports a bad node IP in the options', () => {
    const m = buildModel([], opts({ nodeIPs: ['10.0.0.1', 'nope'] }));
    expect(m.node.addresses).toEqual(['10.0.0.1']);
    expect(m.problems).toEqual([{ kind: 'CompileOptions', field: 'nodeIPs[1]', message: 'expected an IP address, got "nope"' }]);
  });

  it('keeps the first of two copies of a Service and reports the second', () => {
    const m = buildModel([svc80(), service('ns', 'svc', { clusterIP: '10.96.0.2', ports: [{ port: 81 }] })], opts());
    expect(m.servicePorts.map((p) => p.clusterIP)).toEqual(['10.96.0.1']);
    expect(m.problems).toMatchObject([{ kind: 'Service', namespace: 'ns', name: 'svc' }]);
  });
});
