// bench/diff-scale.ts (the diff at scale, formerly a timed unit test) keeps working: run small, its
// own checks (element commands only, a deep copy diffs to nothing) pass. No timing is asserted.
import { describe, expect, it } from 'vitest';
import { measureDiffScale } from '../../bench/diff-scale.js';

describe('bench/diff-scale', () => {
  it('runs a chain of one-endpoint diffs and the no-sharing worst case', () => {
    const r = measureDiffScale(40, 3, 5);
    expect(r.rounds).toBe(5);
    expect(r.elements).toBeGreaterThan(40 * 3);
    expect(r.sharedMs.p50).toBeGreaterThanOrEqual(0);
  });
});
