// Runs nft inside a private, throw-away network namespace: `unshare -n` gives the shell a fresh
// namespace that disappears with it, so nothing can leak onto the host's ruleset, even on failure.
// A thin view of test/iptables/unshare.ts for these tests (the shared harness lives in netns/).

import { canUnshareNetns } from '../harness/privileges.js';
import { inNewNetns } from '../iptables/unshare.js';

export interface NsResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Writes `files` into a temporary directory and runs `script` (stops at the first failing
 * command) there in one fresh network namespace; every command of the script sees the same one.
 */
export function runInFreshNetns(script: string, files: Record<string, string> = {}): NsResult {
  const r = inNewNetns(script, files);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A private network namespace (root, or an unprivileged user namespace) with a working nft. */
export function canRunKernelTests(): boolean {
  if (!canUnshareNetns) return false;
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
