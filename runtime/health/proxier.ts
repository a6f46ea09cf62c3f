// kube-proxy's ProxierHealthServer semantics: healthy unless an update has been waiting to be
// programmed for longer than healthTimeout (kube-proxy uses 2 × syncPeriod). The daemon queues
// an update at start, so a proxier that never manages to sync turns unhealthy after the
// timeout. /healthz also requires the node to be eligible (not being deleted, and not tainted
// ToBeDeletedByClusterAutoscaler); /livez does not.

import type http from 'node:http';
import { listen, sendJson, splitHostPort, type Listening } from './http.js';

/** The taint the cluster autoscaler puts on a node before deleting it (kube-proxy's ToBeDeletedTaint). */
export const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler';

/** kube-proxy's NodeEligible: not being deleted, not tainted for deletion. An unknown Node is eligible (it may not be listed yet). */
export function nodeEligible(node: unknown): boolean {
  if (typeof node !== 'object' || node === null) return true;
  const n = node as { metadata?: { deletionTimestamp?: unknown }; spec?: { taints?: unknown } };
  if (n.metadata?.deletionTimestamp) return false;
  const taints = Array.isArray(n.spec?.taints) ? (n.spec.taints as unknown[]) : [];
  return !taints.some((t) => typeof t === 'object' && t !== null && (t as { key?: unknown }).key === TO_BE_DELETED_TAINT);
}

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

  /** kube-proxy's Health().Healthy: no update waiting longer than the timeout (node eligibility aside). */
  proxyHealthy(): boolean {
    return this.oldestQueued === undefined || this.now() - this.oldestQueued < this.healthTimeoutMs;
  }

  /** Reported in the /healthz body; it does not make the proxier unhealthy (the rest is programmed). */
  setQuarantined(ports: QuarantineReport[]): void {
    this.quarantined = ports;
  }

  status(forLivez = false): { healthy: boolean; body: Record<string, unknown> } {
    const now = this.now();
    const synced = this.proxyHealthy();
    const healthy = synced && (forLivez || this.nodeEligible);
    const body: Record<string, unknown> = {
      lastUpdated: new Date(this.lastUpdated ?? 0).toISOString(),
      currentTime: new Date(now).toISOString(),
    };
    if (!forLivez) {
      body['nodeEligible'] = this.nodeEligible;
      body['quarantinedServicePorts'] = this.quarantined;
    }
    body['healthy'] = synced;
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
