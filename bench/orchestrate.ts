// One benchmark run at one cluster size: pure measurements in this process (compile, diff,
// accounting), kernel measurements in a worker per system inside private namespaces it creates
// and always removes. This process itself never runs a network command.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { countIptables, countNft, iptablesRulesPerConnection, nftRulesPerConnection, type ObjectCounts, type PerConnectionSummary } from './accounting.js';
import { compileIptables, compileIptablesPartial } from '../compiler/iptables/restore.js';
import { compileKubeProxyNft } from '../compiler/kubeproxy-nft/compile.js';
import { compile, createLowerCache } from '../compiler/lower.js';
import { buildModel } from '../compiler/model/build.js';
import type { ServicePort } from '../compiler/model/types.js';
import { rulesetToJson, transactionToJson } from '../compiler/nft/json.js';
import { diffRulesets } from '../ir/diff.js';
import { spawnIn } from '../netns/index.js';
import { IptablesPartials, kubeProxyNftDelta, LARGE_CLUSTER_ENDPOINTS, totalEndpoints, verifyBaselineUpdates } from './baseline-updates.js';
import { microBench, timeOnce, type MicroResult } from './micro.js';
import type { KernelJob, KernelResult, ProbePosition, SystemName, WorkerMessage } from './protocol.js';
import { charts, NOT_RUN, reportMarkdown, type MachineInfo } from './report.js';
import { ClusterState, planChanges, probeServices, serviceCount, totalEndpointCount, type Change, type ScenarioSpec } from './scenario.js';
import { benchResultsSchema, type BenchResults, type SystemResult } from './schema.js';
import { median, percentile, round } from './stats.js';
import { createBenchTopology } from './topology.js';

export interface BenchOptions {
  services: number;
  endpoints: number;
  updates: number;
  out: string;
  seed: number;
  loadReps: number;
  loadBudgetS: number;
  loadTimeoutS: number;
  iptablesNftTimeoutS: number;
  updateBudgetS: number;
  listTimeoutS: number;
  connects: number;
  connectWarmup: number;
  compileSamples: number;
  benchMaxTimeS: number;
  rpcSample: number;
  /** Skip the iptables-nft extra column. */
  iptablesNft: boolean;
  /** Endpoint counts: uniform (`endpoints` each) or realistic (seeded, heavy-tailed). */
  distribution?: 'uniform' | 'realistic';
  /** One more service with this many endpoints; the updates are changes inside it. */
  bigService?: number;
  /** The systems measured (default all); the others are reported as not run. */
  systems?: SystemName[];
}

export const ALL_SYSTEMS: SystemName[] = ['nftproxy', 'kube-proxy-iptables', 'kube-proxy-nftables', 'kube-proxy-iptables-nft'];

/** The result of a system that was not selected with --systems. */
function notRun(): SystemResult {
  return {
    objects: { tables: 0, chains: 0, rules: 0, sets: 0, maps: 0, elements: 0, source: 'artefact' },
    rulesPerNewConnection: { worst: 0, median: 0, sampledServices: 0, notDnated: 0 },
    compileMs: { full: 0, diffP50: 0, fullSamples: 0, fullMethod: 'direct', diffSamples: 0, diffMethod: 'direct' },
    fullLoadMs: null,
    fullLoadSamplesMs: [],
    updateMs: { p50: null, p99: null, n: 0 },
    updatesPlanned: 0,
    connectUs: { first: null, middle: null, last: null, samplesPerTarget: 0 },
    rssMb: null,
    notes: [NOT_RUN],
  };
}

export interface Ui {
  step(text: string, fraction?: number): void;
}

interface StaticMeasure {
  objects: ObjectCounts;
  rpc: PerConnectionSummary;
  full: MicroResult;
  diff: MicroResult;
  encodeMs?: number;
}

const PROBE_PORT = 80;

export function machineInfo(): MachineInfo {
  return { cpu: cpus()[0]?.model.trim() ?? 'unknown CPU', cores: cpus().length, memGb: Math.round(totalmem() / 2 ** 30) };
}

function version(argv: string[]): string {
  try {
    return execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' }).trim().split('\n')[0] ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

export function versions(): { kernel: string; nft: string; iptables: string } {
  return {
    kernel: version(['uname', '-r']),
    nft: version(['nft', '--version']),
    iptables: `${version(['iptables-legacy', '--version'])}; ${version(['iptables-nft', '--version'])}`,
  };
}

/** Evenly spaced service ports, always including the first and the last. */
function sample(sps: ServicePort[], n: number): ServicePort[] {
  if (sps.length <= n) return sps;
  const idx = new Set<number>([0, sps.length - 1]);
  for (let i = 1; i < n - 1; i++) idx.add(Math.round((i * (sps.length - 1)) / (n - 1)));
  return [...idx].sort((a, b) => a - b).map((i) => sps[i] as ServicePort);
}

async function runWorker(job: KernelJob, jobFile: string, ns: string, label: string, ui: Ui): Promise<KernelResult> {
  writeFileSync(jobFile, JSON.stringify(job));
  const worker = new URL('./kernel-worker.ts', import.meta.url).pathname;
  const child = spawnIn(ns, [process.execPath, '--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', worker, jobFile, ns]);
  let result: KernelResult | undefined;
  let stderr = '';
  let buf = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let msg: WorkerMessage;
      try {
        msg = JSON.parse(line) as WorkerMessage;
      } catch {
        continue;
      }
      if (msg.type === 'result') result = msg.result;
      else ui.step(`${label}: ${msg.text}${msg.done !== undefined ? ` ${msg.done}/${msg.total ?? '?'}` : ''}`, msg.done !== undefined && msg.total ? msg.done / msg.total : undefined);
    }
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0 || !result) throw new Error(`${label}: kernel worker failed (exit ${code}):\n${stderr.trim().slice(-4000)}`);
  return result;
}

function summariseSystem(st: StaticMeasure, k: KernelResult | undefined, extraNotes: string[]): SystemResult {
  const notes = [...extraNotes, ...(k?.notes ?? [])];
  const objects = k?.objects ? { ...k.objects } : { ...st.objects, source: 'artefact' as const };
  const pct = (xs: number[] | undefined): { p50: number | null; p99: number | null; n: number } =>
    xs && xs.length > 0 ? { p50: round(percentile(xs, 50)), p99: round(percentile(xs, 99)), n: xs.length } : { p50: null, p99: null, n: 0 };
  const conn = (p: ProbePosition): number | null => {
    const xs = k?.connect?.us[p];
    return xs && xs.length > 0 ? round(median(xs), 1) : null;
  };
  const out: SystemResult = {
    objects,
    rulesPerNewConnection: { worst: st.rpc.worst, median: st.rpc.median, sampledServices: st.rpc.perService.length, notDnated: st.rpc.notDnated },
    compileMs: { full: round(st.full.p50), diffP50: round(st.diff.p50), fullSamples: st.full.samples, fullMethod: st.full.method, diffSamples: st.diff.samples, diffMethod: st.diff.method, ...(st.encodeMs !== undefined ? { encodeMs: round(st.encodeMs) } : {}) },
    fullLoadMs: k && k.fullLoadMs.length > 0 ? round(median(k.fullLoadMs)) : null,
    fullLoadSamplesMs: (k?.fullLoadMs ?? []).map((x) => round(x)),
    updateMs: pct(k?.updateMs),
    updatesPlanned: k?.updatesPlanned ?? 0,
    connectUs: { first: conn('first'), middle: conn('middle'), last: conn('last'), samplesPerTarget: k?.connect?.us.first.length ?? 0 },
    rssMb: k?.rss ? round(k.rss.rssMb, 1) : null,
    notes,
  };
  if (k?.fullLoadTimedOutMs !== undefined) out.fullLoadTimedOutMs = round(k.fullLoadTimedOutMs);
  if (k?.updateMsLib) {
    out.updateMsByApplier = { cli: pct(k.updateMs), lib: pct(k.updateMsLib) };
    out.recompileMs = pct(k.recompileMs);
    if (k.fullSyncMs !== undefined) out.fullSyncMs = k.fullSyncMs;
    out.encodeFullMs = k.encodeFullMs !== undefined ? round(k.encodeFullMs) : null;
    out.heapUsedMb = k.rss ? round(k.rss.heapUsedMb, 1) : null;
  }
  return out;
}

export async function runBench(o: BenchOptions, ui: Ui): Promise<BenchResults> {
  const spec: ScenarioSpec = {
    services: o.services,
    endpointsPerService: o.endpoints,
    ...(o.distribution === 'realistic' ? { distribution: 'realistic' as const, seed: o.seed } : {}),
    ...(o.bigService ? { bigService: o.bigService } : {}),
  };
  if (o.services < 3) throw new Error('--services must be at least 3 (first, middle and last are probed)');
  const want = new Set<SystemName>(o.systems ?? ALL_SYSTEMS);
  const date = new Date().toISOString();
  const vers = versions();
  const work = mkdtempSync(join(tmpdir(), 'nftproxy-bench-'));
  try {
    ui.step('checking the baselines\' update shortcuts against whole-cluster renders');
    // Same side of kube-proxy's large-cluster threshold as the real cluster, so the same mode is checked.
    const vspec = { services: Math.max(4, Math.min(o.services, Math.max(120, Math.floor(LARGE_CLUSTER_ENDPOINTS / o.endpoints) + 1))), endpointsPerService: o.endpoints };
    const vp = probeServices(vspec.services);
    if (want.has('kube-proxy-iptables') || want.has('kube-proxy-nftables')) verifyBaselineUpdates(vspec, planChanges(vspec, 4, o.seed, vspec.services * o.endpoints, new Set([vp.first, vp.middle, vp.last])), new ClusterState(vspec).opts);

    ui.step('generating the cluster');
    const state = new ClusterState(spec);
    const opts = state.opts;
    const probe = probeServices(serviceCount(spec));
    const exclude = new Set([probe.first, probe.middle, probe.last]);
    const fresh = totalEndpointCount(spec) + 1;
    const changesCli = planChanges(spec, o.updates, o.seed, fresh, exclude);
    const changesLib = planChanges(spec, o.updates, o.seed + 1, fresh + o.updates, exclude);
    const sps = state.model.servicePorts;
    // Evenly spaced service ports, plus the five with the most endpoints (the heavy tail).
    const biggest = [...sps].sort((a, b) => b.endpoints.length - a.endpoints.length).slice(0, 5);
    const rpcSps = [...new Set([...sample(sps, o.rpcSample), ...biggest])];
    const micro = { samples: o.compileSamples, maxTimeS: o.benchMaxTimeS };
    const one = state.clone();
    one.apply(changesCli[0] ?? { service: 1, slot: 0, ip: '10.255.255.254' });
    const spsAfter = one.model.servicePorts;

    ui.step('nftproxy: compile, diff, accounting', 0);
    // The diff as the daemon sees it: both rulesets from one LowerCache (shared element objects).
    const cache = createLowerCache();
    const rs = compile(state.model, opts, cache);
    const rsAfter = compile(one.model, opts, cache);
    const nftproxy: StaticMeasure | undefined = !want.has('nftproxy') ? undefined : {
      objects: countNft(rs),
      rpc: nftRulesPerConnection(rs, rpcSps, opts.clusterCIDRs),
      full: microBench('nftproxy full compile', () => compile(buildModel(state.objects, opts), opts), micro),
      diff: microBench('nftproxy one-change diff', () => diffRulesets(rs, rsAfter), micro),
      encodeMs: timeOnce(() => JSON.stringify(rulesetToJson(rs))).ms,
    };

    const wantIpt = want.has('kube-proxy-iptables') || want.has('kube-proxy-iptables-nft');
    ui.step('kube-proxy-iptables: compile, partial, accounting', 0);
    const iptText = wantIpt ? timeOnce(() => compileIptables(sps, opts)).value : '';
    const iptables: StaticMeasure | undefined = !wantIpt ? undefined : {
      objects: countIptables(iptText),
      rpc: iptablesRulesPerConnection(iptText, rpcSps, opts.clusterCIDRs),
      full: microBench('iptables full compile', () => compileIptables(buildModel(state.objects, opts).servicePorts, opts), micro),
      diff: microBench('iptables one-change partial restore', () => compileIptablesPartial(sps, spsAfter, opts), micro),
    };
    const iptFile = join(work, 'iptables-full.txt');
    writeFileSync(iptFile, iptText);

    const kpOpts = { ...opts, families: [4 as const] };
    const kpFile = join(work, 'kube-proxy-nft-full.json');
    let kubeProxyNft: StaticMeasure | undefined;
    if (want.has('kube-proxy-nftables')) {
      ui.step('kube-proxy-nftables: compile, diff, accounting', 0);
      const kpRs = compileKubeProxyNft(sps, kpOpts);
      const kpRsAfter = compileKubeProxyNft(spsAfter, kpOpts);
      const kpEncoded = timeOnce(() => JSON.stringify(rulesetToJson(kpRs)));
      writeFileSync(kpFile, kpEncoded.value);
      kubeProxyNft = {
        objects: countNft(kpRs),
        rpc: nftRulesPerConnection(kpRs, sample(sps, Math.min(o.rpcSample, 25)), opts.clusterCIDRs),
        full: microBench('kube-proxy-nft full compile', () => compileKubeProxyNft(buildModel(state.objects, opts).servicePorts, kpOpts), micro),
        diff: microBench('kube-proxy-nft one-change diff', () => diffRulesets(kpRs, kpRsAfter), micro),
        encodeMs: kpEncoded.ms,
      };
    }

    ui.step('baseline update artefacts');
    const partials = wantIpt ? new IptablesPartials(iptText, opts, totalEndpoints(sps)) : undefined;
    const baseState = state.clone();
    const iptUpdates: string[] = [];
    const kpUpdates: string[] = [];
    for (const [u, change] of changesCli.entries()) {
      const { before, after } = baseState.apply(change);
      if (partials) {
        const f1 = join(work, `ipt-update-${u}.txt`);
        writeFileSync(f1, partials.partial(before, after));
        iptUpdates.push(f1);
      }
      if (kubeProxyNft) {
        const f2 = join(work, `kp-update-${u}.json`);
        writeFileSync(f2, JSON.stringify(transactionToJson(kubeProxyNftDelta(before, after, opts))));
        kpUpdates.push(f2);
      }
    }

    const targets = (['first', 'middle', 'last'] as const).map((position) => {
      const sp = state.servicePortsOf(probe[position])[0];
      if (!sp?.clusterIP) throw new Error(`probe service ${position} has no clusterIP`);
      return { position, host: sp.clusterIP, port: sp.port, endpoints: sp.endpoints.map((e) => e.ip) };
    });
    const endpointIps = targets.flatMap((t) => t.endpoints);
    if (new Set(targets.map((t) => t.port)).size !== 1 || targets[0]?.port !== PROBE_PORT) throw new Error('probe services must share port 80');
    const targetPort = state.servicePortsOf(0)[0]?.endpoints[0]?.port ?? 8080;

    const base = (system: SystemName): KernelJob => ({
      system,
      workDir: work,
      originNetns: statSync('/proc/self/ns/net').ino,
      loadReps: o.loadReps,
      loadBudgetMs: o.loadBudgetS * 1000,
      loadTimeoutMs: o.loadTimeoutS * 1000,
      updateBudgetMs: o.updateBudgetS * 1000,
      listTimeoutMs: o.listTimeoutS * 1000,
    });
    const jobs: KernelJob[] = [
      { ...base('nftproxy'), nftproxy: { spec, changesCli, changesLib } },
      { ...base('kube-proxy-iptables'), fullLoadFile: iptFile, updateFiles: iptUpdates },
      { ...base('kube-proxy-nftables'), fullLoadFile: kpFile, updateFiles: kpUpdates },
    ];
    if (o.iptablesNft && want.has('kube-proxy-iptables-nft')) {
      jobs.push({ ...base('kube-proxy-iptables-nft'), fullLoadFile: iptFile, updateFiles: iptUpdates, loadTimeoutMs: o.iptablesNftTimeoutS * 1000, loadReps: 1 });
    }
    const kernel = new Map<SystemName, KernelResult>();
    for (const job of jobs.filter((j) => want.has(j.system))) {
      ui.step(`${job.system}: namespaces`, 0);
      const topo = await createBenchTopology(job.system === 'nftproxy' ? 'nfp' : job.system.replace('kube-proxy-', 'kp-'), endpointIps, targetPort);
      try {
        job.connect = { clientNs: topo.client, targets: targets.map(({ position, host, port }) => ({ position, host, port })), count: o.connects, warmup: o.connectWarmup };
        kernel.set(job.system, await runWorker(job, join(work, `${job.system}.job.json`), topo.node, job.system, ui));
      } finally {
        await topo.destroy();
      }
    }

    const iptNft = kernel.get('kube-proxy-iptables-nft');
    const results: BenchResults = {
      scenario: {
        services: o.services,
        endpointsPerService: o.endpoints,
        distribution: o.distribution ?? 'uniform',
        ...(o.bigService ? { bigService: o.bigService } : {}),
        totalServices: serviceCount(spec),
        totalEndpoints: totalEndpointCount(spec),
        updates: o.updates,
        date,
        ...vers,
        seed: o.seed,
        machine: machineInfo(),
      },
      systems: {
        nftproxy: nftproxy ? summariseSystem(nftproxy, kernel.get('nftproxy'), []) : notRun(),
        'kube-proxy-iptables': iptables && want.has('kube-proxy-iptables') ? summariseSystem(iptables, kernel.get('kube-proxy-iptables'), ['iptables-legacy']) : notRun(),
        'kube-proxy-nftables': kubeProxyNft ? summariseSystem(kubeProxyNft, kernel.get('kube-proxy-nftables'), []) : notRun(),
        ...(iptNft && iptables ? { 'kube-proxy-iptables-nft': summariseSystem(iptables, iptNft, ['iptables-nft backend; compile numbers are the same artefact as kube-proxy-iptables']) } : {}),
      },
    };
    const valid = benchResultsSchema.parse(results);
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'results.json'), JSON.stringify(valid, null, 2) + '\n');
    writeFileSync(join(o.out, 'report.md'), reportMarkdown(valid, machineInfo()));
    for (const [name, svg] of Object.entries(charts(valid))) writeFileSync(join(o.out, name), svg);
    return valid;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export type { Change };
