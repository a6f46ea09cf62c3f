// What this test run may do to the kernel, decided once, and the ONE guard for tests that need
// more than a private network namespace.
//
// - A private network namespace for nft/iptables scripts: `unshare -n` as root; otherwise
//   `unshare -rn` (an unprivileged user namespace that maps us to root inside it, which owns the
//   new network namespace) when the kernel allows it. Either way nothing reaches the host.
// - Named namespaces, veth topologies between them and servers in them (the netns/ harness): as
//   root on the host; otherwise inside a user-namespace "host" of our own (netns/host.ts). Tests
//   that need them use `describeWithNamespaces`.
// - What needs real root even so (listing iptables-legacy state through /proc) uses
//   `describeAsRoot(reason)`: the one guard, which states the reason in the skip report.

import { spawnSync } from 'node:child_process';
import { describe } from 'vitest';
import { canCreateNamespaces, isRoot } from '../../netns/host.js';

export { isRoot };


/** `unshare` flags giving a private network namespace, or undefined when none can be had. */
export const unshareFlags: string[] | undefined = (() => {
  if (isRoot) return ['-n'];
  const r = spawnSync('unshare', ['-rn', 'nft', 'list', 'ruleset'], { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0 ? ['-rn'] : undefined;
})();

/** A private network namespace (root, or an unprivileged user namespace) is available. */
export const canUnshareNetns = unshareFlags !== undefined;

/**
 * `describe` for tests that need real root, with the reason shown in the skip report when not
 * root (e.g. `describeAsRoot('ip netns add + veth topology')('datapath', () => …)`).
 */
export function describeAsRoot(reason: string): (name: string, fn: () => void) => void {
  return (name, fn) => (isRoot ? describe(name, fn) : describe.skip(`${name} [needs root: ${reason}]`, fn));
}

/** Reasons shared by many files. */
export const NEEDS_ROOT = {
  iptablesSave: 'iptables-legacy-save lists /proc/net/ip_tables_names, unreadable from a user namespace',
  bigTransactions:
    'full syncs of tens of thousands of elements: a user namespace cannot raise the netlink socket buffer, so nft fails with "Message too long"',
} as const;

/** `describe` for tests that need a private network namespace (root or unprivileged). */
export function describeInNetns(name: string, fn: () => void): void {
  if (canUnshareNetns) describe(name, fn);
  else describe.skip(`${name} [needs a private network namespace: root, or unprivileged user namespaces]`, fn);
}

/** `describe` for tests on the netns/ harness (named namespaces, veth topologies, servers). */
export function describeWithNamespaces(name: string, fn: () => void): void {
  if (canCreateNamespaces()) describe(name, fn);
  else describe.skip(`${name} [needs root, or unprivileged user namespaces]`, fn);
}
