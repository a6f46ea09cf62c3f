// The proxier daemon: watches → store → (coalesced) compile → SyncEngine → kernel, with the
// health, metrics and health-check node port servers and UDP conntrack cleanup around it.
// Stopping leaves the rules in place (like kube-proxy): a restarting daemon takes the table over
// with one atomic full sync, so traffic is never unproxied.

import type { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { compile } from '../../compiler/index.js';
import { createLowerCache } from '../../compiler/lower.js';
import { resolveConflicts } from '../../compiler/model/conflicts.js';
import type { CompileOptions, KeyConflict, Problem, ServicePort } from '../../compiler/model/types.js';
import { describeProblem } from '../../compiler/model/problem.js';
import type { Family } from '../../ir/types.js';
import { createApplier } from '../apply/index.js';
import type { Applier } from '../apply/types.js';
import { UdpConntrackReconciler } from '../conntrack/udp.js';
import type { Listening } from '../health/http.js';
import { listen, splitHostPort } from '../health/http.js';
import { HealthCheckServers, healthCheckHosts, healthCheckServices } from '../health/nodeports.js';
import { ProxierHealth, nodeEligible } from '../health/proxier.js';
import { serviceCIDRsFrom } from '../kube/service-cidrs.js';
import { kubeConfigFrom } from '../kube/client.js';
import { ObjectStore, type KubeObjectLike } from '../kube/store.js';
import { errorText, startWatches, type Watches } from '../kube/watch.js';
import { DaemonMetrics } from '../metrics/metrics.js';
import { Quarantine, SyncEngine, type QuarantinedPort, type SyncResult } from '../sync/index.js';
import type { DaemonConfig } from './config.js';
import { SyncLoop } from './loop.js';
import { ModelCache } from './model-cache.js';

export interface DaemonDeps {
  log?: Logger;
  applier?: Applier;
  kubeConfig?: KubeConfig;
  /** Skip UDP conntrack cleanup (e.g. where conntrack-tools is missing). */
  conntrack?: boolean;
  /** Bind address of health-check node port servers. */
  healthCheckHost?: string;
}

export interface SyncSummary extends SyncResult {
  /** Time to bring the service model up to date, and to lower it to a ruleset (before the sync). */
  modelMs: number;
  lowerMs: number;
  servicePorts: number;
  endpoints: number;
  problems: number;
  /** Claims the model dropped because another service port owns the key. */
  conflicts: number;
  /** Service ports in quarantine after this sync (the kernel refused them; everything else is programmed). */
  quarantined: number;
  /** Check-only transactions spent finding them (0 unless the sync was refused). */
  probes: number;
}

export function tablesOf(name: string): { family: Family; name: string }[] {
  return [
    { family: 'ip', name },
    { family: 'ip6', name },
  ];
}

export class Daemon {
  readonly store = new ObjectStore();
  readonly metrics = new DaemonMetrics({ defaultMetrics: true });
  readonly health: ProxierHealth;
  readonly log: Logger;
  private readonly loop: SyncLoop;
  private readonly hc: HealthCheckServers;
  private readonly models: ModelCache;
  /** Lowered fragments of unchanged service ports (ModelCache keeps their objects) are reused. */
  private readonly lowerCache = createLowerCache();
  private applier?: Applier;
  private quarantine?: Quarantine;
  private watches?: Watches;
  private servers: Listening[] = [];
  private readonly conntrack: UdpConntrackReconciler;
  /** config.compile with the ServiceCIDR objects' CIDRs; recomputed when those change. */
  private compileOpts?: CompileOptions;
  private reportedProblems = new Set<string>();
  private reportedConflicts = new Map<string, KeyConflict>();
  private syncs = 0;
  private lastSync?: SyncSummary;
  private readonly syncListeners = new Set<(s: SyncSummary) => void>();

  constructor(
    readonly config: DaemonConfig,
    private readonly deps: DaemonDeps = {},
  ) {
    this.log = deps.log ?? pino({ base: { component: 'nftproxy' } });
    this.health = new ProxierHealth(2 * config.syncPeriodMs);
    this.models = new ModelCache(this.store, config.compile);
    this.hc = new HealthCheckServers(this.log, deps.healthCheckHost ?? '0.0.0.0', () => this.health.proxyHealthy());
    this.conntrack = new UdpConntrackReconciler(this.log);
    this.loop = new SyncLoop({
      minSyncPeriodMs: config.minSyncPeriodMs,
      syncPeriodMs: config.syncPeriodMs,
      run: (full) => this.syncOnce(full),
      onError: (err, retryInMs) => this.log.error({ err: errorText(err), retryInMs }, 'sync failed'),
    });
  }

  /** Ports the healthz and metrics servers listen on (useful with port 0). */
  get listeningPorts(): number[] {
    return this.servers.map((s) => s.port);
  }

  get healthCheckPorts(): number[] {
    return this.hc.ports;
  }

  get lastSyncSummary(): SyncSummary | undefined {
    return this.lastSync;
  }

  onSync(fn: (s: SyncSummary) => void): () => void {
    this.syncListeners.add(fn);
    return () => this.syncListeners.delete(fn);
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.applier = this.deps.applier ?? createApplier(cfg.applier);
    this.metrics.setApplier(this.applier.name);
    // No immediate full retry inside the engine: after a refused partial sync the quarantine
    // checks for drift (then retries full itself) or else searches the change set.
    this.quarantine = new Quarantine(new SyncEngine({ applier: this.applier, syncPeriodMs: cfg.syncPeriodMs, ownedTables: tablesOf(cfg.compile.tableName), retryFullOnFailure: false }));
    this.health.queued(); // nothing is programmed yet: unhealthy if that lasts beyond the timeout

    if (cfg.healthzBindAddress !== '') this.servers.push(await this.health.serve(cfg.healthzBindAddress));
    if (cfg.metricsBindAddress !== '') {
      const { host, port } = splitHostPort(cfg.metricsBindAddress);
      this.servers.push(
        await listen(host, port, (req, res) => {
          const path = new URL(req.url ?? '/', 'http://x').pathname;
          if (path !== '/metrics') {
            res.writeHead(404).end();
            return;
          }
          this.metrics.text().then(
            (text) => res.writeHead(200, { 'Content-Type': this.metrics.contentType }).end(text),
            (err: unknown) => res.writeHead(500).end(errorText(err)),
          );
        }),
      );
    }

    this.store.onChange((c) => {
      this.health.queued();
      if (c.kind === 'Node') this.updateNodeEligibility();
      if (c.kind === 'ServiceCIDR') this.compileOpts = undefined;
      // Before every resource is listed the store is partial: programming it would drop services.
      if (this.watches?.isSynced()) this.loop.request();
    });
    const kc = this.deps.kubeConfig ?? kubeConfigFrom({ kubeconfig: cfg.kubeconfig, master: cfg.master });
    this.log.info({ node: cfg.nodeName, server: kc.getCurrentCluster()?.server, table: cfg.compile.tableName, applier: this.applier.name, minSyncPeriodMs: cfg.minSyncPeriodMs, syncPeriodMs: cfg.syncPeriodMs }, 'starting');
    this.watches = startWatches(kc, this.store, { nodeName: cfg.nodeName, log: this.log });
    void this.watches.synced.then(() => {
      this.log.info({ services: this.store.count('Service'), endpointSlices: this.store.count('EndpointSlice'), node: this.store.count('Node') > 0 }, 'caches synced');
      // Only now, periodic syncs included: a sync of a partial store would drop services.
      this.loop.start();
      this.loop.requestFull();
    });
  }

  async stop(): Promise<void> {
    await this.watches?.stop();
    await this.loop.stop();
    await this.hc.close();
    await Promise.all(this.servers.map((s) => s.close()));
    this.servers = [];
    this.applier?.close();
    this.models.close();
    this.log.info({ syncs: this.syncs }, 'stopped; rules left in place');
  }

  private updateNodeEligibility(): void {
    const node = this.store.get('Node', '', this.config.nodeName) as (KubeObjectLike & { metadata?: { deletionTimestamp?: unknown } }) | undefined;
    this.health.setNodeEligible(nodeEligible(node));
  }

  private reportProblems(problems: Problem[]): void {
    const now = new Set(problems.map(describeProblem));
    for (const p of now) if (!this.reportedProblems.has(p)) this.log.warn({ problem: p }, 'invalid object skipped');
    this.reportedProblems = now;
  }

  /**
   * One log line when a conflict appears and one when it resolves (never one per sync), and the
   * nftproxy_conflicting_keys gauge. The model already resolved it: the kernel holds the winner.
   */
  private reportConflicts(conflicts: readonly KeyConflict[]): void {
    const now = new Map(conflicts.map((c) => [`${c.key}|${c.winner}|${c.loser}`, c]));
    for (const [id, c] of now) {
      if (!this.reportedConflicts.has(id)) this.log.warn({ key: c.key, winner: c.winner, loser: c.loser, reason: c.reason }, 'key conflict: two service ports claim one key; the winner keeps it, the loser keeps its other keys');
    }
    for (const [id, c] of this.reportedConflicts) {
      if (!now.has(id)) this.log.info({ key: c.key, winner: c.winner, loser: c.loser }, 'key conflict resolved');
    }
    this.reportedConflicts = now;
    this.metrics.setConflictingKeys(new Set(conflicts.map((c) => c.key)).size);
  }

  /** One line per port entering or leaving quarantine (never one per sync), the gauge and /healthz. */
  private reportQuarantine(newly: QuarantinedPort[], released: QuarantinedPort[], all: QuarantinedPort[]): void {
    for (const e of newly) {
      this.log.error(
        { servicePort: e.key, reason: e.reason, kept: e.kept.length > 0 ? 'the version the kernel last accepted' : 'nothing (it was never programmed)' },
        'service port quarantined: the kernel refused it; everything else is programmed; it is retried when it changes and at the next full sync',
      );
    }
    for (const e of released) this.log.info({ servicePort: e.key }, 'service port out of quarantine');
    this.metrics.setQuarantined(all.length);
    this.health.setQuarantined(all.map((e) => ({ servicePort: e.key, reason: e.reason, since: new Date(e.since).toISOString() })));
  }

  private async syncOnce(full: boolean): Promise<void> {
    const quarantine = this.quarantine;
    if (!quarantine) throw new Error('daemon not started');
    const pending = this.store.takePending();
    let summary: SyncSummary;
    let model;
    try {
      const t0 = performance.now();
      model = this.models.build();
      const t1 = performance.now();
      this.reportProblems(model.problems);
      this.reportConflicts(model.conflicts);
      this.compileOpts ??= { ...this.config.compile, serviceCIDRs: serviceCIDRsFrom(this.store.list('ServiceCIDR'), this.config.compile.serviceCIDRs) };
      const opts = this.compileOpts;
      const m = model;
      let lowerMs = 0;
      // The quarantine compiles the model with quarantined ports at their kept version (and
      // subsets of the changes while it searches for a culprit); the first compile is the sync's.
      const compilePorts = (servicePorts: ServicePort[]) => {
        const t = performance.now();
        // A list other than the model's mixes kept versions or subsets of changes: claims in it
        // were not resolved against each other, so resolve them (rare path; a full pass).
        const ports = servicePorts === m.servicePorts ? servicePorts : resolveConflicts(servicePorts).servicePorts;
        const rs = compile({ ...m, servicePorts: ports }, opts, this.lowerCache);
        if (lowerMs === 0) lowerMs = performance.now() - t;
        return rs;
      };
      const r = await quarantine.sync(model.servicePorts, compilePorts, { full });
      this.reportQuarantine(r.newlyQuarantined, r.released, r.quarantined);
      const { quarantined, newlyQuarantined: _n, released: _r, ...rest } = r;
      summary = {
        ...rest,
        modelMs: t1 - t0,
        lowerMs,
        servicePorts: model.servicePorts.length,
        endpoints: model.servicePorts.reduce((n, sp) => n + sp.endpoints.length, 0),
        problems: model.problems.length,
        conflicts: model.conflicts.length,
        quarantined: quarantined.length,
      };
    } catch (err) {
      this.store.restorePending(pending.arrivals);
      this.metrics.syncFailed();
      throw err;
    }
    const doneAt = Date.now();
    this.syncs++;
    this.metrics.observeSync(summary, doneAt);
    this.metrics.observeProgramming(pending.arrivals, doneAt);
    this.metrics.setObjects({
      Service: this.store.count('Service'),
      EndpointSlice: this.store.count('EndpointSlice'),
      ServicePort: summary.servicePorts,
      Endpoint: summary.endpoints,
    });
    this.health.updated();
    const stillPending = this.store.oldestPending();
    if (stillPending !== undefined) this.health.queued(stillPending);
    this.lastSync = summary;
    this.log.info(
      { kind: summary.kind, reason: summary.reason, durationMs: Math.round(summary.durationMs * 10) / 10, modelMs: Math.round(summary.modelMs * 10) / 10, lowerMs: Math.round(summary.lowerMs * 10) / 10, commands: summary.commands, services: this.store.count('Service'), servicePorts: summary.servicePorts, endpoints: summary.endpoints, problems: summary.problems, conflicts: summary.conflicts, quarantined: summary.quarantined, ...(summary.probes > 0 ? { probes: summary.probes } : {}) },
      'sync',
    );
    if (this.deps.healthCheckHost === undefined) await this.hc.setHosts(healthCheckHosts(this.config.compile, model.node.addresses));
    await this.hc.update(healthCheckServices(model.servicePorts));
    if (this.deps.conntrack ?? true) await this.conntrack.afterSync(model.servicePorts);
    for (const l of this.syncListeners) l(summary);
  }
}
