// Health-check node ports for externalTrafficPolicy=Local services: cloud load balancers probe
// them and send traffic only to nodes answering 200, i.e. nodes with a local endpoint. One HTTP
// server per port, opened and closed as services come and go; the body is kube-proxy's.

import type { ServicePort } from '../../compiler/model/types.js';
import { listen, sendJson, type Listening } from './http.js';

export interface HealthCheckService {
  namespace: string;
  name: string;
  localEndpoints: number;
}

export interface HealthCheckLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** healthCheckNodePort → the service it reports on, from the model (max over the service's ports). */
export function healthCheckServices(servicePorts: readonly ServicePort[]): Map<number, HealthCheckService> {
  const out = new Map<number, HealthCheckService>();
  for (const sp of servicePorts) {
    if (sp.healthCheckNodePort === undefined || sp.externalTrafficPolicy !== 'Local') continue;
    const local = new Set(sp.localEndpoints.filter((e) => e.ready || e.serving).map((e) => e.ip)).size;
    const prev = out.get(sp.healthCheckNodePort);
    if (prev && (prev.namespace !== sp.namespace || prev.name !== sp.name)) continue; // first claimant keeps the port
    out.set(sp.healthCheckNodePort, { namespace: sp.namespace, name: sp.name, localEndpoints: Math.max(prev?.localEndpoints ?? 0, local) });
  }
  return out;
}

export class HealthCheckServers {
  private readonly servers = new Map<number, { state: HealthCheckService; listening?: Listening; opening?: Promise<void> }>();

  constructor(
    private readonly log: HealthCheckLogger,
    private readonly host = '0.0.0.0',
  ) {}

  get ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  /** Opens servers for new ports, closes those of services gone, updates the counts of the rest. */
  async update(wanted: Map<number, HealthCheckService>): Promise<void> {
    const work: Promise<void>[] = [];
    for (const [port, entry] of this.servers) {
      if (!wanted.has(port)) {
        this.servers.delete(port);
        work.push((entry.opening ?? Promise.resolve()).then(() => entry.listening?.close()));
        this.log.info({ port, service: `${entry.state.namespace}/${entry.state.name}` }, 'health check node port closed');
      }
    }
    for (const [port, state] of wanted) {
      const existing = this.servers.get(port);
      if (existing) {
        existing.state = state;
        continue;
      }
      const entry: { state: HealthCheckService; listening?: Listening; opening?: Promise<void> } = { state };
      entry.opening = listen(this.host, port, (_req, res) => {
        const s = entry.state;
        sendJson(res, s.localEndpoints > 0 ? 200 : 503, {
          service: { namespace: s.namespace, name: s.name },
          localEndpoints: s.localEndpoints,
          serviceProxyHealthy: true,
        }, { 'X-Load-Balancing-Endpoint-Weight': String(s.localEndpoints) });
      }).then(
        (l) => {
          entry.listening = l;
          this.log.info({ port, service: `${state.namespace}/${state.name}` }, 'health check node port open');
        },
        (err: unknown) => {
          this.log.warn({ port, err: (err as Error).message }, 'cannot open health check node port');
          if (this.servers.get(port) === entry) this.servers.delete(port); // retried at the next sync
        },
      );
      this.servers.set(port, entry);
      work.push(entry.opening);
    }
    await Promise.all(work);
  }

  async close(): Promise<void> {
    await this.update(new Map());
  }
}
