// The proxier daemon: watches → store → (coalesced) compile → SyncEngine → kernel, with the
// health, metrics and health-check node port servers and UDP conntrack cleanup around it.
// Stopping leaves the rules in place (like kube-proxy): a restarting daemon takes the table over
// with one atomic full sync, so traffic is never unproxied.

import type { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { compile } from '../../compiler/index.js';
import { createLowerCache } from '../../compiler/lower.js';
import type { CompileOptions, Problem } from '../../compiler/model/types.js';
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
import { SyncEngine, type SyncResult } from '../sync/index.js';
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
  private engine?: SyncEngine;
  private watches?: Watches;
  private servers: Listening[] = [];
  private readonly conntrack: UdpConntrackReconciler;
  /** config.compile with the ServiceCIDR objects' CIDRs; recomputed when those change. */
  private compileOpts?: CompileOptions;
  private reportedProblems = new Set<string>();
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
    this.engine = new SyncEngine({ applier: this.applier, syncPeriodMs: cfg.syncPeriodMs, ownedTables: tablesOf(cfg.compile.tableName) });
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

  private async syncOnce(full: boolean): Promise<void> {
    const engine = this.engine;
    if (!engine) throw new Error('daemon not started');
    const pending = this.store.takePending();
    let summary: SyncSummary;
    let model;
    try {
      const t0 = performance.now();
      model = this.models.build();
      const t1 = performance.now();
      this.reportProblems(model.problems);
      this.compileOpts ??= { ...this.config.compile, serviceCIDRs: serviceCIDRsFrom(this.store.list('ServiceCIDR'), this.config.compile.serviceCIDRs) };
      const ruleset = compile(model, this.compileOpts, this.lowerCache);
      const t2 = performance.now();
      const r = await engine.sync(ruleset, { full });
      summary = {
        ...r,
        modelMs: t1 - t0,
        lowerMs: t2 - t1,
        servicePorts: model.servicePorts.length,
        endpoints: model.servicePorts.reduce((n, sp) => n + sp.endpoints.length, 0),
        problems: model.problems.length,
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
      { kind: summary.kind, reason: summary.reason, durationMs: Math.round(summary.durationMs * 10) / 10, modelMs: Math.round(summary.modelMs * 10) / 10, lowerMs: Math.round(summary.lowerMs * 10) / 10, commands: summary.commands, services: this.store.count('Service'), servicePorts: summary.servicePorts, endpoints: summary.endpoints, problems: summary.problems },
      'sync',
    );
    if (this.deps.healthCheckHost === undefined) await this.hc.setHosts(healthCheckHosts(this.config.compile, model.node.addresses));
    await this.hc.update(healthCheckServices(model.servicePorts));
    if (this.deps.conntrack ?? true) await this.conntrack.afterSync(model.servicePorts);
    for (const l of this.syncListeners) l(summary);
  }
}
