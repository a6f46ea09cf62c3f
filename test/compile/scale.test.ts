// The static-program principle: the number of chains and rules does not depend on the number
// of services or endpoints; services and endpoints only add set/map elements.
import { describe, expect, it } from 'vitest';
import { compileObjects } from '../../compiler/index.js';
import { defaultCompileOptions } from '../../compiler/model/types.js';
import { rulesetStats } from '../../ir/stats.js';
import { generateCluster } from '../../bench/generate.js';

const opts = { ...defaultCompileOptions, clusterCIDRs: ['10.128.0.0/9'], nodeName: 'node-a' };

function stats(services: number) {
  const objects = generateCluster({ services, endpointsPerService: (i) => 1 + (i % 10), nodePortEvery: 7 });
  const { model, ruleset } = compileObjects(objects, opts);
  expect(model.problems).toEqual([]);
  return rulesetStats(ruleset);
}

describe('static program, dynamic maps', () => {
  it('200 and 2,000 services give the same count of chains and rules', () => {
    const small = stats(200);
    const large = stats(2000);
    expect(large.chains).toBe(small.chains);
    expect(large.rules).toBe(small.rules);
    expect(large.sets + large.maps).toBe(small.sets + small.maps);
    // ...while the elements carry the services and endpoints.
    expect(large.elements).toBeGreaterThan(9 * small.elements);
  });

  it('one more endpoint than any other service: one lb chain and one slot, no power-of-two jump', () => {
    const a = compileObjects(generateCluster({ services: 50, endpointsPerService: 3 }), opts);
    const b = compileObjects(generateCluster({ services: 50, endpointsPerService: (i) => (i === 0 ? 4 : 3) }), opts);
    const sa = rulesetStats(a.ruleset);
    const sb = rulesetStats(b.ruleset);
    // svc-lb-4 (one numgen rule) and svc-ep-3 (one DNAT rule) with its address map.
    expect(sb.chains).toBe(sa.chains + 2);
    expect(sb.rules).toBe(sa.rules + 1 + 1);
    expect(sb.sets + sb.maps).toBe(sa.sets + sa.maps + 1);
    expect(sb.elements).toBe(sa.elements + 1 + 1); // slot address + hairpin (the port is per service)
  });

  it('one more endpoint in a service below the largest count adds elements and at most one lb chain', () => {
    const a = compileObjects(generateCluster({ services: 50, endpointsPerService: (i) => (i === 1 ? 9 : 3) }), opts);
    const b = compileObjects(generateCluster({ services: 50, endpointsPerService: (i) => (i === 1 ? 9 : i === 0 ? 4 : 3) }), opts);
    const sa = rulesetStats(a.ruleset);
    const sb = rulesetStats(b.ruleset);
    expect(sb.chains).toBe(sa.chains + 1); // svc-lb-4
    expect(sb.rules).toBe(sa.rules + 1);
    expect(sb.sets + sb.maps).toBe(sa.sets + sa.maps);
  });

  it('is linear in one service\'s endpoints: lb chains only for the counts in use, slots up to the largest', () => {
    const { ruleset } = compileObjects(generateCluster({ services: 20, endpointsPerService: (i) => (i === 0 ? 5000 : 2 + (i % 3)) }), opts);
    const t = ruleset.tables.find((x) => x.family === 'ip')!;
    const lb = t.chains.filter((c) => /^svc-lb-\d+$/.test(c.name)).map((c) => Number(c.name.split('-')[2])).sort((x, y) => x - y);
    expect(lb).toEqual([2, 3, 4, 5000]);
    expect(t.chains.filter((c) => /^svc-ep-\d+$/.test(c.name))).toHaveLength(5000);
    expect(t.sets.filter((s) => /^svc-addr-\d+$/.test(s.name))).toHaveLength(5000);
    // numgen vmap entries: the sum of the counts in use, not S²/2.
    const entries = t.chains.flatMap((c) => c.rules).flatMap((r) => r.stmts).reduce((n, st) => n + (st.kind === 'anonvmap' ? st.entries.length : 0), 0);
    expect(entries).toBe(2 + 3 + 4 + 5000);
  });
});
