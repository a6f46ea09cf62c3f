// Runs nft inside a private, throw-away network namespace: `unshare -n` gives the shell a fresh
// namespace that disappears with it, so nothing can leak onto the host's ruleset, even on failure.
// Deliberately tiny and local to these tests (the shared harness lives in test/harness).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NsResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Writes `files` into a temporary directory and runs `script` (sh, `set -e`) there in one fresh
 * network namespace; every command of the script sees the same namespace.
 */
export function runInFreshNetns(script: string, files: Record<string, string> = {}): NsResult {
  const dir = mkdtempSync(join(tmpdir(), 'nft-test-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const r = spawnSync('unshare', ['-n', 'sh', '-e', '-c', script], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    if (r.error) throw r.error;
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Root with a working `unshare -n` and nft: the kernel tests run only then. */
export function canRunKernelTests(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    return runInFreshNetns('nft list ruleset').code === 0;
  } catch {
    return false;
  }
}

/**
 * `nft list ruleset` output made comparable between two loads: element order depends on each
 * set's random hash seed, counters on traffic, `expires` on the clock.
 */
export function normaliseListing(listing: string): string {
  return listing
    .replace(/counter packets \d+ bytes \d+/g, 'counter')
    .replace(/ expires [0-9hmsd]+/g, '')
    .replace(/,\s*\n\s*/g, ', ')
    .replace(/\{ ([^{}\n]*) \}/g, (_m, inner: string) => `{ ${inner.split(', ').sort().join(', ')} }`)
    .trim();
}
