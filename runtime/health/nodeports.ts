// Health-check node ports for externalTrafficPolicy=Local services: cloud load balancers probe
// them and send traffic only to nodes answering 200, i.e. nodes with a Ready local endpoint while
// the proxier itself is healthy. One HTTP server per port and address, opened and closed as
// services come and go; bodies and headers are kube-proxy's (pkg/proxy/healthcheck/service_health.go).

import { cidrContains } from '../../ir/ip.js';
import type { CompileOptions, ServicePort } from '../../compiler/model/types.js';
import { listen, sendText, type Listening } from './http.js';

export interface HealthCheckService {
  namespace: string;
  name: string;
  localEndpoints: number;
}

export interface HealthCheckLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * healthCheckNodePort → the service it reports on, from the model (max over the service's ports).
 * Only Ready local endpoints count (kube-proxy's LocalReadyEndpoints): a node whose endpoints are
 * all terminating, even if still serving, answers 503 so that load balancers drain it.
 */
export function healthCheckServices(servicePorts: readonly ServicePort[]): Map<number, HealthCheckService> {
  const out = new Map<number, HealthCheckService>();
  for (const sp of servicePorts) {
    if (sp.healthCheckNodePort === undefined || sp.externalTrafficPolicy !== 'Local') continue;
    const local = new Set(sp.endpoints.filter((e) => e.isLocal && e.ready).map((e) => e.ip)).size;
    const prev = out.get(sp.healthCheckNodePort);
    if (prev && (prev.namespace !== sp.namespace || prev.name !== sp.name)) continue; // first claimant keeps the port
    out.set(sp.healthCheckNodePort, { namespace: sp.namespace, name: sp.name, localEndpoints: Math.max(prev?.localEndpoints ?? 0, local) });
  }
  return out;
}

/**
 * Where the health-check servers listen, as kube-proxy's do: on the node addresses that accept
 * NodePorts. Per family: no CIDR given (and no `primary`) → every address of the family;
 * otherwise the interface addresses inside the CIDRs plus, for `primary`, the node's primary IP.
 * Both families unrestricted → one wildcard listener.
 */
export function healthCheckHosts(opts: Pick<CompileOptions, 'nodePortAddresses' | 'nodeIPs'>, nodeAddresses: readonly string[]): string[] {
  const hosts: string[] = [];
  for (const v6 of [false, true]) {
    const ofFamily = (a: string): boolean => a.includes(':') === v6;
    const cidrs = opts.nodePortAddresses.filter((c) => c !== 'primary' && ofFamily(c));
    const primary = opts.nodePortAddresses.includes('primary') ? nodeAddresses.find(ofFamily) : undefined;
    if (cidrs.length === 0 && primary === undefined) {
      hosts.push(v6 ? '::' : '0.0.0.0');
      continue;
    }
    const addrs = opts.nodeIPs.filter((a) => ofFamily(a) && cidrs.some((c) => cidrContains(c, a)));
    for (const a of primary !== undefined ? [primary, ...addrs] : addrs) if (!hosts.includes(a)) hosts.push(a);
  }
  // 0.0.0.0 and :: both: one IPv4 wildcard as before (binding :: fails where IPv6 is disabled).
  return hosts.includes('0.0.0.0') && hosts.includes('::') ? ['0.0.0.0'] : hosts;
}

/** kube-proxy's body, byte for byte (a dedented Go template: tab-indented JSON). */
export function healthCheckBody(s: HealthCheckService, proxyHealthy: boolean): string {
  return [
    '{',
    '\t"service": {',
    `\t\t"namespace": ${JSON.stringify(s.namespace)},`,
    `\t\t"name": ${JSON.stringify(s.name)}`,
    '\t},',
    `\t"localEndpoints": ${s.localEndpoints},`,
    `\t"serviceProxyHealthy": ${proxyHealthy}`,
    '}',
  ].join('\n');
}

interface Entry {
  state: HealthCheckService;
  listening: Listening[];
  opening?: Promise<void>;
}

export class HealthCheckServers {
  private readonly servers = new Map<number, Entry>();
  private hosts: string[];

  constructor(
    private readonly log: HealthCheckLogger,
    hosts: string | string[] = '0.0.0.0',
    /** The proxier's own health (kube-proxy's Health().Healthy: syncs not stale). */
    private readonly proxyHealthy: () => boolean = () => true,
  ) {
    this.hosts = typeof hosts === 'string' ? [hosts] : hosts;
  }

  get ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  /** Listen addresses changed (e.g. the Node's primary IP became known): every server reopens. */
  async setHosts(hosts: string[]): Promise<void> {
    if (hosts.length === this.hosts.length && hosts.every((h, i) => h === this.hosts[i])) return;
    const wanted = new Map([...this.servers].map(([port, e]) => [port, e.state]));
    await this.update(new Map());
    this.hosts = [...hosts];
    this.log.info({ hosts }, 'health check node ports listen on');
    await this.update(wanted);
  }

  /** Opens servers for new ports, closes those of services gone, updates the counts of the rest. */
  async update(wanted: Map<number, HealthCheckService>): Promise<void> {
    const work: Promise<void>[] = [];
    for (const [port, entry] of this.servers) {
      if (!wanted.has(port)) {
        this.servers.delete(port);
        work.push((entry.opening ?? Promise.resolve()).then(() => Promise.all(entry.listening.map((l) => l.close()))).then(() => undefined));
        this.log.info({ port, service: `${entry.state.namespace}/${entry.state.name}` }, 'health check node port closed');
      }
    }
    for (const [port, state] of wanted) {
      const existing = this.servers.get(port);
      if (existing) {
        existing.state = state;
        continue;
      }
      const entry: Entry = { state, listening: [] };
      entry.opening = this.open(port, entry).then(
        () => this.log.info({ port, hosts: this.hosts, service: `${state.namespace}/${state.name}` }, 'health check node port open'),
        async (err: unknown) => {
          // As kube-proxy: close what did open, so that the next sync retries the whole port.
          await Promise.all(entry.listening.map((l) => l.close()));
          entry.listening = [];
          this.log.warn({ port, err: (err as Error).message }, 'cannot open health check node port');
          if (this.servers.get(port) === entry) this.servers.delete(port);
        },
      );
      this.servers.set(port, entry);
      work.push(entry.opening);
    }
    await Promise.all(work);
  }

  private async open(port: number, entry: Entry): Promise<void> {
    for (const host of this.hosts) {
      entry.listening.push(
        await listen(host, port, (_req, res) => {
          const s = entry.state;
          const healthy = this.proxyHealthy();
          sendText(res, s.localEndpoints > 0 && healthy ? 200 : 503, healthCheckBody(s, healthy), { 'X-Load-Balancing-Endpoint-Weight': String(s.localEndpoints) });
        }),
      );
    }
  }

  async close(): Promise<void> {
    await this.update(new Map());
  }
}
