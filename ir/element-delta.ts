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

const hints = new WeakMap<readonly Element[], ElementDeltaHint>();

export function recordElementDelta(after: readonly Element[], hint: ElementDeltaHint): void {
  hints.set(after, hint);
}

export function elementDeltaHint(before: readonly Element[], after: readonly Element[]): ElementDeltaHint | undefined {
  const h = hints.get(after);
  return h && h.base === before ? h : undefined;
}

/** The hint recorded for `after`, whatever its base (the invariant checker follows chains of them). */
export function elementDeltaHintOf(after: readonly Element[]): ElementDeltaHint | undefined {
  return hints.get(after);
}
