// Crashes, in private namespaces with real traffic:
//   - SIGKILL during a sync: the daemon and its `nft` process are killed while a large full sync
//     is on its way into the kernel. The kernel holds the complete old ruleset or the complete new
//     one, never a mix (one netlink batch); traffic never stops; the next daemon converges.
//   - restart under load: while the API changes every 50 ms and a client connects continuously,
//     the daemon is SIGKILLed and restarted: every connection succeeds, and once the churn stops
//     the kernel equals a fresh compile of the API's objects.

import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot, isRoot, NEEDS_ROOT } from '../harness/privileges.js';
import { generateCluster } from '../../bench/generate.js';
import { buildModel } from '../../compiler/model/build.js';
import { compile } from '../../compiler/lower.js';
import { defaultCompileOptions } from '../../compiler/model/types.js';
import { CliApplier } from '../../runtime/apply/cli.js';
import { DEFAULT_CANARY_SET, SyncEngine } from '../../runtime/sync/index.js';
import { createNamespace, createTopology, destroyNamespace, exec, nsExecArgv, tcpRequest, type Topology } from '../harness/index.js';
import type { RemoteFakeApi } from '../fake-apiserver/remote.js';
import type { KubeObject } from '../fake-apiserver/server.js';
import { canonicalListing } from './canonical.js';
import { DaemonProc, startFakeApi, until } from './procs.js';
import { NODE, node, service, slice } from './fixtures.js';

const TABLE = 'nfpk';
const SERVICES = 600;
// The daemon's defaults: --nodeport-addresses primary, as kube-proxy's nftables mode.
const opts = { ...defaultCompileOptions, tableName: TABLE, clusterCIDRs: ['10.244.0.0/16'], nodeName: NODE, nodePortAddresses: ['primary'] };

let topo: Topology;
let ref: string;
let refApplier: CliApplier;
let api: RemoteFakeApi;
let kubeconfig: string;
let daemon: DaemonProc | undefined;
/** What the fake API server holds (the generated cluster is recomputed: generateCluster is deterministic). */
const objects = new Map<string, KubeObject>();
/** Traffic loops, stopped in afterAll too (a failed test must not leave one running). */
const running: { stop: () => Promise<boolean[]> }[] = [];

const args = (): string[] => [
  '--kubeconfig', kubeconfig, '--hostname-override', NODE, '--table', TABLE, '--cluster-cidr', '10.244.0.0/16',
  '--healthz-bind-address', '', '--metrics-bind-address', '', '--min-sync-period', '100ms', '--sync-period', '1h', '--applier', 'cli',
];
const client = (): string => topo.client('client').ns;
const keyOf = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

async function put(o: KubeObject): Promise<void> {
  objects.set(keyOf(o), o);
  await api.apply(o);
}

async function freshListing(): Promise<string> {
  await exec(ref, ['nft', 'flush', 'ruleset']);
  await new SyncEngine({ applier: refApplier }).sync(compile(buildModel([...objects.values()], opts), opts));
  return canonicalListing(ref, [DEFAULT_CANARY_SET]);
}
const kernelListing = (): Promise<string> => canonicalListing(topo.node.ns, [DEFAULT_CANARY_SET]);

/** Pids of `nft` processes whose parent is `pid`. */
function nftChildren(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
      if (m && m[1] === 'nft' && Number(m[2]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Traffic to `ip:80` from the client until stopped; resolves with the results. */
function trafficLoop(ip: string): { stop: () => Promise<boolean[]> } {
  let stop = false;
  const results: boolean[] = [];
  const done = (async () => {
    while (!stop) {
      const r = await tcpRequest(client(), ip, 80, { timeoutMs: 2000 });
      results.push(r.ok);
    }
  })();
  return {
    stop: async () => {
      stop = true;
      await done;
      return results;
    },
  };
}

beforeAll(async () => {
  if (!isRoot) return; // see describeAsRoot below
  topo = await createTopology({ ipv6: false, pods: [{ name: 'a', serve: { tcp: [8080] } }, { name: 'b', serve: { tcp: [8080] } }] });
  ref = await createNamespace('crash-ref');
  refApplier = new CliApplier({ wrap: nsExecArgv(ref) });
  ({ api, kubeconfig } = await startFakeApi(topo.node.ns));
  await api.generate(SERVICES, 10, [NODE, 'node-b']);
  for (const o of generateCluster({ services: SERVICES, endpointsPerService: 10, nodes: [NODE, 'node-b'] })) objects.set(keyOf(o as KubeObject), o as KubeObject);
  await put(node(NODE, [topo.node.ipv4]));
  await put(service({ name: 'web', ip: '10.96.200.1' }));
  await put(slice('default', 'web', [{ ip: '10.244.0.10' }, { ip: '10.244.0.11' }]));
}, 180_000);

afterAll(async () => {
  for (const t of running) await t.stop();
  await daemon?.stop('SIGKILL').catch(() => undefined);
  api?.close();
  refApplier?.close();
  if (ref) await destroyNamespace(ref);
  await topo?.destroy();
});

describeAsRoot(NEEDS_ROOT.bigTransactions)('crashes', () => {
  it('SIGKILL during a sync: the kernel holds the whole old ruleset or the whole new one; traffic never stops; the next daemon converges', async () => {
    daemon = DaemonProc.start(topo.node.ns, args());
    const first = await daemon.waitFor((l) => l.msg === 'sync', 300_000);
    await until(() => tcpRequest(client(), '10.96.200.1', 80, { timeoutMs: 1000 }), (r) => r.ok, 10_000);
    await daemon.stop('SIGTERM');
    const oldListing = await kernelListing();
    expect(oldListing).toBe(await freshListing());

    // While no daemon runs: a different cluster (one endpoint of web gone, 50 services more).
    await put(slice('default', 'web', [{ ip: '10.244.0.11' }]));
    for (let i = 0; i < 50; i++) await put(service({ ns: 'extra', name: `x-${i}`, ip: `10.96.201.${i + 1}` }));
    const newListing = await freshListing();
    expect(newListing).not.toBe(oldListing);

    // The next daemon's first sync is a full one, a batch of ~70k commands: kill it (and its nft) mid-way.
    const traffic = trafficLoop('10.96.200.1');
    running.push(traffic);
    daemon = DaemonProc.start(topo.node.ns, args());
    const pid = daemon.child.pid as number;
    const nft = await until(async () => nftChildren(pid), (l) => l.length > 0, 300_000, 5);
    // Somewhere inside the transaction: nft parses, then streams the batch to the kernel.
    const delay = Math.floor(Math.random() * (first.durationMs as number));
    await new Promise((r) => setTimeout(r, delay));
    const kill = (p: number): void => {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already exited (nft finished first: then the kernel must hold the new ruleset)
      }
    };
    for (const p of nft.value) kill(p);
    kill(pid);
    await daemon.exited;
    const after = await kernelListing();
    const which = after === oldListing ? 'old' : after === newListing ? 'new' : 'MIX';
    console.log(`[crash] killed ${delay} ms into nft (a full sync takes ~${Math.round(first.durationMs as number)} ms); the kernel holds the ${which} ruleset`);
    expect(which).not.toBe('MIX');

    // A new daemon converges to the new state; the traffic never failed.
    daemon = DaemonProc.start(topo.node.ns, args());
    await daemon.waitFor((l) => l.msg === 'sync', 300_000);
    expect(await kernelListing()).toBe(newListing);
    const results = await traffic.stop();
    console.log(`[crash] ${results.length} connections during the crash and takeover, ${results.filter((ok) => !ok).length} failed`);
    expect(results.length).toBeGreaterThan(3);
    expect(results.filter((ok) => !ok)).toEqual([]);
  }, 900_000);

  it('restart under load: SIGKILL and restart while the API churns and traffic flows; every connection succeeds; the kernel converges', async () => {
    daemon ??= DaemonProc.start(topo.node.ns, args());
    await daemon.waitFor((l) => l.msg === 'sync', 300_000);
    const traffic = trafficLoop('10.96.200.1');
    running.push(traffic);
    let churn = true;
    let n = 0;
    const churner = (async () => {
      while (churn) {
        const i = n++ % 40;
        await put(slice('extra', `x-${i}`, [{ ip: `10.244.0.${10 + (n % 2)}` }], { name: `x-${i}-abc` }));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    await daemon.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    daemon = DaemonProc.start(topo.node.ns, args());
    await daemon.waitFor((l) => l.msg === 'sync', 300_000);
    await new Promise((r) => setTimeout(r, 1500));
    churn = false;
    await churner;
    const want = await freshListing();
    await until(kernelListing, (l) => l === want, 30_000, 500);
    const results = await traffic.stop();
    console.log(`[crash] restart under load: ${n} API changes, ${results.length} connections, ${results.filter((ok) => !ok).length} failed`);
    expect(results.length).toBeGreaterThan(3);
    expect(results.filter((ok) => !ok)).toEqual([]);
    // The restarted daemon kept programming the churn: a change made now lands in one sync.
    const from = daemon.logs.length;
    const t0 = Date.now();
    await put(service({ ns: 'extra', name: 'last', ip: '10.96.202.1' }));
    const before = daemon.syncs().at(-1)?.servicePorts as number;
    const line = await daemon.waitFor((l) => l.msg === 'sync' && l.time >= t0, 30_000, from);
    console.log(`[crash] after the restart, a new Service was programmed by the first sync after it, ${line.time - t0} ms later`);
    expect(line.servicePorts).toBe(before + 1);
  }, 900_000);
});
