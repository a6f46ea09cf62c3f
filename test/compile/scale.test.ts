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

  it('one more endpoint in a service adds elements, not chains or rules', () => {
    const a = compileObjects(generateCluster({ services: 50, endpointsPerService: 3 }), opts);
    const b = compileObjects(generateCluster({ services: 50, endpointsPerService: (i) => (i === 0 ? 4 : 3) }), opts);
    const sa = rulesetStats(a.ruleset);
    const sb = rulesetStats(b.ruleset);
    expect(sb.chains).toBe(sa.chains);
    expect(sb.rules).toBe(sa.rules);
    expect(sb.elements).toBe(sa.elements + 1 + 1); // slot address + hairpin (the port is per service)
  });
});
