// Named network namespaces for datapath tests, with a cleanup registry.
//
// Every namespace this module creates is named `nfp-<pid>-<n>-<role>` so that (a) parallel test
// workers never collide, and (b) namespaces leaked by a worker that was SIGKILLed can be found and
// removed by the next run: their owner pid is dead. Nothing here ever runs a network command in
// the host namespace — every command goes through `ip netns exec <ours>` or `ip -n <ours>`.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostArgv, pidAlive } from './host.js';

export const NS_PREFIX = 'nfp-';
const OWN_NAME = new RegExp(`^${NS_PREFIX}(\\d+)-(\\d+)-`);

let counter = 0;
const namespaces = new Set<string>();
const processes = new Set<ChildProcess>();

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the command's stdin (then closed). */
  input?: string;
  /** Throw on a non-zero exit status (default true). */
  check?: boolean;
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
}

export class ExecError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    super(
      `command failed (exit ${result.code}): ${argv.join(' ')}\n${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
}

/** execFileSync of a host-side command (see run). */
function hostSync(argv: readonly string[], opts: { encoding: 'utf8' }): string;
function hostSync(argv: readonly string[], opts: { stdio: 'ignore' }): unknown;
function hostSync(argv: readonly string[], opts: { encoding?: 'utf8'; stdio?: 'ignore' }): unknown {
  const [cmd, ...args] = hostArgv(argv);
  return execFileSync(cmd as string, args, opts);
}

/**
 * Run argv on the host *without* a shell (in the user-namespace "host" when not root: host.ts).
 * Only used for `ip netns …` management and `ip -n`.
 */
export function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = hostArgv(argv);
  if (cmd === undefined) throw new Error('run: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if ((opts.check ?? true) && result.code !== 0) reject(new ExecError(argv, result));
      else resolve(result);
    });
    child.stdin.on('error', () => undefined); // the command may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Run argv inside namespace `ns` (`ip netns exec ns …`). */
export async function exec(ns: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  assertOurs(ns);
  return run(['ip', 'netns', 'exec', ns, ...argv], opts);
}

/** Run a POSIX shell script inside `ns` with `set -e`: one process for many small commands. */
export function sh(ns: string, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
  return exec(ns, ['sh', '-e', '-c', script], opts);
}

/** Set sysctls inside `ns` (never on the host). */
export async function sysctl(ns: string, settings: Record<string, string | number>): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  if (args.length > 0) await exec(ns, ['sysctl', '-q', '-w', ...args]);
}

/**
 * Start a long-running process inside `ns`. It is killed by `destroyNamespace`/`cleanupAll`
 * and on process exit. `ip netns exec` execs the command, so the child pid is the process itself.
 */
export function spawnIn(ns: string, argv: readonly string[]): ChildProcess {
  assertOurs(ns);
  const [cmd, ...args] = hostArgv(['ip', 'netns', 'exec', ns, ...argv]);
  const child = spawn(cmd as string, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  processes.add(child);
  child.on('exit', () => processes.delete(child));
  child.stdin?.on('error', () => undefined);
  return child;
}

/**
 * Create a namespace named `nfp-<pid>-<n>-<role>` with loopback up and the given sysctls set
 * (one process inside the namespace for both: spawns are what topology set-up costs).
 */
export async function createNamespace(role: string, opts: { sysctls?: Record<string, string | number> } = {}): Promise<string> {
  installExitHandlers();
  const safeRole = role.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 32);
  const name = `${NS_PREFIX}${process.pid}-${counter++}-${safeRole}`;
  namespaces.add(name);
  await run(['ip', 'netns', 'add', name]);
  const settings = Object.entries(opts.sysctls ?? {}).map(([k, v]) => `${k}=${v}`);
  await exec(name, settings.length > 0 ? ['sh', '-e', '-c', 'ip link set lo up; sysctl -q -w "$@"', 'sh', ...settings] : ['ip', 'link', 'set', 'lo', 'up']);
  return name;
}

/** Kill our processes in `ns`, then delete it. Idempotent. */
export async function destroyNamespace(ns: string): Promise<void> {
  assertOurs(ns);
  killPidsIn(ns);
  await run(['ip', 'netns', 'del', ns], { check: false });
  namespaces.delete(ns);
}

/** Tear down everything this process created. */
export async function cleanupAll(): Promise<void> {
  for (const p of processes) p.kill('SIGKILL');
  processes.clear();
  await Promise.all([...namespaces].map((ns) => destroyNamespace(ns)));
}

/** Names of all namespaces on the machine that follow our naming scheme (any owner). */
export function listOurNamespaces(): string[] {
  let out = '';
  try {
    out = hostSync(['ip', 'netns', 'list'], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => OWN_NAME.test(n));
}

/** Namespaces created by this process and not yet destroyed. */
export function liveNamespaces(): string[] {
  return [...namespaces];
}

/**
 * Remove namespaces left behind by harness processes that died without cleaning up (e.g. a
 * SIGKILLed vitest worker). Only touches names whose owner pid no longer exists.
 */
export function removeStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const ns of listOurNamespaces()) {
    const pid = Number(OWN_NAME.exec(ns)?.[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    killPidsIn(ns);
    try {
      hostSync(['ip', 'netns', 'del', ns], { stdio: 'ignore' });
      removed.push(ns);
    } catch {
      // another worker may have removed it concurrently
    }
  }
  return removed;
}

export type NftFormat = 'json' | 'text';

/**
 * Load a ruleset into `ns` through a temporary file (`nft -j -f FILE` / `nft -f FILE`). Never
 * stdin: nft 1.0.6 silently ignores invalid JSON on stdin and exits 0.
 */
export async function nftLoad(
  ns: string,
  ruleset: string | object,
  opts: { format: NftFormat; check?: boolean } = { format: 'json' },
): Promise<ExecResult> {
  const content = typeof ruleset === 'string' ? ruleset : JSON.stringify(ruleset);
  if (typeof ruleset !== 'string' && opts.format !== 'json') {
    throw new Error('nftLoad: an object ruleset needs format "json"');
  }
  const dir = mkdtempSync(join(tmpdir(), 'nfp-nft-'));
  const file = join(dir, opts.format === 'json' ? 'ruleset.json' : 'ruleset.nft');
  try {
    writeFileSync(file, content);
    const argv = opts.format === 'json' ? ['nft', '-j', '-f', file] : ['nft', '-f', file];
    return await exec(ns, argv, { check: opts.check ?? true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `nft list ruleset` inside `ns`, as text (default) or parsed JSON. */
export async function nftList(ns: string, opts?: { format?: 'text' }): Promise<string>;
export async function nftList(ns: string, opts: { format: 'json' }): Promise<unknown>;
export async function nftList(ns: string, opts: { format?: NftFormat } = {}): Promise<unknown> {
  if (opts.format === 'json') {
    const r = await exec(ns, ['nft', '-j', 'list', 'ruleset']);
    return JSON.parse(r.stdout) as unknown;
  }
  return (await exec(ns, ['nft', 'list', 'ruleset'])).stdout;
}

export interface IptablesRestoreOptions {
  /** ip6tables-restore instead of iptables-restore. */
  ipv6?: boolean;
  /** 'nft' (iptables-nft, Debian's default) or 'legacy' (x_tables). Default 'nft'. */
  backend?: 'nft' | 'legacy';
  /** --noflush: add to the tables instead of replacing them. */
  noflush?: boolean;
  check?: boolean;
}

/** Load iptables-restore input (e.g. kube-proxy's iptables output) into `ns` through a file. */
export async function iptablesRestore(ns: string, rules: string, opts: IptablesRestoreOptions = {}): Promise<ExecResult> {
  const bin = `${opts.ipv6 ? 'ip6tables' : 'iptables'}-${opts.backend ?? 'nft'}-restore`;
  const dir = mkdtempSync(join(tmpdir(), 'nfp-ipt-'));
  const file = join(dir, 'rules');
  try {
    writeFileSync(file, rules.endsWith('\n') ? rules : `${rules}\n`);
    return await exec(ns, [bin, ...(opts.noflush ? ['--noflush'] : []), file], { check: opts.check ?? true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `iptables-save` (or ip6tables-save) inside `ns`. */
export async function iptablesSave(ns: string, opts: Pick<IptablesRestoreOptions, 'ipv6' | 'backend'> = {}): Promise<string> {
  return (await exec(ns, [`${opts.ipv6 ? 'ip6tables' : 'iptables'}-${opts.backend ?? 'nft'}-save`])).stdout;
}

/**
 * Forget all connection-tracking entries in `ns`: a test that changes rules between requests
 * otherwise sees replies steered by entries made under the old rules (UDP flows especially).
 */
export async function conntrackFlush(ns: string): Promise<void> {
  await exec(ns, ['conntrack', '-F']);
}

/** Conntrack entries in `ns`, one line each (`conntrack -L` text). */
export async function conntrackList(ns: string, filter: readonly string[] = []): Promise<string[]> {
  const r = await exec(ns, ['conntrack', '-L', ...filter], { check: false });
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

// ---------------------------------------------------------------------------------------------

function assertOurs(ns: string): void {
  // Guards against ever running a command in a namespace we did not create (or the host).
  if (!OWN_NAME.test(ns)) throw new Error(`refusing to use namespace ${JSON.stringify(ns)}: not created by the harness`);
}


function killPidsIn(ns: string): void {
  // A process still inside a namespace keeps it alive after `ip netns del`; kill exactly those.
  let out = '';
  try {
    out = hostSync(['ip', 'netns', 'pids', ns], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of out.split('\n')) {
    const pid = Number(line.trim());
    if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

let exitHandlersInstalled = false;
function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  removeStaleNamespaces();
  // 'exit' handlers must be synchronous: delete with execFileSync.
  process.on('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupAllSync();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

function cleanupAllSync(): void {
  for (const p of processes) p.kill('SIGKILL');
  processes.clear();
  for (const ns of namespaces) {
    killPidsIn(ns);
    try {
      hostSync(['ip', 'netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  namespaces.clear();
}

/** argv prefix that runs a command inside `ns` (for tools that take a wrapper, e.g. CliApplier). */
export function nsExecArgv(ns: string): string[] {
  assertOurs(ns);
  return hostArgv(['ip', 'netns', 'exec', ns]);
}
