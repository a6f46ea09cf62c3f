// Run a shell script inside a fresh private network namespace (`unshare -n`, or `unshare -rn` in an
// unprivileged user namespace when not root: see test/harness/privileges.ts). The namespace exists
// only as long as the script runs, so nothing can leak into the host's network state.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, unshareFlags } from '../harness/privileges.js';

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
    if (unshareFlags === undefined) throw new Error('no private network namespace available (needs root or unprivileged user namespaces)');
    const r = spawnSync('unshare', [...unshareFlags, 'bash', '--norc', '-euo', 'pipefail', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
      // iptables takes /run/xtables.lock, which an unprivileged user cannot open: a private one.
      env: { ...process.env, D: dir, ...(isRoot ? {} : { XTABLES_LOCKFILE: join(dir, '.xtables.lock') }) },
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


/** `iptables-save` output without comments and counters, for comparisons. */
export function normaliseSave(save: string): string[] {
  return save
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'));
}
