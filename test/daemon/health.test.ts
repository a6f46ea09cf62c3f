// Health checks as kube-proxy serves them (pkg/proxy/healthcheck): the health-check node port of
// an ETP-Local service counts Ready local endpoints only and reports the proxier's own health;
// /healthz turns unhealthy for a node being deleted or tainted by the cluster autoscaler; the
// servers listen on the NodePort addresses. HTTP is exercised on loopback.

import { describe, expect, it } from 'vitest';
import type { Endpoint, ServicePort } from '../../compiler/model/types.js';
import { HealthCheckServers, healthCheckBody, healthCheckHosts, healthCheckServices } from '../../runtime/health/nodeports.js';
import { ProxierHealth, nodeEligible } from '../../runtime/health/proxier.js';

const ep = (ip: string, o: Partial<Endpoint> = {}): Endpoint => ({ ip, port: 80, ready: true, serving: true, terminating: false, isLocal: true, ...o });

function lb(endpoints: Endpoint[]): ServicePort {
  return {
    id: 'default/lb:http', namespace: 'default', name: 'lb', portName: 'http', protocol: 'tcp', family: 4, clusterIP: '10.96.0.12', port: 80, nodePort: 30012,
    externalIPs: [], loadBalancerIPs: ['203.0.113.1'], loadBalancerSourceRanges: [], externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Cluster', healthCheckNodePort: 32012,
    endpoints, clusterEndpoints: endpoints, localEndpoints: endpoints.filter((e) => e.isLocal),
  };
}

describe('health-check node ports', () => {
  it('count only Ready local endpoints: a node whose endpoints are terminating (even serving) drains', () => {
    const hc = (eps: Endpoint[]) => healthCheckServices([lb(eps)]).get(32012)?.localEndpoints;
    expect(hc([ep('10.244.0.1'), ep('10.244.0.2', { isLocal: false })])).toBe(1);
    expect(hc([ep('10.244.0.1', { ready: false, serving: true, terminating: true })])).toBe(0);
    expect(hc([ep('10.244.0.1', { ready: false, serving: false })])).toBe(0);
  });

  it("answer with kube-proxy's body and headers; 503 when the proxier is unhealthy even with endpoints", async () => {
    let healthy = true;
    const servers = new HealthCheckServers({ info: () => undefined, warn: () => undefined }, '127.0.0.1', () => healthy);
    const port = 20000 + Math.floor(Math.random() * 20000);
    try {
      await servers.update(new Map([[port, { namespace: 'default', name: 'lb', localEndpoints: 2 }]]));
      const ok = await fetch(`http://127.0.0.1:${port}/`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toBe('application/json');
      expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
      expect(ok.headers.get('x-load-balancing-endpoint-weight')).toBe('2');
      expect(await ok.text()).toBe('{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "lb"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}');
      healthy = false;
      const stale = await fetch(`http://127.0.0.1:${port}/`);
      expect(stale.status).toBe(503);
      expect(JSON.parse(await stale.text())).toEqual({ service: { namespace: 'default', name: 'lb' }, localEndpoints: 2, serviceProxyHealthy: false });
    } finally {
      await servers.close();
    }
    expect(healthCheckBody({ namespace: 'a', name: 'b', localEndpoints: 0 }, true)).toContain('"localEndpoints": 0');
  });

  it('listen on the NodePort addresses as kube-proxy does (primary, CIDRs per family, else every address)', () => {
    const opts = (nodePortAddresses: string[]) => ({ nodePortAddresses, nodeIPs: ['192.168.0.1', '10.0.0.5', 'fd00::1'] });
    expect(healthCheckHosts(opts([]), ['192.168.0.1'])).toEqual(['0.0.0.0']);
    expect(healthCheckHosts(opts(['primary']), ['192.168.0.1'])).toEqual(['192.168.0.1', '::']);
    expect(healthCheckHosts(opts(['primary']), [])).toEqual(['0.0.0.0']);
    expect(healthCheckHosts(opts(['10.0.0.0/8']), ['192.168.0.1'])).toEqual(['10.0.0.5', '::']);
    expect(healthCheckHosts(opts(['primary', 'fd00::/64']), ['192.168.0.1', 'fd00::1'])).toEqual(['192.168.0.1', 'fd00::1']);
  });
});

describe('proxier health', () => {
  it('a Node being deleted or tainted ToBeDeletedByClusterAutoscaler is not eligible; other taints are fine', () => {
    expect(nodeEligible(undefined)).toBe(true);
    expect(nodeEligible({ metadata: { name: 'n' } })).toBe(true);
    expect(nodeEligible({ metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } })).toBe(false);
    expect(nodeEligible({ spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1700000000', effect: 'NoSchedule' }] } })).toBe(false);
    expect(nodeEligible({ spec: { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } })).toBe(true);
  });

  it('/healthz: 503 with nodeEligible false for an ineligible node, healthy in the body; stale syncs turn both /healthz and /livez 503', () => {
    let now = 1_000_000;
    const h = new ProxierHealth(2000, () => now);
    h.updated();
    expect(h.status()).toMatchObject({ healthy: true, body: { nodeEligible: true, healthy: true } });
    h.setNodeEligible(false);
    expect(h.status()).toMatchObject({ healthy: false, body: { nodeEligible: false, healthy: true } });
    expect(h.status(true).healthy).toBe(true);
    h.setNodeEligible(true);
    h.queued();
    now += 2500;
    expect(h.proxyHealthy()).toBe(false);
    expect(h.status()).toMatchObject({ healthy: false, body: { healthy: false } });
    expect(h.status(true).healthy).toBe(false);
  });
});
