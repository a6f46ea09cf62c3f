// What the orchestrator (bench/main.ts, host side, never touching the network) hands to a kernel
// worker (bench/kernel-worker.ts, started with `ip netns exec <node ns>`) and what comes back.

import type { ObjectCounts } from './accounting.js';
import type { Change, ScenarioSpec } from './scenario.js';

export const SYSTEMS = ['nftproxy', 'kube-proxy-iptables', 'kube-proxy-iptables-nft', 'kube-proxy-nftables'] as const;
export type SystemName = (typeof SYSTEMS)[number];

export type ProbePosition = 'first' | 'middle' | 'last';

export interface ConnectJob {
  clientNs: string;
  targets: { position: ProbePosition; host: string; port: number }[];
  /** Measured connects per target (interleaved across targets). */
  count: number;
  warmup: number;
}

export interface KernelJob {
  system: SystemName;
  workDir: string;
  /** Inode of the orchestrator's network namespace: the worker refuses to run in it. */
  originNetns: number;
  /** Baselines: the full artefact (nft JSON or iptables-restore text) and one file per change. */
  fullLoadFile?: string;
  updateFiles?: string[];
  /** nftproxy: rebuilt in the worker (it must hold the cluster to diff), plus its two change lists. */
  nftproxy?: { spec: ScenarioSpec; changesCli: Change[]; changesLib: Change[] };
  loadReps: number;
  /** No further full-load repetitions once this much load time was spent (at least one runs). */
  loadBudgetMs: number;
  loadTimeoutMs: number;
  updateBudgetMs: number;
  listTimeoutMs: number;
  connect?: ConnectJob;
}

export type KernelObjects = ObjectCounts & { source: 'kernel' | 'artefact' };

export interface ConnectSamples {
  /** Microseconds from connect() to the established socket, per target. */
  us: Record<ProbePosition, number[]>;
}

export interface KernelResult {
  system: SystemName;
  fullLoadMs: number[];
  /** Set when a full load was killed: how long it had run. Later phases are then skipped. */
  fullLoadTimedOutMs?: number;
  objects?: KernelObjects;
  listMs?: number;
  connect?: ConnectSamples;
  updatesPlanned: number;
  updateMs: number[];
  /** nftproxy only. */
  updateMsLib?: number[];
  recompileMs?: number[];
  encodeFullMs?: number;
  fullSyncMs?: { cli: number; lib?: number };
  rss?: { rssMb: number; heapUsedMb: number };
  notes: string[];
}

export type WorkerMessage = { type: 'progress'; text: string; done?: number; total?: number } | { type: 'result'; result: KernelResult };
