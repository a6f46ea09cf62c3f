// KERNEL (issue 11, acceptance 3 and 4): every reproducer of a key conflict compiles to a
// transaction the kernel accepts, with the conflict reported and resolved as the model says; every
// change reproducer's diff, applied on top of the old state, leaves exactly what a fresh load of
// the new state leaves. Each load runs in its own `unshare -n` namespace.

import { describe, expect, it } from 'vitest';
import { compile, compileObjects } from '../../compiler/index.js';
import { createLowerCache } from '../../compiler/lower.js';
import { buildModel } from '../../compiler/model/build.js';
import { rulesetToJson, transactionToJson } from '../../compiler/nft/json.js';
import { diffRulesets } from '../../ir/diff.js';
import { checkRuleset } from '../../ir/invariants.js';
import { predictedEndpoints, traceConnection } from '../../ir/interpret.js';
import { canRunKernelTests, runInFreshNetns } from '../nft/netns.js';
import { loadAndListJson } from './kernel-listing.js';
import { changeReproducers, objectsOf, reproOptions, stateReproducers, type Spec } from '../model/conflict-reproducers.js';

const kernel = canRunKernelTests();

function compileSpecs(specs: Spec[]) {
  const c = compileObjects(objectsOf(specs), reproOptions);
  expect(c.model.problems).toEqual([]);
  expect(checkRuleset(c.ruleset)).toEqual([]);
  return c;
}


describe.skipIf(!kernel)('KERNEL: key conflicts (issue 11)', () => {
  for (const r of stateReproducers) {
    it(`compile: ${r.name} — resolved, reported, accepted by the kernel`, () => {
      const { model, ruleset } = compileSpecs(r.specs);
      expect(model.conflicts.map((c) => c.key).sort()).toEqual([...r.conflictKeys].sort());
      const listing = loadAndListJson([['full.json', JSON.stringify(rulesetToJson(ruleset))]]);
      expect(listing).toContain('table {"family":"ip","name":"nftproxy"}');
    });
  }

  it("trace and the kernel agree: kube-dns keeps 10.96.0.10:53/tcp, the hijacker keeps its own cluster IP", () => {
    const r = stateReproducers[0]!;
    const { ruleset } = compileSpecs(r.specs);
    const reach = (dst: string, dport: number) =>
      [...predictedEndpoints(traceConnection(ruleset, { family: 'ip', src: '10.244.9.9', dst, proto: 'tcp', dport }, { localAddresses: ['192.168.0.1'], sourceIsLocal: false })).keys()].sort();
    expect(reach('10.96.0.10', 53)).toEqual(['10.244.1.1:5353', '10.244.1.2:5353']);
    expect(reach('10.96.5.5', 53)).toEqual(['10.244.2.1:8053']);
    // The kernel holds exactly one element for the key, kube-dns's.
    const k = runInFreshNetns('nft -j -f full.json && nft list map ip nftproxy service-ips', { 'full.json': JSON.stringify(rulesetToJson(ruleset)) });
    expect(k.stderr).toBe('');
    const lines = k.stdout.match(/10\.96\.0\.10 \. tcp \. 53 comment "[^"]*"/g) ?? [];
    expect(lines).toEqual(['10.96.0.10 . tcp . 53 comment "kube-system/kube-dns:dns-tcp cluster IP"']);
  });

  for (const r of changeReproducers) {
    it(`diff: ${r.name} — old + diff == fresh new`, () => {
      const before = compileSpecs(r.before).ruleset;
      const after = compileSpecs(r.after).ruleset;
      const tx = diffRulesets(before, after);
      const full = (rs: typeof before) => JSON.stringify(rulesetToJson(rs));
      const incremental = loadAndListJson([
        ['old.json', full(before)],
        ['delta.json', JSON.stringify(transactionToJson(tx))],
      ]);
      const fresh = loadAndListJson([['new.json', full(after)]]);
      expect(incremental).toBe(fresh);
      // The daemon's way: one LowerCache across both compiles (memoised fragments, element-delta
      // hints for the diff, the incremental invariant check).
      const cache = createLowerCache();
      const b2 = compile(buildModel(objectsOf(r.before), reproOptions), reproOptions, cache);
      const a2 = compile(buildModel(objectsOf(r.after), reproOptions), reproOptions, cache);
      const viaCache = loadAndListJson([
        ['old.json', full(b2)],
        ['delta.json', JSON.stringify(transactionToJson(diffRulesets(b2, a2)))],
      ]);
      expect(viaCache).toBe(fresh);
    });
  }
});
