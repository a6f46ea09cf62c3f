// Incremental compiles: with a LowerCache, unchanged service ports contribute the same element
// objects, and endpoints keep their slots — a one-endpoint change is a handful of element commands.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateCluster } from '../../bench/generate.js';
import { buildModel } from '../../compiler/model/build.js';
import { defaultCompileOptions, type Endpoint, type ServicePort } from '../../compiler/model/types.js';
import { compile, createLowerCache } from '../../compiler/lower.js';
import { stableSlots } from '../../compiler/fragment.js';
import { diffRulesets } from '../../ir/diff.js';
import { checkRuleset } from '../../ir/invariants.js';
import type { Ruleset } from '../../ir/types.js';
import { compile as checkedCompile } from '../../compiler/index.js';
import { ModelCache } from '../../runtime/daemon/model-cache.js';
import { ObjectStore, type KubeObjectLike } from '../../runtime/kube/store.js';
import { collidingSequenceArb } from '../model/conflict-arbitraries.js';
import { objectsOf, reproOptions } from '../model/conflict-reproducers.js';
import { semantic } from './semantic.js';

const opts = { ...defaultCompileOptions, clusterCIDRs: ['10.128.0.0/9'] };
const ep = (i: number): Endpoint => ({ ip: `10.0.0.${i}`, port: 80, ready: true, serving: true, terminating: false, isLocal: false });

describe('stableSlots', () => {
  it('is a permutation of the endpoints that keeps surviving endpoints in their slots when it can', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 15 }), fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 15 }), (before, after) => {
        const prev = before.map((i) => `10.0.0.${i}:80`);
        const out = stableSlots(after.map(ep), prev);
        expect(out.map((e) => e.ip).sort()).toEqual(after.map((i) => `10.0.0.${i}`).sort());
        // Every survivor that still fits in the new slot range keeps its slot.
        out.forEach((e, slot) => {
          const was = prev.indexOf(`${e.ip}:80`);
          if (was >= 0 && was < out.length && prev.slice(0, out.length).filter((id) => after.includes(Number(id.split('.')[3]!.split(':')[0]))).length === out.length) {
            expect(slot).toBe(was);
          }
        });
      }),
    );
  });
  it('moves the last endpoint into a removed slot', () => {
    const out = stableSlots([1, 2, 4, 5].map(ep), ['1', '2', '3', '4', '5'].map((i) => `10.0.0.${i}:80`));
    expect(out.map((e) => e.ip)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.5', '10.0.0.4']);
  });
});

describe('incremental lowering', () => {
  const model = buildModel(generateCluster({ services: 300, endpointsPerService: 10 }), opts);
  const withService = (i: number, f: (sp: ServicePort) => ServicePort) => ({
    ...model,
    servicePorts: model.servicePorts.map((sp, k) => (k === i ? f(sp) : sp)),
  });

  const drop3 = (sp: ServicePort): ServicePort => {
    const keep = (l: Endpoint[]) => l.filter((_, k) => k !== 3);
    return { ...sp, endpoints: keep(sp.endpoints), clusterEndpoints: keep(sp.clusterEndpoints), externalEndpoints: keep(sp.externalEndpoints ?? []) };
  };
  /** The non-element commands of a transaction, as `op what name`, sorted. */
  const structural = (tx: ReturnType<typeof diffRulesets>): string[] =>
    tx.commands
      .map((c) => {
        if (c.what === 'chain') return `${c.op} chain ${c.op === 'add' ? c.chain.name : c.name}`;
        if (c.what === 'set') return `${c.op} set ${c.op === 'add' ? c.set.name : c.name}`;
        if (c.what === 'rule') return `${c.op} rule ${c.chain}`;
        return c.what === 'element' ? '' : `${c.op} ${c.what}`;
      })
      .filter((x) => x !== '')
      .sort();
  const elementCount = (tx: ReturnType<typeof diffRulesets>): number => tx.commands.reduce((n, c) => n + (c.what === 'element' ? c.elements.length : 0), 0);

  it('removing one endpoint from a 10-endpoint service: the lb chain of the new count and a few elements', () => {
    const cache = createLowerCache();
    const before = compile(model, opts, cache);
    const after = compile(withService(150, drop3), opts, cache);
    const tx = diffRulesets(before, after);
    // svc-lb-9 is new (no other service has 9 endpoints): its chain and its one numgen rule.
    expect(tx.commands.filter((c) => c.what !== 'element')).toEqual([
      expect.objectContaining({ op: 'add', what: 'chain', chain: { name: 'svc-lb-9' } }),
      expect.objectContaining({ op: 'add', what: 'rule', chain: 'svc-lb-9' }),
    ]);
    // dispatch value goto svc-lb-10 → svc-lb-9 (delete + add); slot 3 takes slot 9's endpoint
    // (address delete + add; the service's one port element is untouched); slot 9's address
    // goes; the hairpin element of the departed endpoint goes.
    expect(elementCount(tx)).toBe(2 + 2 + 1 + 1);
    // Removing one from a second service: lb-9 exists already, elements only.
    const again = compile(withService(151, drop3), opts, cache);
    expect(diffRulesets(after, again).commands.every((c) => c.what === 'element')).toBe(true);
  });

  it('a 5,000-endpoint service: replacing one endpoint is a few element commands; adding one adds lb-5001 and one slot', () => {
    const big = buildModel(generateCluster({ services: 50, endpointsPerService: (i) => (i === 7 ? 5000 : 1 + (i % 4)) }), opts);
    const k = big.servicePorts.findIndex((sp) => sp.endpoints.length === 5000);
    const cache = createLowerCache();
    const before = compile(big, opts, cache);
    const edit = (f: (l: Endpoint[]) => Endpoint[]) => ({
      ...big,
      servicePorts: big.servicePorts.map((sp, i) => (i === k ? { ...sp, endpoints: f(sp.endpoints), clusterEndpoints: f(sp.clusterEndpoints), externalEndpoints: f(sp.externalEndpoints ?? sp.clusterEndpoints) } : sp)),
    });
    const replaced = compile(edit((l) => l.map((e, i) => (i === 1234 ? { ...e, ip: '10.250.0.1' } : e))), opts, cache);
    const tx = diffRulesets(before, replaced);
    expect(tx.commands.every((c) => c.what === 'element')).toBe(true);
    expect(tx.commands.length).toBeLessThanOrEqual(4);
    expect(elementCount(tx)).toBe(4); // slot 1234 address (delete + add), hairpin (delete + add)
    // The other 4,999 hairpin elements are the same objects (no delete + re-add to resolve by key).
    const hairpin = (rs: typeof before) => rs.tables.find((t) => t.family === 'ip')!.sets.find((s) => s.name === 'hairpin')!.elements;
    const kept = new Set(hairpin(replaced));
    expect(hairpin(before).filter((e) => kept.has(e)).length).toBe(hairpin(before).length - 1);
    const grown = compile(edit((l) => [...l.map((e, i) => (i === 1234 ? { ...e, ip: '10.250.0.1' } : e)), { ...(l[0] as Endpoint), ip: '10.250.0.2' }]), opts, cache);
    const tx2 = diffRulesets(replaced, grown);
    expect(structural(tx2)).toEqual(
      [
        'add chain svc-lb-5001',
        'add chain svc-ep-5000',
        'add set svc-addr-5000',
        'flush chain svc-lb-5000',
        'delete chain svc-lb-5000',
        'add rule svc-lb-5001',
        'add rule svc-ep-5000',
      ].sort(),
    );
    // Element commands: the slot address, the dispatch value (delete + add), the hairpin.
    expect(tx2.commands.filter((c) => c.what === 'element').length).toBeLessThanOrEqual(4);
  });

  it('an unchanged model compiles to the same element objects (the diff is empty)', () => {
    const cache = createLowerCache();
    const a = compile(model, opts, cache);
    const b = compile(model, opts, cache);
    expect(diffRulesets(a, b).commands).toEqual([]);
    expect(b.tables[0]!.sets.find((s) => s.name === 'svc-addr-0')!.elements[7]).toBe(a.tables[0]!.sets.find((s) => s.name === 'svc-addr-0')!.elements[7]);
  });
});

/** One random cluster change: drop some service ports, remove endpoint `cut` from others. */
function applyStep(servicePorts: ServicePort[], s: { drop: number[]; trim: number[]; cut: number }): ServicePort[] {
  return servicePorts
    .filter((_, i) => !s.drop.includes(i))
    .map((sp, i) => {
      if (!s.trim.includes(i)) return sp;
      const keep = (l: Endpoint[]) => l.filter((_, k) => k !== s.cut);
      return { ...sp, endpoints: keep(sp.endpoints), clusterEndpoints: keep(sp.clusterEndpoints), externalEndpoints: keep(sp.externalEndpoints ?? sp.clusterEndpoints) };
    });
}

describe('a cached compile equals a fresh one', () => {
  it('over random sequences of cluster changes', () => {
    const base = buildModel(generateCluster({ services: 40, endpointsPerService: (i) => 1 + (i % 6), nodePortEvery: 3 }), opts);
    const step = fc.record({
      drop: fc.uniqueArray(fc.nat(39), { maxLength: 6 }),
      trim: fc.uniqueArray(fc.nat(39), { maxLength: 6 }),
      cut: fc.nat(5),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 6 }), (steps) => {
        const cache = createLowerCache();
        for (const s of steps) {
          const sps = applyStep(base.servicePorts, s);
          const model = { ...base, servicePorts: sps };
          expect(semantic(compile(model, opts, cache))).toEqual(semantic(compile(model, opts)));
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('the element-delta hints of the incremental lowering', () => {
  /** The same ruleset with fresh element arrays: no hint applies, the diff walks. */
  const unhinted = (rs: ReturnType<typeof compile>): ReturnType<typeof compile> => ({
    tables: rs.tables.map((t) => ({ ...t, sets: t.sets.map((s) => ({ ...s, elements: s.elements.slice() })) })),
  });
  const normal = (tx: ReturnType<typeof diffRulesets>): string[] =>
    tx.commands
      .flatMap((c) => (c.what === 'element' ? c.elements.map((e) => `${c.op} ${c.set} ${JSON.stringify(e)}`) : [JSON.stringify(c)]))
      .sort();

  it('give the same transaction as walking the arrays', () => {
    const base = buildModel(generateCluster({ services: 30, endpointsPerService: (i) => 1 + (i % 5), nodePortEvery: 4 }), opts);
    fc.assert(
      fc.property(fc.array(fc.record({ drop: fc.uniqueArray(fc.nat(29), { maxLength: 4 }), trim: fc.uniqueArray(fc.nat(29), { maxLength: 4 }), cut: fc.nat(4) }), { minLength: 1, maxLength: 5 }), (steps) => {
        const cache = createLowerCache();
        let before = compile(base, opts, cache);
        for (const s of steps) {
          const sps = applyStep(base.servicePorts, s);
          const after = compile({ ...base, servicePorts: sps }, opts, cache);
          expect(normal(diffRulesets(before, after))).toEqual(normal(diffRulesets(unhinted(before), unhinted(after))));
          before = after;
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('keys shared and moving between Services (issue 11)', () => {
  /** Keeps the store equal to `objects`, as watch events would. */
  function syncStore(store: ObjectStore, objects: unknown[]): void {
    const kinds = ['Service', 'EndpointSlice', 'Node'] as const;
    const want = new Map<string, KubeObjectLike>();
    for (const o of objects as (KubeObjectLike & { kind: (typeof kinds)[number] })[]) want.set(`${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`, o);
    for (const kind of kinds) {
      for (const old of store.list(kind)) if (!want.has(`${kind} ${old.metadata?.namespace ?? ''}/${old.metadata?.name}`)) store.remove(kind, old);
    }
    for (const [k, o] of want) {
      const kind = k.slice(0, k.indexOf(' ')) as (typeof kinds)[number];
      const old = store.get(kind, o.metadata?.namespace ?? '', o.metadata?.name ?? '');
      const { resourceVersion: _rv, ...oldMd } = (old?.metadata ?? {}) as Record<string, unknown>;
      if (old && JSON.stringify({ ...old, metadata: oldMd }) === JSON.stringify(o)) continue;
      store.upsert(kind, { ...o, metadata: { ...o.metadata, resourceVersion: String(++version) } });
    }
  }
  let version = 0;

  it('the daemon path (ModelCache, ConflictResolver, LowerCache, checked compile) equals a fresh compile; hinted diff equals walking', () => {
    fc.assert(
      fc.property(collidingSequenceArb(1, 5), (steps) => {
        const store = new ObjectStore();
        const models = new ModelCache(store, reproOptions);
        const cache = createLowerCache();
        let before: Ruleset | undefined;
        for (const specs of steps) {
          const objects = objectsOf(specs);
          syncStore(store, objects);
          const inc = models.build();
          const full = buildModel(objects, reproOptions);
          expect(inc.problems).toEqual([]);
          expect(inc.servicePorts).toEqual(full.servicePorts);
          expect(inc.conflicts).toEqual(full.conflicts);
          const after = checkedCompile(inc, reproOptions, cache); // throws on a key held twice or overlapping intervals
          const fresh = checkedCompile(full, reproOptions);
          expect(checkRuleset(after)).toEqual([]);
          expect(semantic(after)).toEqual(semantic(fresh));
          if (before) {
            const tx = diffRulesets(before, after);
            expect(normalTx(tx)).toEqual(normalTx(diffRulesets(unhintedRs(before), unhintedRs(after))));
            // The diff touches each key of a set at most once per operation.
            for (const c of tx.commands) {
              if (c.what !== 'element') continue;
              const keys = c.elements.map((e) => JSON.stringify(e.key));
              expect(new Set(keys).size, `${c.op} ${c.set}`).toBe(keys.length);
            }
          }
          before = after;
        }
      }),
      { numRuns: 80 },
    );
  });
});

const unhintedRs = (rs: Ruleset): Ruleset => ({
  tables: rs.tables.map((t) => ({ ...t, sets: t.sets.map((s) => ({ ...s, elements: s.elements.slice() })) })),
});
const normalTx = (tx: ReturnType<typeof diffRulesets>): string[] =>
  tx.commands.flatMap((c) => (c.what === 'element' ? c.elements.map((e) => `${c.op} ${c.set} ${JSON.stringify(e)}`) : [JSON.stringify(c)])).sort();
