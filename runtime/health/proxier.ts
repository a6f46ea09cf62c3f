// kube-proxy's ProxierHealthServer semantics: healthy unless an update has been waiting to be
// programmed for longer than healthTimeout (kube-proxy uses 2 × syncPeriod). The daemon queues
// an update at start, so a proxier that never manages to sync turns unhealthy after the
// timeout. /healthz also requires the node to be eligible (not being deleted); /livez does not.

import type http from 'node:http';
import { listen, sendJson, splitHostPort, type Listening } from './http.js';

/** A service port the kernel refused (runtime/sync/quarantine.ts), as /healthz reports it. */
export interface QuarantineReport {
  servicePort: string;
  reason: string;
  since: string;
}

export class ProxierHealth {
  private lastUpdated: number | undefined;
  private oldestQueued: number | undefined;
  private nodeEligible = true;
  private quarantined: QuarantineReport[] = [];

  constructor(
    readonly healthTimeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A change is waiting to be programmed (only the oldest waiting one counts). */
  queued(at: number = this.now()): void {
    this.oldestQueued ??= at;
  }

  /** Everything queued so far is in the kernel. */
  updated(): void {
    this.lastUpdated = this.now();
    this.oldestQueued = undefined;
  }

  setNodeEligible(eligible: boolean): void {
    this.nodeEligible = eligible;
  }

  /** Reported in the /healthz body; it does not make the proxier unhealthy (the rest is programmed). */
  setQuarantined(ports: QuarantineReport[]): void {
    this.quarantined = ports;
  }

  status(forLivez = false): { healthy: boolean; body: Record<string, unknown> } {
    const now = this.now();
    const synced = this.oldestQueued === undefined || now - this.oldestQueued < this.healthTimeoutMs;
    const healthy = synced && (forLivez || this.nodeEligible);
    const body: Record<string, unknown> = {
      lastUpdated: new Date(this.lastUpdated ?? 0).toISOString(),
      currentTime: new Date(now).toISOString(),
    };
    if (!forLivez) {
      body['nodeEligible'] = this.nodeEligible;
      body['quarantinedServicePorts'] = this.quarantined;
    }
    return { healthy, body };
  }

  handler(): http.RequestListener {
    return (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path !== '/healthz' && path !== '/livez') {
        sendJson(res, 404, { error: `not found: ${path}` });
        return;
      }
      const { healthy, body } = this.status(path === '/livez');
      sendJson(res, healthy ? 200 : 503, body);
    };
  }

  serve(hostPort: string): Promise<Listening> {
    const { host, port } = splitHostPort(hostPort);
    return listen(host, port, this.handler());
  }
}
