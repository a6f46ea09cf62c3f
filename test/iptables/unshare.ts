// Run a shell script inside a fresh private network namespace (`unshare -n`). The namespace
// exists only as long as the script runs, so nothing can leak into the host's network state.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScriptResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** `files` are written to a temporary directory: the script's working directory, also as $D. */
export function inNewNetns(script: string, files: Record<string, string> = {}): ScriptResult {
  const dir = mkdtempSync(join(tmpdir(), 'nfp-ipt-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    // --norc and no stdin: bash sources bashrc when it believes a remote shell daemon started it.
    const r = spawnSync('unshare', ['-n', 'bash', '--norc', '-euo', 'pipefail', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
      env: { ...process.env, D: dir },
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** `iptables-save` output without comments and counters, for comparisons. */
export function normaliseSave(save: string): string[] {
  return save
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'));
}
