// The kernel worker: runs entirely inside one private network namespace (started by the
// orchestrator with `ip netns exec <ns> node --import tsx bench/kernel-worker.ts JOB.json`), so
// that `nft`, `iptables-*-restore` and libnftables (in-process) all program that namespace.
// It refuses to start anywhere else. Messages go to stdout, one JSON line each (protocol.ts).

import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countIptables } from './accounting.js';
import { compile, createLowerCache } from '../compiler/lower.js';
import { rulesetToJson } from '../compiler/nft/json.js';
import { createApplier } from '../runtime/apply/index.js';
import { SyncEngine } from '../runtime/sync/index.js';
import type { ConnectJob, ConnectSamples, KernelJob, KernelObjects, KernelResult, SystemName, WorkerMessage } from './protocol.js';
import { mustRun, timedRun } from './run.js';
import { ClusterState } from './scenario.js';

const send = (m: WorkerMessage): void => void process.stdout.write(JSON.stringify(m) + '\n');
const progress = (text: string, done?: number, total?: number): void => send({ type: 'progress', text, ...(done !== undefined ? { done, total } : {}) });

/** `origin`: the network namespace inode of the orchestrator, which must not be this one. */
function assertInNamespace(ns: string, origin: number): void {
  const here = statSync('/proc/self/ns/net').ino;
  const want = statSync(`/run/netns/${ns}`).ino;
  const host = origin;
  if (here !== want || here === host) throw new Error(`kernel worker must run inside network namespace ${ns}; refusing to touch this one`);
}

type Backend = 'nft' | 'legacy' | 'iptables-nft';
const backendOf = (s: SystemName): Backend => (s === 'kube-proxy-iptables' ? 'legacy' : s === 'kube-proxy-iptables-nft' ? 'iptables-nft' : 'nft');

function loadArgv(b: Backend, file: string): string[] {
  if (b === 'nft') return ['nft', '-j', '-f', file];
  return [b === 'legacy' ? 'iptables-legacy-restore' : 'iptables-nft-restore', '--noflush', file];
}

/** Empties the namespace's ruleset between full-load repetitions (never timed). */
async function flush(b: Backend, timeoutMs: number): Promise<void> {
  if (b === 'legacy') {
    const script = ['nat', 'filter', 'mangle'].map((t) => `iptables-legacy -t ${t} -F && iptables-legacy -t ${t} -X`).join(' && ');
    await mustRun(['sh', '-c', script], { timeoutMs });
  } else {
    await mustRun(['nft', 'flush', 'ruleset'], { timeoutMs });
  }
}

function countNftListing(text: string): KernelObjects {
  const root = JSON.parse(text) as { nftables: Record<string, { elem?: unknown[] } | undefined>[] };
  const c: KernelObjects = { tables: 0, chains: 0, rules: 0, sets: 0, maps: 0, elements: 0, source: 'kernel' };
  for (const item of root.nftables) {
    if (item.table) c.tables++;
    else if (item.chain) c.chains++;
    else if (item.rule) c.rules++;
    else if (item.set) {
      c.sets++;
      c.elements += item.set.elem?.length ?? 0;
    } else if (item.map) {
      c.maps++;
      c.elements += item.map.elem?.length ?? 0;
    }
  }
  return c;
}

async function listObjects(b: Backend, timeoutMs: number): Promise<{ objects: KernelObjects; ms: number } | { timedOutMs: number }> {
  const argv = b === 'nft' ? ['nft', '-j', 'list', 'ruleset'] : [b === 'legacy' ? 'iptables-legacy-save' : 'iptables-nft-save'];
  const r = await timedRun(argv, { timeoutMs });
  if (r.timedOut) return { timedOutMs: r.ms };
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr.trim()}`);
  const objects = b === 'nft' ? countNftListing(r.stdout) : { ...countIptables(r.stdout), source: 'kernel' as const };
  return { objects, ms: r.ms };
}

async function connectProbe(job: ConnectJob, timeoutMs: number): Promise<ConnectSamples> {
  const script = new URL('./connect-probe.ts', import.meta.url).pathname;
  const arg = JSON.stringify({ targets: job.targets, count: job.count, warmup: job.warmup });
  const r = await mustRun(['ip', 'netns', 'exec', job.clientNs, process.execPath, '--import', 'tsx', script, arg], { timeoutMs });
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as ConnectSamples;
}

async function fullLoads(job: KernelJob, b: Backend, file: string, res: KernelResult): Promise<boolean> {
  let spent = 0;
  for (let rep = 0; rep < job.loadReps; rep++) {
    if (rep > 0 && spent >= job.loadBudgetMs) {
      res.notes.push(`full load repeated ${rep}× (budget ${Math.round(job.loadBudgetMs / 1000)} s)`);
      break;
    }
    await flush(b, job.loadTimeoutMs);
    progress(`full load ${rep + 1}/${job.loadReps}`);
    const r = await timedRun(loadArgv(b, file), { timeoutMs: job.loadTimeoutMs });
    if (r.timedOut) {
      res.fullLoadTimedOutMs = r.ms;
      res.notes.push(`full load did not finish in ${Math.round(job.loadTimeoutMs / 1000)} s (killed)`);
      return false;
    }
    if (r.code !== 0) throw new Error(`${job.system}: full load failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
    res.fullLoadMs.push(r.ms);
    spent += r.ms;
  }
  return true;
}

async function afterLoad(job: KernelJob, b: Backend, res: KernelResult): Promise<void> {
  if (job.connect) {
    progress('connect latency');
    res.connect = await connectProbe(job.connect, 600_000);
  }
  progress('listing the kernel ruleset');
  const listed = await listObjects(b, job.listTimeoutMs);
  if ('objects' in listed) {
    res.objects = listed.objects;
    res.listMs = listed.ms;
  } else res.notes.push(`listing the ruleset did not finish in ${Math.round(job.listTimeoutMs / 1000)} s: objects counted from the artefact`);
}

async function baseline(job: KernelJob, res: KernelResult): Promise<void> {
  const b = backendOf(job.system);
  if (!job.fullLoadFile || !job.updateFiles) throw new Error(`${job.system}: job without artefacts`);
  if (!(await fullLoads(job, b, job.fullLoadFile, res))) return;
  await afterLoad(job, b, res);
  const started = performance.now();
  for (const [u, file] of job.updateFiles.entries()) {
    if (performance.now() - started > job.updateBudgetMs) {
      res.notes.push(`updates stopped after ${u} of ${job.updateFiles.length}: budget of ${Math.round(job.updateBudgetMs / 1000)} s spent`);
      break;
    }
    progress('updates', u, job.updateFiles.length);
    let r;
    if (b === 'nft') r = await timedRun(['nft', '-j', '-f', file], { timeoutMs: job.loadTimeoutMs });
    // kube-proxy pipes its restore input on stdin.
    else r = await timedRun([b === 'legacy' ? 'iptables-legacy-restore' : 'iptables-nft-restore', '--noflush'], { input: readFileSync(file, 'utf8'), timeoutMs: job.loadTimeoutMs });
    if (r.timedOut) {
      res.notes.push(`update ${u} did not finish in ${Math.round(job.loadTimeoutMs / 1000)} s`);
      break;
    }
    if (r.code !== 0) throw new Error(`${job.system}: update ${u} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
    res.updateMs.push(r.ms);
  }
}

async function nftproxy(job: KernelJob, res: KernelResult): Promise<void> {
  const spec = job.nftproxy;
  if (!spec) throw new Error('nftproxy job without scenario');
  progress('building the cluster');
  const state = new ClusterState(spec.spec);
  // As the daemon does: one LowerCache for the process, so unchanged service ports keep their
  // fragments (and element objects) from one compile to the next.
  const lowerCache = createLowerCache();
  let ruleset = compile(state.model, state.opts, lowerCache);
  let t0 = performance.now();
  const file = join(job.workDir, 'nftproxy-full.json');
  // Not kept: the RSS measured below is what the daemon holds, not this 15 MB string.
  writeFileSync(file, JSON.stringify(rulesetToJson(ruleset)));
  res.encodeFullMs = performance.now() - t0;
  if (!(await fullLoads(job, 'nft', file, res))) return;
  await flush('nft', job.loadTimeoutMs);

  // From here on, as the daemon does it: a SyncEngine holding the mirror.
  progress('full sync (cli applier)');
  const cli = createApplier('cli');
  let engine = new SyncEngine({ applier: cli });
  t0 = performance.now();
  await engine.sync(ruleset);
  res.fullSyncMs = { cli: performance.now() - t0 };
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const mem = process.memoryUsage();
  res.rss = { rssMb: mem.rss / 2 ** 20, heapUsedMb: mem.heapUsed / 2 ** 20 };
  if (!gc) res.notes.push('rss measured without --expose-gc');
  await afterLoad(job, 'nft', res);

  const updates = async (changes: typeof spec.changesCli, out: number[], label: string): Promise<void> => {
    const started = performance.now();
    for (const [u, change] of changes.entries()) {
      if (performance.now() - started > job.updateBudgetMs) {
        res.notes.push(`${label} updates stopped after ${u} of ${changes.length}: budget spent`);
        break;
      }
      progress(`updates (${label})`, u, changes.length);
      state.apply(change);
      // End to end as the daemon does it: recompile (incremental) + diff + one transaction.
      const c0 = performance.now();
      ruleset = compile(state.model, state.opts, lowerCache);
      (res.recompileMs ??= []).push(performance.now() - c0);
      const r = await engine.sync(ruleset);
      out.push(performance.now() - c0);
      if (r.kind !== 'partial') throw new Error(`nftproxy ${label} update ${u} was a ${r.kind} sync (${r.reason ?? r.recoveredFrom ?? ''}), expected partial`);
    }
  };
  await updates(spec.changesCli, res.updateMs, 'cli');
  cli.close();

  progress('full sync (lib applier)');
  const lib = createApplier('lib');
  engine = new SyncEngine({ applier: lib });
  t0 = performance.now();
  await engine.sync(ruleset);
  res.fullSyncMs.lib = performance.now() - t0;
  res.updateMsLib = [];
  await updates(spec.changesLib, res.updateMsLib, 'lib');
  lib.close();
}

async function main(): Promise<void> {
  const [jobFile, ns] = process.argv.slice(2);
  if (!jobFile || !ns) throw new Error('usage: kernel-worker.ts JOB.json NAMESPACE');
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as KernelJob;
  assertInNamespace(ns, job.originNetns);
  const res: KernelResult = { system: job.system, fullLoadMs: [], updatesPlanned: 0, updateMs: [], notes: [] };
  if (job.system === 'nftproxy') {
    res.updatesPlanned = job.nftproxy?.changesCli.length ?? 0;
    await nftproxy(job, res);
  } else {
    res.updatesPlanned = job.updateFiles?.length ?? 0;
    await baseline(job, res);
  }
  send({ type: 'result', result: res });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
