// Prometheus metrics under kube-proxy's names (dashboards and alerts written for kube-proxy keep
// working), plus nftproxy's own. One registry per daemon, not prom-client's global one.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets, linearBuckets } from 'prom-client';

export interface SyncObservation {
  kind: 'full' | 'partial' | 'noop';
  durationMs: number;
}

// kube-proxy: metrics.SyncProxyRulesLatency buckets = ExponentialBuckets(0.001, 2, 15).
const SYNC_BUCKETS = exponentialBuckets(0.001, 2, 15);
// kube-proxy: NetworkProgrammingLatency buckets.
const NPL_BUCKETS = [
  ...linearBuckets(0.25, 0.25, 2),
  ...linearBuckets(1, 1, 59),
  ...linearBuckets(60, 5, 12),
  ...linearBuckets(120, 30, 7),
];

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly syncDuration: Histogram;
  private readonly fullDuration: Histogram;
  private readonly partialDuration: Histogram;
  private readonly lastTimestamp: Gauge;
  private readonly programmingLatency: Histogram;
  private readonly failures: Counter;
  private readonly objects: Gauge;
  private readonly applierInfo: Gauge;
  private readonly quarantined: Gauge;
  private readonly conflictingKeys: Gauge;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.syncDuration = new Histogram({ name: 'kubeproxy_sync_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds', buckets: SYNC_BUCKETS, registers });
    this.fullDuration = new Histogram({ name: 'kubeproxy_sync_full_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds for full resyncs', buckets: SYNC_BUCKETS, registers });
    this.partialDuration = new Histogram({ name: 'kubeproxy_sync_partial_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds for partial resyncs', buckets: SYNC_BUCKETS, registers });
    this.lastTimestamp = new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', registers });
    this.programmingLatency = new Histogram({ name: 'kubeproxy_network_programming_duration_seconds', help: 'In Cluster Network Programming Latency in seconds', buckets: NPL_BUCKETS, registers });
    this.failures = new Counter({ name: 'kubeproxy_sync_proxy_rules_nftables_sync_failures_total', help: 'Number of failed nftables syncs', registers });
    this.objects = new Gauge({ name: 'nftproxy_objects_programmed', help: 'Objects in the last programmed ruleset, by kind', labelNames: ['kind'], registers });
    this.applierInfo = new Gauge({ name: 'nftproxy_applier_info', help: 'The applier in use (1 for the active one)', labelNames: ['applier'], registers });
    this.quarantined = new Gauge({ name: 'nftproxy_quarantined_service_ports', help: 'Service ports the kernel refused, left at their last accepted version while everything else is programmed', registers });
    this.conflictingKeys = new Gauge({ name: 'nftproxy_conflicting_keys', help: 'Map/set keys claimed by more than one service port (the model gives each to one owner)', registers });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  observeSync(o: SyncObservation, at: number = Date.now()): void {
    const s = o.durationMs / 1000;
    this.syncDuration.observe(s);
    if (o.kind === 'full') this.fullDuration.observe(s);
    else if (o.kind === 'partial') this.partialDuration.observe(s);
    this.lastTimestamp.set(at / 1000);
  }

  /** One observation per change programmed: from its arrival to the end of the sync. */
  observeProgramming(arrivals: readonly number[], doneAt: number = Date.now()): void {
    for (const a of arrivals) this.programmingLatency.observe(Math.max(0, doneAt - a) / 1000);
  }

  syncFailed(): void {
    this.failures.inc();
  }

  setObjects(counts: Record<string, number>): void {
    for (const [kind, n] of Object.entries(counts)) this.objects.set({ kind }, n);
  }

  setQuarantined(n: number): void {
    this.quarantined.set(n);
  }

  setConflictingKeys(n: number): void {
    this.conflictingKeys.set(n);
  }

  setApplier(name: string): void {
    this.applierInfo.reset();
    this.applierInfo.set({ applier: name }, 1);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
