// Micro-measurement of the diff at the scale of the targets (10k services × 10 endpoints, ~210k
// elements). Printed, not asserted: timing on a shared 2-core machine is not a test oracle. The
// assertions check that the diff found exactly the one change.

import { describe, expect, it } from 'vitest';
import { diffRulesets } from '../../ir/diff.js';
import type { Ruleset } from '../../ir/types.js';
import { endpointIp, layout, mapSet } from './fixtures.js';

const SERVICES = 10_000;
const ENDPOINTS = 10;

function oneEndpointChange(rs: Ruleset, n: number): Ruleset {
  const idx = (n * 7919) % (SERVICES * ENDPOINTS);
  return mapSet(rs, 'backend-addr', (s) => {
    const elements = s.elements.slice();
    const e = elements[idx]!;
    elements[idx] = { ...e, data: endpointIp(idx, n % 10, 1 + (n % 3)) };
    return { ...s, elements };
  });
}

describe('diff at 10k services × 10 endpoints', () => {
  it('measures a one-endpoint change', () => {
    let current = layout(SERVICES, ENDPOINTS);
    const elements = current.tables[0]!.sets.reduce((n, s) => n + s.elements.length, 0);
    const rounds = 200;
    // Warm-up (JIT), then measure: each round diffs the previous desired state against the next,
    // like the sync engine does. Structural sharing: unchanged element objects are reused.
    for (let i = 0; i < 20; i++) {
      const next = oneEndpointChange(current, i);
      diffRulesets(current, next);
      current = next;
    }
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const next = oneEndpointChange(current, 1000 + i);
      const t0 = performance.now();
      const tx = diffRulesets(current, next);
      times.push(performance.now() - t0);
      expect(tx.commands.map((c) => `${c.op} ${c.what}`)).toEqual(['delete element', 'add element']);
      current = next;
    }
    // Worst case for the walk: every element object is fresh (a compiler without sharing).
    const fresh = structuredClone(oneEndpointChange(current, 4242));
    const t1 = performance.now();
    const txFresh = diffRulesets(current, fresh);
    const freshMs = performance.now() - t1;
    expect(txFresh.commands).toHaveLength(2);
    times.sort((a, b) => a - b);
    const q = (p: number): string => (times[Math.floor(p * (times.length - 1))] as number).toFixed(3);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    console.log(
      `[diff] ${elements} elements, one-endpoint change, unchanged element objects shared: ` +
        `p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, mean ${mean.toFixed(3)} ms over ${rounds} diffs; ` +
        `every element object fresh (no sharing): ${freshMs.toFixed(1)} ms`,
    );
  });
});
