// What conflict resolution and the invariant check cost on the daemon's hot path (issue 11), at
// 10,000 services × 10 endpoints: medians over many single-service changes, each measured as the
// daemon does it (ModelCache.build, then the checked compile with a LowerCache). CPU time.
//   npx tsx bench/conflicts-cost.ts [services] [changes]

import { generateCluster } from './generate.js';
import { buildUnresolvedModel } from '../compiler/model/build.js';
import { ConflictResolver, resolveConflicts } from '../compiler/model/conflicts.js';
import { defaultCompileOptions, type CompileOptions } from '../compiler/model/types.js';
import { compile as lower, createLowerCache } from '../compiler/lower.js';
import { checkRuleset, InvariantChecker } from '../ir/invariants.js';
import { ModelCache } from '../runtime/daemon/model-cache.js';
import { ObjectStore, type KubeObjectLike } from '../runtime/kube/store.js';

const services = Number(process.argv[2] ?? 10000);
const changes = Number(process.argv[3] ?? 41);
const opts: CompileOptions = { ...defaultCompileOptions, nodeName: 'node-a', clusterCIDRs: ['10.128.0.0/9'] };

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(3)} ms, p90 ${pct(xs, 90).toFixed(3)} ms, max ${Math.max(...xs).toFixed(3)} ms (n=${xs.length})`;
/**
 * CPU time (user + system) of f, in ms: the machine is shared (load average ~20 on 2 cores while
 * this was written), so wall time mostly measures waiting for a core.
 */
const time = (f: () => void): number => {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
};

const objects = generateCluster({ services, endpointsPerService: () => 10, nodePortEvery: 10, nodes: ['node-a', 'node-b'] });
const raw = buildUnresolvedModel(objects, opts);
console.log(`${services} services, ${raw.servicePorts.length} service ports`);

// One-shot resolution (buildModel, the CLI): a full pass.
const oneShot: number[] = [];
for (let i = 0; i < 9; i++) oneShot.push(time(() => resolveConflicts(raw.servicePorts)));
console.log(`resolveConflicts, full pass: ${fmt(oneShot)}`);

// The daemon: ModelCache (with the ConflictResolver) + lowering + incremental invariant check.
const store = new ObjectStore();
for (const o of objects) store.upsert(o['kind'] as 'Service' | 'EndpointSlice' | 'Node', o as KubeObjectLike);
const cache = new ModelCache(store, opts);
const lowerCache = createLowerCache();
const checker = new InvariantChecker();
let model = cache.build();
let ruleset = lower(model, opts, lowerCache);
console.log(`first full invariant check (builds every key index): ${time(() => checker.check(ruleset)).toFixed(1)} ms; checkRuleset (no cache): ${time(() => checkRuleset(ruleset)).toFixed(1)} ms`);

const modelMs: number[] = [];
const checkMs: number[] = [];
const slices = objects.filter((o) => o['kind'] === 'EndpointSlice');
for (let c = 0; c < changes; c++) {
  const s = slices[(c * 7919) % slices.length] as unknown as { endpoints: unknown[]; metadata: Record<string, unknown> };
  const changed = { ...s, endpoints: s.endpoints.slice(0, -1), metadata: { ...s.metadata, resourceVersion: String(c + 1) } };
  store.upsert('EndpointSlice', changed as unknown as KubeObjectLike);
  modelMs.push(time(() => (model = cache.build())));
  ruleset = lower(model, opts, lowerCache);
  checkMs.push(time(() => checker.check(ruleset)));
}
console.log(`ModelCache.build per one-service change (includes ConflictResolver): ${fmt(modelMs)}`);
console.log(`incremental invariant check per change: ${fmt(checkMs)}`);

// The resolver alone, per change of one group (what the stage adds to ModelCache.build).
const groups = new Map<string, typeof raw.servicePorts>();
for (const sp of raw.servicePorts) groups.set(`${sp.namespace}/${sp.name}`, [...(groups.get(`${sp.namespace}/${sp.name}`) ?? []), sp]);
const r = new ConflictResolver();
for (const [g, ps] of groups) r.set(g, ps);
for (const g of groups.keys()) r.ports(g);
const keys = [...groups.keys()];
const setMs: number[] = [];
const assembleMs: number[] = [];
for (let c = 0; c < changes; c++) {
  const g = keys[(c * 7919) % keys.length] as string;
  setMs.push(time(() => {
    r.set(g, (groups.get(g) as typeof raw.servicePorts).map((sp) => ({ ...sp })));
    r.ports(g);
  }));
  assembleMs.push(time(() => {
    for (const k of keys) r.ports(k);
    r.conflicts();
  }));
}
console.log(`ConflictResolver.set + ports of the changed group: ${fmt(setMs)}`);
console.log(`ConflictResolver.ports of every group + conflicts() (the assembly loop): ${fmt(assembleMs)}`);

