// The diff alone at the target scale (default 10k services × 10 endpoints): a chain of random
// one-endpoint changes, each recompiled incrementally (one LowerCache, as the daemon does, so
// unchanged element objects are shared) and diffed against the previous ruleset; then the worst
// case for the walk, a ruleset whose every element object is fresh (a compiler without sharing).
// Pure userspace, no kernel, no root. Prints percentiles; timing is never a test oracle, but the
// shape of every transaction is checked (a one-endpoint change is element commands only).
//
//   node --import tsx bench/diff-scale.ts [services] [endpoints] [rounds]

import { compile, createLowerCache } from '../compiler/lower.js';
import { diffRulesets } from '../ir/diff.js';
import { ClusterState, planChanges } from './scenario.js';
import { percentile, round } from './stats.js';

export interface DiffScaleResult {
  elements: number;
  rounds: number;
  sharedMs: { p50: number; p90: number; p99: number };
  freshMs: number;
}

export function measureDiffScale(services: number, endpoints: number, rounds: number, seed = 6): DiffScaleResult {
  const spec = { services, endpointsPerService: endpoints };
  const state = new ClusterState(spec);
  const cache = createLowerCache();
  let current = compile(state.model, state.opts, cache);
  const elements = current.tables.reduce((n, t) => n + t.sets.reduce((m, s) => m + s.elements.length, 0), 0);
  const warmup = Math.min(20, rounds);
  const changes = planChanges(spec, warmup + rounds, seed, services * endpoints + 1, new Set());
  const times: number[] = [];
  changes.forEach((change, i) => {
    state.apply(change);
    const next = compile(state.model, state.opts, cache);
    const t0 = performance.now();
    const tx = diffRulesets(current, next);
    const ms = performance.now() - t0;
    const kinds = new Set(tx.commands.map((c) => c.what));
    if (tx.commands.length === 0 || [...kinds].some((k) => k !== 'element')) throw new Error(`change ${i}: expected element commands only, got ${[...kinds].join(', ')}`);
    if (i >= warmup) times.push(ms);
    current = next;
  });
  const fresh = structuredClone(current);
  const t1 = performance.now();
  const same = diffRulesets(current, fresh);
  const freshMs = performance.now() - t1;
  if (same.commands.length !== 0) throw new Error('a deep copy of the ruleset diffs to a non-empty transaction');
  return { elements, rounds: times.length, sharedMs: { p50: round(percentile(times, 50)), p90: round(percentile(times, 90)), p99: round(percentile(times, 99)) }, freshMs: round(freshMs, 1) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [services = 10_000, endpoints = 10, rounds = 200] = process.argv.slice(2).map(Number);
  const r = measureDiffScale(services, endpoints, rounds);
  console.log(
    `[diff] ${services} services × ${endpoints} endpoints, ${r.elements} elements; one-endpoint change, unchanged element objects shared: ` +
      `p50 ${r.sharedMs.p50} ms, p90 ${r.sharedMs.p90} ms, p99 ${r.sharedMs.p99} ms over ${r.rounds} diffs; every element object fresh (no sharing): ${r.freshMs} ms`,
  );
}
