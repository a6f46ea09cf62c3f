// The compiler's front door: cluster dump text → service model → IR.

import type { Ruleset } from '../ir/types.js';
import { loadObjects } from './model/load.js';
import { buildModel } from './model/build.js';
import type { ClusterModel, CompileOptions } from './model/types.js';
import { compile as lower, type LowerCache } from './lower.js';
import { assertInvariants, InvariantChecker } from '../ir/invariants.js';

export interface Compiled {
  model: ClusterModel;
  ruleset: Ruleset;
}

/** Parses a cluster dump (kubectl YAML List, multi-document YAML or JSON) and compiles it. Throws InputError if unusable. */
export function compileText(text: string, opts: CompileOptions): Compiled {
  const { objects } = loadObjects(text);
  return compileObjects(objects, opts);
}

export function compileObjects(objects: unknown[], opts: CompileOptions): Compiled {
  const model = buildModel(objects, opts);
  return { model, ruleset: compile(model, opts) };
}

const checkers = new WeakMap<LowerCache, InvariantChecker>();

/**
 * model → IR, checked: no set holds a key twice, no interval set overlapping intervals
 * (ir/invariants.ts; throws InvariantError). With a cache (the daemon), only what changed since
 * the previous compile is checked.
 */
export function compile(model: ClusterModel, opts: CompileOptions, cache?: LowerCache): Ruleset {
  const ruleset = lower(model, opts, cache);
  let checker: InvariantChecker | undefined;
  if (cache !== undefined) {
    checker = checkers.get(cache);
    if (checker === undefined) checkers.set(cache, (checker = new InvariantChecker()));
  }
  assertInvariants(ruleset, checker);
  return ruleset;
}
export type { ClusterModel, CompileOptions, Problem, ServicePort } from './model/types.js';
