// Processes for daemon tests: the fake API server and `nftproxy run`, both started inside a
// network namespace of ours (they talk over that namespace's loopback), plus small helpers.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { exec, spawnIn } from '../harness/index.js';
import { RemoteFakeApi } from '../fake-apiserver/remote.js';
import { kubeconfigFor } from '../fake-apiserver/server.js';

const FAKE_MAIN = fileURLToPath(new URL('../fake-apiserver/main.ts', import.meta.url));
const RUN_DAEMON = fileURLToPath(new URL('./run-daemon.ts', import.meta.url));
const NODE = process.execPath;

export async function startFakeApi(ns: string, port = 16443): Promise<{ api: RemoteFakeApi; kubeconfig: string }> {
  const api = new RemoteFakeApi(spawnIn(ns, [NODE, '--import', 'tsx', FAKE_MAIN, String(port)]));
  const actual = await api.ready;
  const dir = mkdtempSync(join(tmpdir(), 'nfp-kc-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigFor(`http://127.0.0.1:${actual}`));
  return { api, kubeconfig };
}

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [k: string]: unknown;
}

export class DaemonProc {
  readonly logs: LogLine[] = [];
  stderr = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    if (!child.stdout) throw new Error('daemon needs a piped stdout');
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.stderr += `${line}\n`;
      }
      for (const w of this.waiters) w();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) => child.on('exit', (code) => r(code)));
  }

  /** `env`: extra environment (e.g. NFTPROXY_TEST_REFUSE_PREFIX, see run-daemon.ts). */
  static start(ns: string, args: string[], env: Record<string, string> = {}): DaemonProc {
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return new DaemonProc(spawnIn(ns, [...(vars.length > 0 ? ['env', ...vars] : []), NODE, '--import', 'tsx', RUN_DAEMON, ...args]));
  }

  syncs(): LogLine[] {
    return this.logs.filter((l) => l.msg === 'sync');
  }

  /** Resolves with the first log line (from index `from`) matching `pred`. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs = 60_000, from = 0): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.logs.slice(from).find(pred);
        if (hit) {
          this.waiters.delete(listener);
          clearTimeout(timer);
          resolve(hit);
        }
        return hit !== undefined;
      };
      const listener = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(listener);
        reject(new Error(`no matching daemon log line within ${timeoutMs} ms; last lines:\n${this.logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.waiters.add(listener);
      check();
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}

export interface HttpResult {
  status: number;
  body: string;
}

/** HTTP GET from inside `ns` (curl); status 0 when the connection failed. */
export async function httpGet(ns: string, url: string): Promise<HttpResult> {
  const r = await exec(ns, ['curl', '-s', '-m', '5', '-w', '\n%{http_code}', url], { check: false });
  const i = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(i + 1)) || 0, body: r.stdout.slice(0, Math.max(0, i)) };
}

export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, stepMs = 25): Promise<{ value: T; elapsedMs: number }> {
  const start = Date.now();
  let value = await fn();
  while (!ok(value)) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, stepMs));
    value = await fn();
  }
  return { value, elapsedMs: Date.now() - start };
}
