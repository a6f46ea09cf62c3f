// `npm run bench`: the 10k-services benchmark, nftproxy against kube-proxy's iptables and
// nftables layouts, in private network namespaces. See bench/orchestrate.ts for what is measured.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { cleanupAll } from '../netns/index.js';
import { ALL_SYSTEMS, runBench, type BenchOptions, type Ui } from './orchestrate.js';
import type { SystemName } from './protocol.js';
import { sweepChart, sweepMarkdown } from './report.js';
import type { BenchResults } from './schema.js';

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};
const sizes = (v: string): number[] => v.split(',').map((s) => int('--sizes')(s.trim()));
const systemsList = (v: string): SystemName[] =>
  v.split(',').map((s) => {
    const name = s.trim() as SystemName;
    if (!ALL_SYSTEMS.includes(name)) throw new InvalidArgumentError(`unknown system ${s}; expected some of ${ALL_SYSTEMS.join(', ')}`);
    return name;
  });

function makeUi(): Ui & { stop(): void } {
  if (!process.stderr.isTTY) {
    let last = '';
    return {
      step(text) {
        const head = text.replace(/ \d+\/\d+$/, '');
        if (head !== last) process.stderr.write(`[bench] ${text}\n`);
        last = head;
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {percentage}% | {elapsed}s | {step}', stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(1000, 0, { step: 'starting' });
  let phase = 0;
  let lastHead = '';
  // Coarse phases; updates inside a phase move the bar within it.
  const PHASES = 10;
  return {
    step(text, fraction) {
      const head = text.replace(/ \d+\/\d+$/, '').split(':')[0] ?? text;
      if (fraction === undefined || fraction === 0) {
        if (head !== lastHead) phase = Math.min(PHASES - 1, phase + 1);
        lastHead = head;
      }
      const value = ((phase + (fraction ?? 0)) / PHASES) * 1000;
      bar.update(Math.round(value), { step: text.slice(0, 90) });
    },
    stop() {
      bar.update(1000);
      bar.stop();
    },
  };
}

async function main(): Promise<void> {
  // The churn soak of the daemon has its own options (bench/soak.ts).
  if (process.argv.includes('--soak')) return (await import('./soak.js')).soakMain(process.argv.slice(2).filter((a) => a !== '--soak'));
  const program = new Command('bench')
    .description('nftproxy vs kube-proxy (iptables, nftables): objects, rules per connection, compile, full load, update latency, connect latency, memory')
    .option('--services <n>', 'services', int('--services'), 10000)
    .option('--endpoints <n>', 'endpoints per service', int('--endpoints'), 10)
    .option('--updates <n>', 'random single-endpoint changes per system (and per nftproxy applier)', int('--updates'), 100)
    .option('--out <dir>', 'output folder', 'bench/results/latest')
    .option('--sizes <list>', 'comma-separated service counts: a sweep, one sub-folder per size', sizes)
    .option('--quick', 'small and fast: 1000 services, 20 updates, fewer repetitions', false)
    .option('--seed <n>', 'seed of the random changes', int('--seed'), 6)
    .option('--load-reps <n>', 'full-load repetitions per system (median reported)', int('--load-reps'), 3)
    .option('--load-budget <s>', 'no further full-load repetitions after this many seconds of loading', int('--load-budget'), 60)
    .option('--load-timeout <s>', 'kill one full load (or one update) after this many seconds', int('--load-timeout'), 600)
    .option('--iptables-nft-timeout <s>', 'timeout of the iptables-nft full load (extra column)', int('--iptables-nft-timeout'), 90)
    .option('--no-iptables-nft', 'skip the iptables-nft extra column')
    .option('--update-budget <s>', 'stop a system\'s updates after this many seconds', int('--update-budget'), 300)
    .option('--list-timeout <s>', 'timeout of listing the kernel ruleset for object counts', int('--list-timeout'), 180)
    .option('--connects <n>', 'TCP connects measured per probed service', int('--connects'), 300)
    .option('--connect-warmup <n>', 'unmeasured connects per probed service first', int('--connect-warmup'), 20)
    .option('--compile-samples <n>', 'minimum samples per compile micro-benchmark', int('--compile-samples'), 2)
    .option('--bench-max-time <s>', 'benchmark.js max time per micro-benchmark', int('--bench-max-time'), 2)
    .addOption(new Option('--distribution <d>', 'endpoint counts: uniform (--endpoints each) or realistic (seeded heavy-tailed: 60% 1–2, 30% 3–20, 9% 21–200, 1% 201–5,000; some multi-port, some NodePort)').choices(['uniform', 'realistic']).default('uniform'))
    .option('--systems <list>', `comma-separated systems to measure (default all): ${ALL_SYSTEMS.join(', ')}`, systemsList)
    .option('--big-service <n>', 'add one Service with n endpoints; every update is a single-endpoint change inside it', int('--big-service'))
    .option('--rpc-sample <n>', 'services walked for rules per new connection (first and last included)', int('--rpc-sample'), 50);
  program.parse();
  const f = program.opts<{
    services: number; endpoints: number; updates: number; out: string; sizes?: number[]; quick: boolean; seed: number;
    loadReps: number; loadBudget: number; loadTimeout: number; iptablesNftTimeout: number; iptablesNft: boolean; updateBudget: number;
    listTimeout: number; connects: number; connectWarmup: number; compileSamples: number; benchMaxTime: number; rpcSample: number;
    distribution: 'uniform' | 'realistic'; systems?: SystemName[]; bigService?: number;
  }>();
  const explicit = (name: string): boolean => program.getOptionValueSource(name) === 'cli';
  const base: BenchOptions = {
    services: f.services,
    endpoints: f.endpoints,
    updates: f.updates,
    out: f.out,
    seed: f.seed,
    loadReps: f.loadReps,
    loadBudgetS: f.loadBudget,
    loadTimeoutS: f.loadTimeout,
    iptablesNftTimeoutS: f.iptablesNftTimeout,
    iptablesNft: f.iptablesNft,
    updateBudgetS: f.updateBudget,
    listTimeoutS: f.listTimeout,
    connects: f.connects,
    connectWarmup: f.connectWarmup,
    compileSamples: f.compileSamples,
    benchMaxTimeS: f.benchMaxTime,
    rpcSample: f.rpcSample,
    distribution: f.distribution,
    ...(f.systems ? { systems: f.systems } : {}),
    ...(f.bigService ? { bigService: f.bigService } : {}),
  };
  if (f.quick) {
    if (!explicit('services')) base.services = 1000;
    if (!explicit('updates')) base.updates = 20;
    if (!explicit('connects')) base.connects = 100;
    if (!explicit('benchMaxTime')) base.benchMaxTimeS = 1;
    if (!explicit('out')) base.out = 'bench/results/quick';
  }
  const ui = makeUi();
  try {
    if (f.sizes && f.sizes.length > 0) {
      const runs: { services: number; results: BenchResults }[] = [];
      for (const services of f.sizes) {
        ui.step(`sweep: ${services} services`);
        runs.push({ services, results: await runBench({ ...base, services, out: join(base.out, `n${services}`) }, ui) });
      }
      mkdirSync(base.out, { recursive: true });
      writeFileSync(join(base.out, 'sweep.json'), JSON.stringify(runs.map((r) => r.results), null, 2) + '\n');
      writeFileSync(join(base.out, 'sweep.md'), sweepMarkdown(runs));
      writeFileSync(join(base.out, 'sweep-update-latency.svg'), sweepChart(runs));
    } else {
      await runBench(base, ui);
    }
  } finally {
    ui.stop();
    await cleanupAll();
  }
  process.stderr.write(`results in ${base.out}\n`);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await cleanupAll();
    process.exit(1);
  },
);
