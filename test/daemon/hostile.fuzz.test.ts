// Hostile and extreme objects through the API (issue 11, item 4): fast-check (seeded) drives the
// fake API server with random sequences of Services and EndpointSlices — valid, invalid and
// conflicting objects, and extreme sizes (5,000 endpoints, 100 ports, 1,000 externalIPs,
// 253-character names, wrong address families, duplicate endpoints, slices without the service
// label or for missing Services, Services changing type back and forth) — while `nftproxy run`
// programs a private namespace. Some Services are "poisoned": the test-only RefusingApplier makes
// the kernel refuse any transaction that programs their cluster IP (10.96.250.x), a refusal the
// compiler cannot see. After every step:
//   - the kernel converges to a fresh compile (buildModel + lower, conflicts resolved) of the
//     objects minus the poisoned Services, loaded into a reference namespace (slot order aside);
//   - no sync failed, and every quarantined port belongs to a poisoned Service;
// and at the end a good Service is programmed within one sync, and the daemon's memory stayed
// bounded.

import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot, isRoot, NEEDS_ROOT } from '../harness/privileges.js';
import { buildModel } from '../../compiler/model/build.js';
import { compile } from '../../compiler/lower.js';
import { defaultCompileOptions } from '../../compiler/model/types.js';
import { CliApplier } from '../../runtime/apply/cli.js';
import { DEFAULT_CANARY_SET, SyncEngine } from '../../runtime/sync/index.js';
import { createNamespace, destroyNamespace, exec, nsExecArgv } from '../harness/index.js';
import type { RemoteFakeApi } from '../fake-apiserver/remote.js';
import type { KubeObject } from '../fake-apiserver/server.js';
import { canonicalListing } from './canonical.js';
import { DaemonProc, startFakeApi, until, type LogLine } from './procs.js';
import { NODE, node } from './fixtures.js';

const TABLE = 'nfpz';
// The daemon's defaults: --nodeport-addresses primary, as kube-proxy's nftables mode.
const opts = { ...defaultCompileOptions, tableName: TABLE, clusterCIDRs: ['10.244.0.0/16'], nodeName: NODE, nodePortAddresses: ['primary'] };
const SEED = Number(process.env.NFTPROXY_FUZZ_SEED ?? 20261106);
const RUNS = Number(process.env.NFTPROXY_FUZZ_RUNS ?? 2);
const POISON = '10.96.250.';

const LONG = 'n'.repeat(253);
const NAMES = ['a', 'b', 'c', 'kube-dns', LONG];
const NAMESPACES = ['default', 'kube-system'];
const CLUSTER_IPS = ['10.96.0.10', '10.96.0.11', '10.96.0.12', '10.96.0.13', 'fd00:10:96::10', 'not-an-ip'];
const EXTERNAL_IPS = ['10.96.0.10', '10.96.0.11', '192.0.2.1', '192.0.2.2', 'fd00::1', '300.1.1.1'];
const LB_IPS = ['192.0.2.1', '192.0.2.9', '10.96.0.12'];
const RANGES = ['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/24', '192.168.0.1/32'];
const CREATED = [undefined, '2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z'];

type Op =
  | { op: 'svc'; ns: string; name: string; type: string; ip: string; ports: number; proto: string; nodePort: number; ext: string[]; lb: string[]; ranges: string[]; etp: string; itp: string; created?: string; bigExt: boolean }
  | { op: 'slice'; ns: string; svc: string; idx: number; labelled: boolean; family: 'IPv4' | 'IPv6'; eps: number[]; wrong: boolean; big: boolean }
  | { op: 'del-svc'; ns: string; name: string }
  | { op: 'del-slice'; ns: string; svc: string; idx: number }
  | { op: 'poison'; k: number; ports: number };

const svcOp: fc.Arbitrary<Op> = fc.record({
  op: fc.constant('svc' as const),
  ns: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom(...NAMES),
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
  ip: fc.constantFrom(...CLUSTER_IPS),
  ports: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(100) }),
  proto: fc.constantFrom('TCP', 'UDP', 'TCP', 'ICMP'),
  nodePort: fc.constantFrom(30001, 30002, 30003),
  ext: fc.subarray(EXTERNAL_IPS, { maxLength: 3 }),
  lb: fc.subarray(LB_IPS, { maxLength: 2 }),
  ranges: fc.subarray(RANGES, { maxLength: 3 }),
  etp: fc.constantFrom('Cluster', 'Local'),
  itp: fc.constantFrom('Cluster', 'Local'),
  created: fc.constantFrom(...CREATED),
  bigExt: fc.constant(false), // 1,000 externalIPs: the weighted variant below
});

const sliceOp: fc.Arbitrary<Op> = fc.record({
  op: fc.constant('slice' as const),
  ns: fc.constantFrom(...NAMESPACES),
  svc: fc.constantFrom(...NAMES, 'missing'),
  idx: fc.integer({ min: 0, max: 1 }),
  labelled: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  family: fc.constantFrom('IPv4' as const, 'IPv4' as const, 'IPv6' as const),
  // Pod numbers: small range, so duplicates across and within slices are common.
  eps: fc.array(fc.integer({ min: 10, max: 20 }), { maxLength: 4 }),
  wrong: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  big: fc.constant(false),
});

const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: svcOp },
  // One extreme at a time: 1,000 externalIPs × 100 ports would be 100,000 keys of one Service.
  { weight: 1, arbitrary: svcOp.map((o) => (o.op === 'svc' ? { ...o, bigExt: true, ports: Math.min(o.ports, 2) } : o)) },
  { weight: 5, arbitrary: sliceOp },
  { weight: 1, arbitrary: sliceOp.map((o) => ({ ...o, big: true })) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('del-svc' as const), ns: fc.constantFrom(...NAMESPACES), name: fc.constantFrom(...NAMES) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('del-slice' as const), ns: fc.constantFrom(...NAMESPACES), svc: fc.constantFrom(...NAMES, 'missing'), idx: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('poison' as const), k: fc.integer({ min: 1, max: 3 }), ports: fc.integer({ min: 1, max: 2 }) }) },
);

function serviceObject(o: Extract<Op, { op: 'svc' }>): KubeObject {
  const v6 = o.ip.includes(':');
  const ports = Array.from({ length: o.ports }, (_, i) => ({
    name: `p${i}`,
    port: 80 + i,
    protocol: o.proto,
    targetPort: 8080 + (i % 3),
    ...(o.type !== 'ClusterIP' ? { nodePort: o.ports > 3 ? 31000 + i : o.nodePort + i } : {}),
  }));
  const ext = o.bigExt ? Array.from({ length: 1000 }, (_, i) => `198.18.${i >> 8}.${i & 255}`) : o.ext;
  return {
    kind: 'Service',
    apiVersion: 'v1',
    metadata: { namespace: o.ns, name: o.name, ...(o.created ? { creationTimestamp: o.created } : {}) },
    spec: {
      type: o.type,
      clusterIP: o.ip,
      clusterIPs: [o.ip],
      ipFamilies: [v6 ? 'IPv6' : 'IPv4'],
      ports,
      externalIPs: ext,
      sessionAffinity: 'None',
      internalTrafficPolicy: o.itp,
      ...(o.type !== 'ClusterIP' ? { externalTrafficPolicy: o.etp } : {}),
      ...(o.type === 'LoadBalancer' ? { loadBalancerSourceRanges: o.ranges, ...(o.etp === 'Local' ? { healthCheckNodePort: 32000 } : {}) } : {}),
    },
    ...(o.type === 'LoadBalancer' ? { status: { loadBalancer: { ingress: o.lb.map((ip) => ({ ip })) } } } : {}),
  };
}

function sliceObjects(o: Extract<Op, { op: 'slice' }>): KubeObject[] {
  const v6 = o.family === 'IPv6';
  const addr = (n: number): string => ((v6 !== o.wrong) ? `fd00:10:244::${n}` : `10.244.1.${n}`);
  const make = (name: string, addrs: string[]): KubeObject => ({
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    metadata: { namespace: o.ns, name, ...(o.labelled ? { labels: { 'kubernetes.io/service-name': o.svc } } : {}) },
    addressType: o.family,
    ports: [0, 1, 2].map((i) => ({ name: `p${i}`, port: 8080 + i, protocol: 'TCP' })),
    endpoints: addrs.map((a, i) => ({ addresses: [a], conditions: { ready: i % 5 !== 4, serving: true, terminating: i % 5 === 4 }, nodeName: i % 2 === 0 ? NODE : 'node-b' })),
  });
  const base = o.svc === LONG ? LONG.slice(0, 249) : o.svc;
  if (!o.big) return [make(`${base}-${o.idx}`, o.eps.map(addr))];
  // 5,000 endpoints: five slices of 1,000 (the API's per-slice maximum).
  return Array.from({ length: 5 }, (_, s) =>
    make(`${base}-big${s}`, Array.from({ length: 1000 }, (_, i) => (v6 ? `fd00:10:245::${s}:${i}` : `10.245.${s * 4 + (i >> 8)}.${i & 255}`))),
  );
}

function poisonObjects(k: number, ports: number): KubeObject[] {
  const ip = `${POISON}${k}`;
  return [
    {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { namespace: 'default', name: `poison-${k}` },
      spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], ports: Array.from({ length: ports }, (_, i) => ({ name: `p${i}`, port: 80 + i, protocol: 'TCP', targetPort: 8080 })) },
    },
    {
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: { namespace: 'default', name: `poison-${k}-0`, labels: { 'kubernetes.io/service-name': `poison-${k}` } },
      addressType: 'IPv4',
      ports: [{ name: 'p0', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.244.2.1'], conditions: { ready: true }, nodeName: NODE }],
    },
  ];
}

let ns: string;
let ref: string;
let api: RemoteFakeApi;
let daemon: DaemonProc;
let refApplier: CliApplier;
const objects = new Map<string, KubeObject>();
const keyOf = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

async function put(o: KubeObject): Promise<void> {
  objects.set(keyOf(o), o);
  await api.apply(o);
}
async function del(kind: string, namespace: string, name: string): Promise<void> {
  if (objects.delete(`${kind}/${namespace}/${name}`)) await api.delete(kind, namespace, name);
}

async function run(o: Op): Promise<void> {
  switch (o.op) {
    case 'svc':
      return put(serviceObject(o));
    case 'slice':
      for (const s of sliceObjects(o)) await put(s);
      return;
    case 'del-svc':
      return del('Service', o.ns, o.name);
    case 'del-slice':
      return del('EndpointSlice', o.ns, `${o.svc === LONG ? LONG.slice(0, 249) : o.svc}-${o.idx}`);
    case 'poison':
      for (const p of poisonObjects(o.k, o.ports)) await put(p);
      return;
  }
}

const isPoisoned = (o: KubeObject): boolean => o.kind === 'Service' && o.metadata.name.startsWith('poison-');

/** The expected kernel: a fresh compile of every object but the poisoned Services, in `ref`. */
async function expected(): Promise<string> {
  const objs = [...objects.values()].filter((o) => !isPoisoned(o));
  await exec(ref, ['nft', 'flush', 'ruleset']);
  await new SyncEngine({ applier: refApplier, ownedTables: [{ family: 'ip', name: TABLE }, { family: 'ip6', name: TABLE }] }).sync(compile(buildModel(objs, opts), opts));
  return canonicalListing(ref, [DEFAULT_CANARY_SET]);
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

beforeAll(async () => {
  if (!isRoot) return; // see describeAsRoot below
  ns = await createNamespace('fuzz');
  ref = await createNamespace('fuzz-ref');
  refApplier = new CliApplier({ wrap: nsExecArgv(ref) });
  let kubeconfig: string;
  ({ api, kubeconfig } = await startFakeApi(ns));
  const n = node(NODE, ['192.168.0.1']);
  objects.set(keyOf(n), n);
  await api.apply(n);
  daemon = DaemonProc.start(
    ns,
    ['--kubeconfig', kubeconfig, '--hostname-override', NODE, '--table', TABLE, '--cluster-cidr', '10.244.0.0/16',
      '--healthz-bind-address', '127.0.0.1:10256', '--metrics-bind-address', '', '--min-sync-period', '100ms', '--sync-period', '1h', '--applier', 'cli'],
    { NFTPROXY_TEST_REFUSE_PREFIX: POISON },
  );
  await daemon.waitFor((l) => l.msg === 'sync', 90_000);
}, 180_000);

afterAll(async () => {
  if (daemon) writeFileSync(join(tmpdir(), 'nftproxy-fuzz-daemon.log'), daemon.logs.map((l) => JSON.stringify(l)).join('\n') + '\n' + daemon.stderr);
  await daemon?.stop('SIGKILL').catch(() => undefined);
  api?.close();
  refApplier?.close();
  if (ns) await destroyNamespace(ns);
  if (ref) await destroyNamespace(ref);
});

describeAsRoot(NEEDS_ROOT.bigTransactions)('hostile and extreme objects through the API', () => {
  it('every sync succeeds or quarantines only the culprit; the kernel equals a fresh compile; memory stays bounded', async () => {
    const pid = daemon.child.pid as number;
    const rss: number[] = [rssMb(pid)];
    let steps = 0;
    let markers = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(ops, { minLength: 1, maxLength: 3 }), { minLength: 6, maxLength: 10 }), async (seq) => {
        // Each run starts from an empty cluster (the node object stays).
        for (const o of [...objects.values()]) if (o.kind !== 'Node') await del(String(o.kind), o.metadata.namespace ?? '', o.metadata.name);
        for (const step of seq) {
          steps++;
          for (const o of step) await run(o);
          // A marker Service and slice, changed last: once the kernel has both, the daemon has
          // seen every change of this step (each watch delivers in order).
          const m = ++markers;
          await put({ kind: 'Service', apiVersion: 'v1', metadata: { namespace: 'zz', name: 'marker' }, spec: { type: 'ClusterIP', clusterIP: `10.96.8.${m % 250}`, clusterIPs: [`10.96.8.${m % 250}`], ipFamilies: ['IPv4'], ports: [{ name: 'p', port: 80, protocol: 'TCP', targetPort: 8080 }] } });
          await put({ kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { namespace: 'zz', name: 'marker-0', labels: { 'kubernetes.io/service-name': 'marker' } }, addressType: 'IPv4', ports: [{ name: 'p', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: [`10.244.3.${m % 250}`], conditions: { ready: true }, nodeName: NODE }] });
          await until(() => exec(ns, ['nft', 'list', 'map', 'ip', TABLE, 'svc-addr-0'], { check: false }), (r) => r.stdout.includes(`10.96.8.${m % 250} . tcp . 80 : 10.244.3.${m % 250}`), 60_000, 100);
          const want = await expected();
          const got = await until(() => canonicalListing(ns, [DEFAULT_CANARY_SET]), (l) => l === want, 20_000, 250).catch(async () => ({ value: await canonicalListing(ns, [DEFAULT_CANARY_SET]) }));
          if (got.value !== want) {
            const a = got.value.split('\n');
            const b = new Set(want.split('\n'));
            const extra = a.filter((l) => !b.has(l)).slice(0, 5);
            const missing = want.split('\n').filter((l) => !a.includes(l)).slice(0, 5);
            throw new Error(`kernel != fresh compile after ${JSON.stringify(step).slice(0, 600)}\nextra in kernel:\n${extra.join('\n')}\nmissing in kernel:\n${missing.join('\n')}`);
          }
          const failed = daemon.logs.filter((l) => l.msg === 'sync failed');
          expect(failed, JSON.stringify(failed.slice(0, 2))).toEqual([]);
          const culprits = daemon.logs.filter((l) => l.msg.startsWith('service port quarantined')).map((l) => String(l.servicePort));
          expect(culprits.filter((k) => !/^ip default\/poison-\d:p\d\/tcp$/.test(k))).toEqual([]);
        }
        rss.push(rssMb(pid));
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );

    // A good Service at the end: programmed within one sync.
    const from = daemon.logs.length;
    const t0 = Date.now();
    await put({ kind: 'Service', apiVersion: 'v1', metadata: { namespace: 'default', name: 'final' }, spec: { type: 'ClusterIP', clusterIP: '10.96.9.9', clusterIPs: ['10.96.9.9'], ipFamilies: ['IPv4'], ports: [{ name: 'p', port: 80, protocol: 'TCP', targetPort: 8080 }] } });
    const line: LogLine = await daemon.waitFor((l) => l.msg === 'sync' && l.time >= t0, 30_000, from);
    console.log(`[fuzz] final Service: first sync after it ${line.time - t0} ms: ${JSON.stringify(daemon.logs.slice(from - 3, daemon.logs.indexOf(line) + 1))}`);
    expect(line.time - t0).toBeLessThanOrEqual(1000);
    expect((await exec(ns, ['nft', 'list', 'map', 'ip', TABLE, 'no-endpoint-services'])).stdout).toContain('10.96.9.9');

    const quarantined = daemon.logs.filter((l) => l.msg.startsWith('service port quarantined')).length;
    const syncs = daemon.syncs();
    const conflicts = daemon.logs.filter((l) => l.msg.startsWith('key conflict:')).length;
    const problems = daemon.logs.filter((l) => l.msg === 'invalid object skipped').length;
    const maxEndpoints = Math.max(...syncs.map((l) => l.endpoints as number));
    console.log(`[fuzz] seed ${SEED}: ${RUNS} runs, ${steps} steps, ${syncs.length} syncs (max ${maxEndpoints} endpoints), ${conflicts} conflicts logged, ${problems} invalid objects reported, ${quarantined} quarantine events; daemon RSS MB after each run: ${rss.map((r) => r.toFixed(0)).join(' ')}`);
    // Bounded: back to an empty-ish cluster, the daemon holds no more than it did with the
    // largest objects, plus a margin for the heap's growth policy.
    expect(Math.max(...rss.slice(1))).toBeLessThan(rss[0]! + 400);
    expect(rss.at(-1)!).toBeLessThan(Math.max(...rss.slice(1, -1), rss[0]!) + 150);
  }, 600_000);
});
