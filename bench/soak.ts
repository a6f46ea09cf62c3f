// `npm run bench -- --soak`: the daemon under churn. The fake API server and `nftproxy run` in a
// private network namespace (as in test/daemon/scale.test.ts); S services × E endpoints, then N
// single-slice changes (one endpoint of one service replaced) at a steady rate, coalesced by the
// daemon into syncs of minSyncPeriod. Reports the daemon's RSS after the first full sync and at
// checkpoints, and after the churn has settled: a leak shows as growth proportional to N, lazy
// GC as growth that stops. `--heap-snapshots DIR` also writes a V8 heap snapshot of the daemon
// before and after (compare them for the constructors and retainers that grew).

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { podIp, serviceName } from './generate.js';
import { createNamespace, destroyNamespace, spawnIn } from '../netns/index.js';

// Started as processes by path (bench/ imports nothing from test/): the fake API server driven over
// stdin/stdout (see its header), and the daemon's entry point under tsx.
const FAKE_API = fileURLToPath(new URL('../test/fake-apiserver/main.ts', import.meta.url));
const RUN_DAEMON = fileURLToPath(new URL('../test/daemon/run-daemon.ts', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/nftproxy.js', import.meta.url));
const BUILT = fileURLToPath(new URL('../dist/runtime/cli/main.js', import.meta.url));
const NODES = ['node-a', 'node-b'];

export interface SoakOptions {
  services: number;
  endpoints: number;
  changes: number;
  /** Changes sent per second. */
  rate: number;
  minSyncMs: number;
  checkpoints: number;
  out: string;
  heapSnapshots?: string;
  /** Run the daemon under tsx from the sources instead of the built bin/nftproxy.js. */
  tsx?: boolean;
}

export interface SoakResult {
  shape: string;
  runtime: 'built' | 'tsx';
  changes: number;
  rate: number;
  minSyncMs: number;
  syncs: number;
  rssMb: { afterFirstSync: number; checkpoints: { changes: number; rssMb: number }[]; settled: number };
  growth: number;
}

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The fake API server process: one JSON command per line in, one reply per line out. */
class FakeApi {
  private seq = 0;
  private readonly waiting = new Map<number, (r: { ok: boolean; error?: string }) => void>();
  readonly ready: Promise<number>;
  constructor(readonly child: ChildProcess) {
    let ready: (port: number) => void = () => undefined;
    this.ready = new Promise((r) => (ready = r));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let r: { id?: number; ok?: boolean; error?: string; ready?: boolean; port?: number };
      try {
        r = JSON.parse(line) as typeof r;
      } catch {
        return;
      }
      if (r.ready && r.port !== undefined) ready(r.port);
      const w = r.id === undefined ? undefined : this.waiting.get(r.id);
      if (w && r.id !== undefined) {
        this.waiting.delete(r.id);
        w({ ok: r.ok === true, ...(r.error ? { error: r.error } : {}) });
      }
    });
  }
  async call(op: string, extra: object = {}): Promise<void> {
    const id = ++this.seq;
    const r = await new Promise<{ ok: boolean; error?: string }>((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(JSON.stringify({ id, op, ...extra }) + '\n');
    });
    if (!r.ok) throw new Error(`fake API server: ${op} failed: ${r.error ?? '?'}`);
  }
}

/** The daemon process: counts its `sync` log lines. */
class Daemon {
  syncs = 0;
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        if ((JSON.parse(line) as { msg?: string }).msg === 'sync') this.syncs++;
      } catch {
        // not a log line
      }
    });
    child.stderr?.resume();
  }
  async firstSync(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.syncs === 0) {
      if (Date.now() > end || this.child.exitCode !== null) throw new Error('the daemon did not sync');
      await sleep(200);
    }
  }
}

/** Writes a heap snapshot of the daemon (started with --heapsnapshot-signal) into `dir` as `name`. */
async function heapSnapshot(daemon: Daemon, cwd: string, dir: string, name: string): Promise<void> {
  const before = new Set(readdirSync(cwd).filter((f) => f.endsWith('.heapsnapshot')));
  daemon.child.kill('SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(500);
    const fresh = readdirSync(cwd).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    // V8 writes the file in one go and then returns; a size that stops changing means done.
    if (fresh.length > 0) {
      const f = join(cwd, fresh[0] as string);
      const a = readFileSync(f).length;
      await sleep(1000);
      if (readFileSync(f).length === a && a > 0) {
        mkdirSync(dir, { recursive: true });
        renameSync(f, join(dir, name));
        return;
      }
    }
  }
  throw new Error('the daemon wrote no heap snapshot within 5 minutes');
}

export async function runSoak(o: SoakOptions, log: (s: string) => void = (s) => process.stderr.write(`[soak] ${s}\n`)): Promise<SoakResult> {
  const ns = await createNamespace('soak');
  let daemon: Daemon | undefined;
  let api: FakeApi | undefined;
  const cwd = resolve(o.out);
  mkdirSync(cwd, { recursive: true });
  try {
    api = new FakeApi(spawnIn(ns, [process.execPath, '--import', 'tsx', FAKE_API, '16443']));
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'nfp-soak-')), 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigText(`http://127.0.0.1:${await api.ready}`));
    await api.call('generate', { services: o.services, endpointsPerService: o.endpoints, nodes: NODES });
    await api.call('apply', { object: { kind: 'Node', apiVersion: 'v1', metadata: { name: NODES[0] as string, labels: { 'topology.kubernetes.io/zone': 'zone-0' } }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.1' }] } } });
    const args = ['--kubeconfig', kubeconfig, '--hostname-override', NODES[0] as string, '--table', 'nfp-soak', '--healthz-bind-address', '', '--metrics-bind-address', '', '--min-sync-period', `${o.minSyncMs}ms`, '--log-level', 'info'];
    // spawnIn runs `ip netns exec`, which execs node: the child's pid is the daemon's.
    // The built CLI is what production runs; tsx adds its own memory (and is the fallback).
    const runtime = o.tsx || !existsSync(BUILT) ? 'tsx' : 'built';
    const snap = o.heapSnapshots ? ['--heapsnapshot-signal=SIGUSR2'] : [];
    const argv = runtime === 'built' ? [process.execPath, ...snap, BIN, 'run', ...args] : [process.execPath, '--import', 'tsx', ...snap, RUN_DAEMON, ...args];
    const child = spawnIn(ns, argv);
    daemon = new Daemon(child);
    log(`${o.services} services × ${o.endpoints} endpoints: waiting for the first sync`);
    await daemon.firstSync(900_000);
    await sleep(o.minSyncMs + 2000);
    const pid = daemon.child.pid as number;
    const afterFirstSync = rssMb(pid);
    log(`RSS after the first sync: ${afterFirstSync.toFixed(0)} MB`);
    if (o.heapSnapshots) await heapSnapshot(daemon, process.cwd(), o.heapSnapshots, 'before.heapsnapshot');

    // Each slice as generated (bench/generate.ts: pods numbered service by service), mutated in turn.
    const addrs = (k: number): string[] => Array.from({ length: o.endpoints }, (_, j) => podIp(k * o.endpoints + j));
    const current = new Map<number, string[]>();
    const checkpoints: { changes: number; rssMb: number }[] = [];
    const every = Math.max(1, Math.floor(o.changes / o.checkpoints));
    const start = Date.now();
    for (let c = 1; c <= o.changes; c++) {
      const k = (c * 7919) % o.services;
      const list = current.get(k) ?? addrs(k);
      list[c % o.endpoints] = podIp(o.services * o.endpoints + c);
      current.set(k, list);
      const name = serviceName(k);
      await api.call('apply', { object: {
        kind: 'EndpointSlice',
        apiVersion: 'discovery.k8s.io/v1',
        metadata: { name: `${name}-abcde`, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } },
        addressType: 'IPv4',
        ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
        endpoints: list.map((a, j) => ({ addresses: [a], conditions: { ready: true, serving: true, terminating: false }, nodeName: NODES[j % NODES.length] })),
      } });
      const due = start + (c * 1000) / o.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      if (c % every === 0) {
        checkpoints.push({ changes: c, rssMb: rssMb(pid) });
        log(`${c} changes: RSS ${rssMb(pid).toFixed(0)} MB, ${daemon.syncs} syncs`);
      }
    }
    await sleep(o.minSyncMs + 5000);
    const settled = rssMb(pid);
    if (o.heapSnapshots) await heapSnapshot(daemon, process.cwd(), o.heapSnapshots, 'after.heapsnapshot');
    const result: SoakResult = {
      shape: `${o.services} services × ${o.endpoints} endpoints`,
      runtime,
      changes: o.changes,
      rate: o.rate,
      minSyncMs: o.minSyncMs,
      syncs: daemon.syncs,
      rssMb: { afterFirstSync, checkpoints, settled },
      growth: settled / afterFirstSync,
    };
    log(`RSS ${afterFirstSync.toFixed(0)} MB → ${settled.toFixed(0)} MB after ${o.changes} changes (×${result.growth.toFixed(2)}), ${result.syncs} syncs`);
    writeFileSync(join(cwd, 'soak.json'), JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    daemon?.child.kill('SIGKILL');
    api?.child.stdin?.end();
    await destroyNamespace(ns);
  }
}

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

/** `npm run bench -- --soak [options]` (bench/main.ts hands over here). */
export async function soakMain(argv: string[]): Promise<void> {
  const f = new Command('bench --soak')
    .description('the daemon under churn: RSS before and after N single-slice changes through the fake API server')
    .option('--services <n>', 'services', int('--services'), 2000)
    .option('--endpoints <n>', 'endpoints per service', int('--endpoints'), 10)
    .option('--changes <n>', 'single-slice changes', int('--changes'), 20000)
    .option('--rate <n>', 'changes per second', int('--rate'), 200)
    .option('--min-sync <ms>', 'the daemon\'s minSyncPeriod', int('--min-sync'), 1000)
    .option('--checkpoints <n>', 'RSS readings during the churn', int('--checkpoints'), 5)
    .option('--out <dir>', 'output folder (soak.json)', 'bench/results/soak')
    .option('--heap-snapshots <dir>', 'also write V8 heap snapshots of the daemon before and after')
    .option('--tsx', 'run the daemon from the sources under tsx (default: the built bin/nftproxy.js when dist/ exists)', false)
    .parse(argv, { from: 'user' })
    .opts<{ services: number; endpoints: number; changes: number; rate: number; minSync: number; checkpoints: number; out: string; heapSnapshots?: string; tsx: boolean }>();
  await runSoak({ ...f, minSyncMs: f.minSync });
}

/** A kubeconfig for the fake API server (plain http; client-node wants TLS verification off then). */
function kubeconfigText(server: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: ${server}
    insecure-skip-tls-verify: true
users:
- name: fake
  user:
    token: fake-token
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
current-context: fake
`;
}
