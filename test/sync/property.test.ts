// Property: for random sequences of small rulesets (elements of a verdict map, a data map and a
// set; rules of a few chains; chains and sets appearing/disappearing while verdict-map elements
// and rules reference them; a set declaration and a base chain spec changing), loading the first
// state in full and then each diff in turn leaves the kernel exactly as a fresh full load of the
// last state. Both loads happen in private namespaces.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffRulesets } from '../../ir/diff.js';
import { fullTransaction, rewriteTransaction } from '../../ir/transaction.js';
import type { Ruleset } from '../../ir/types.js';
import { namespacePair, normalizedListing } from './kernel.js';
import { build, saddr, shape, T } from './shapes.js';

describe('diff property: full(first) + diffs == full(last), in the kernel', () => {
  const p = namespacePair('prop-incr', 'prop-fresh');

  it('holds for random state sequences', async () => {
    let runs = 0;
    let commands = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(shape, { minLength: 2, maxLength: 5 }), async (shapes) => {
        runs++;
        const states = shapes.map(build);
        await p.a.apply(fullTransaction(states[0]!));
        for (let i = 1; i < states.length; i++) {
          const tx = diffRulesets(states[i - 1]!, states[i]!);
          commands += tx.commands.length;
          if (tx.commands.length > 0) await p.a.apply(tx);
        }
        await p.b.apply(fullTransaction(states[states.length - 1]!));
        expect(await normalizedListing(p.nsA)).toEqual(await normalizedListing(p.nsB));
      }),
      { numRuns: 30, endOnFailure: true },
    );
    console.log(`[property] ${runs} sequences, ${commands} diff commands applied`);
  }, 240_000);
});

describe('rewrite property: full(first) + rewrites == full(last), dynamic sets kept', () => {
  const p = namespacePair('prop-rewr', 'prop-fresh2');

  // A packet-path set (like an affinity set) that a rule updates: its elements must survive.
  const withAffinity = (rs: Ruleset): Ruleset => ({
    tables: rs.tables.map((t) => ({
      ...t,
      sets: [...t.sets, { name: 'aff', keyType: ['ipv4_addr'], flags: ['timeout'], timeout: 600, elements: [], dynamic: true }],
      chains: [...t.chains, { name: 'affc', rules: [{ stmts: [{ kind: 'setupdate', set: 'aff', elem: saddr }] }] }],
    })),
  });

  it('holds for random state sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(shape, { minLength: 2, maxLength: 4 }), async (shapes) => {
        const states = shapes.map(build).map(withAffinity);
        await p.a.apply(fullTransaction(states[0]!));
        // What the packet path would have remembered.
        await p.a.apply({ commands: [{ op: 'add', what: 'element', family: 'ip', table: T, set: 'aff', elements: [{ key: '10.9.9.9', timeout: 600 }] }] });
        for (let i = 1; i < states.length; i++) await p.a.apply(rewriteTransaction(states[i - 1]!, states[i]!));
        await p.b.apply(fullTransaction(states[states.length - 1]!));
        expect(await normalizedListing(p.nsA, { dropSets: ['aff'] })).toEqual(await normalizedListing(p.nsB, { dropSets: ['aff'] }));
        const kept = await p.a.listSetElements('ip', T, 'aff', false);
        expect(JSON.stringify(kept)).toContain('10.9.9.9');
      }),
      { numRuns: 20, endOnFailure: true },
    );
  }, 240_000);
});
