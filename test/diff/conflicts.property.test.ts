// KERNEL property (issue 11, acceptance 4): random sequences of clusters whose Services share and
// fight over keys (own cluster IP listed twice, shared external/LB IPs, cluster-IP and nodePort
// collisions, nested and 0.0.0.0/0 source ranges, ownership moving in one change), compiled the
// daemon's way (one LowerCache, so the diff uses element-delta hints). Loading the first state and
// then each diff leaves the kernel exactly as a fresh load of the last state. Private namespaces.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../compiler/index.js';
import { createLowerCache } from '../../compiler/lower.js';
import { buildModel } from '../../compiler/model/build.js';
import { rulesetToJson, transactionToJson } from '../../compiler/nft/json.js';
import { diffRulesets } from '../../ir/diff.js';
import type { Ruleset } from '../../ir/types.js';
import { canRunKernelTests } from '../nft/netns.js';
import { loadAndListJson } from './kernel-listing.js';
import { collidingSequenceArb } from '../model/conflict-arbitraries.js';
import { objectsOf, reproOptions } from '../model/conflict-reproducers.js';

const kernel = canRunKernelTests();


describe.skipIf(!kernel)('KERNEL: colliding keys, incremental == fresh', () => {
  it('old state + each diff == fresh load of the last state', () => {
    fc.assert(
      fc.property(collidingSequenceArb(2, 4), (steps) => {
        const cache = createLowerCache();
        const rulesets: Ruleset[] = steps.map((specs) => compile(buildModel(objectsOf(specs), reproOptions), reproOptions, cache));
        const files: [string, string][] = [['s0.json', JSON.stringify(rulesetToJson(rulesets[0]!))]];
        for (let i = 1; i < rulesets.length; i++) files.push([`d${i}.json`, JSON.stringify(transactionToJson(diffRulesets(rulesets[i - 1]!, rulesets[i]!)))]);
        const incremental = loadAndListJson(files);
        const fresh = loadAndListJson([['last.json', JSON.stringify(rulesetToJson(rulesets[rulesets.length - 1]!))]]);
        expect(incremental).toBe(fresh);
      }),
      { numRuns: 25 },
    );
  }, 600_000);
});
