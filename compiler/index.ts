// The compiler's front door: cluster dump text → service model → IR.

import type { Ruleset } from '../ir/types.js';
import { loadObjects } from './model/load.js';
import { buildModel } from './model/build.js';
import type { ClusterModel, CompileOptions } from './model/types.js';
import { compile } from './lower.js';

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

export { compile } from './lower.js';
export type { ClusterModel, CompileOptions, Problem, ServicePort } from './model/types.js';
