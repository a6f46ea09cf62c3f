// Where the harness's `ip netns …` commands run. As root: on the host (named namespaces under
// /run/netns). Otherwise, when the kernel allows unprivileged user namespaces: inside a private
// "host" of our own — a user namespace (we are root in it), a mount namespace with a tmpfs on
// /run (so `ip netns add` can bind-mount there) and a network namespace that stands in for the
// host's — held open by one helper process; every command enters it with nsenter. Veth links,
// nft, sysctls and conntrack then work between our namespaces without any privilege outside, and
// everything vanishes with the helper (it exits when the process that started it does: its stdin
// is a pipe from that process). Child processes (e.g. the cleanup self-test's leaker) share the
// helper through NFTPROXY_NETNS_HOST.

import { execFileSync, spawn } from 'node:child_process';

export const isRoot = process.getuid?.() === 0;

const ENV = 'NFTPROXY_NETNS_HOST';
let helperPid: number | undefined;

/** Is process `pid` alive (EPERM: alive, someone else's)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const enter = (pid: number): string[] => ['nsenter', '-t', String(pid), '-U', '-m', '-n', '--preserve-credentials'];

function ready(pid: number): boolean {
  try {
    execFileSync(enter(pid)[0] as string, [...enter(pid).slice(1), 'test', '-d', '/run/netns'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

function startHelper(): number {
  const child = spawn('unshare', ['-rmn', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs nfp-run /run && mkdir -p /run/netns && ip link set lo up && exec cat >/dev/null'], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: false,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot start the user-namespace helper (unshare -rmn)');
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const end = Date.now() + 10_000;
  while (!ready(pid)) {
    if (Date.now() > end || child.exitCode !== null) throw new Error('the user-namespace helper (unshare -rmn) did not come up: unprivileged user namespaces disabled?');
    execFileSync('sleep', ['0.05']);
  }
  process.env[ENV] = String(pid);
  return pid;
}

/** The nsenter prefix for host-side harness commands; empty as root. */
export function hostPrefix(): string[] {
  if (isRoot) return [];
  if (helperPid === undefined || !pidAlive(helperPid)) {
    const inherited = Number(process.env[ENV]);
    helperPid = Number.isInteger(inherited) && inherited > 0 && pidAlive(inherited) && ready(inherited) ? inherited : startHelper();
  }
  return enter(helperPid);
}

/**
 * argv to run a host-side command (`ip netns …`, `ip -n …`) where our namespaces live. Entering a
 * mount namespace resets the working directory to its root: keep ours (`node --import tsx` and
 * relative paths resolve from it).
 */
export function hostArgv(argv: readonly string[]): string[] {
  const prefix = hostPrefix();
  return prefix.length === 0 ? [...argv] : [...prefix, `--wd=${process.cwd()}`, ...argv];
}

/** Can the harness create namespaces here (root, or unprivileged user namespaces)? */
export function canCreateNamespaces(): boolean {
  if (isRoot) return true;
  try {
    hostPrefix();
    return true;
  } catch {
    return false;
  }
}
