// Timed child processes for the kernel worker: spawn → exit, killed at a deadline.

import { spawn } from 'node:child_process';

export interface TimedRun {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export function timedRun(argv: readonly string[], opts: { input?: string; timeoutMs: number }): Promise<TimedRun> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('timedRun: empty argv');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${argv.join(' ')}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code: code ?? (signal ? 128 : 1), stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs and throws unless it exited 0 in time. */
export async function mustRun(argv: readonly string[], opts: { input?: string; timeoutMs: number }): Promise<TimedRun> {
  const r = await timedRun(argv, opts);
  if (r.timedOut) throw new Error(`${argv.join(' ')} did not finish in ${Math.round(opts.timeoutMs / 1000)} s`);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
  return r;
}
