// A hint a compiler may leave for the diff: "this element array is that one plus these elements
// minus those". Compilers that maintain sets incrementally know the change exactly; with the hint
// the diff of a set costs O(change) instead of a walk over the whole array. It never changes the
// result: the diff resolves hinted candidates exactly as it resolves those it finds by walking.

import type { Element } from './types.js';

export interface ElementDeltaHint {
  base: readonly Element[];
  added: readonly Element[];
  removed: readonly Element[];
}

/**
 * The base is held weakly. A strong base made a chain: every version of a set kept the one it was
 * derived from alive through its hint, so a daemon under churn kept every version of every changed
 * set (70 MB per 2,000 changes at 2,000 services). A hint is only ever used with its base as
 * `before`, which the caller then holds, so a collected base is a hint nobody can use.
 */
interface StoredHint {
  base: WeakRef<readonly Element[]>;
  added: readonly Element[];
  removed: readonly Element[];
}

const hints = new WeakMap<readonly Element[], StoredHint>();

export function recordElementDelta(after: readonly Element[], hint: ElementDeltaHint): void {
  hints.set(after, { base: new WeakRef(hint.base), added: hint.added, removed: hint.removed });
}

export function elementDeltaHint(before: readonly Element[], after: readonly Element[]): ElementDeltaHint | undefined {
  const h = hints.get(after);
  return h && h.base.deref() === before ? { base: before, added: h.added, removed: h.removed } : undefined;
}

/** The hint recorded for `after`, whatever its base (the invariant checker follows chains of them). */
export function elementDeltaHintOf(after: readonly Element[]): ElementDeltaHint | undefined {
  const h = hints.get(after);
  const base = h?.base.deref();
  return h && base ? { base, added: h.added, removed: h.removed } : undefined;
}
