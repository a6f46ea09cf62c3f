// The golden dump: examples/cluster.yaml compiled to nft text, checked in as examples/cluster.nft,
// so that every change of the layout shows up in a review as a diff of that file.
//
// Regenerate after an intended layout change (then review and commit the diff):
//   UPDATE_GOLDEN=1 npx vitest run test/golden

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileText } from '../../compiler/index.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { rulesetToText } from '../../compiler/nft/text.js';
import { describeInNetns } from '../harness/privileges.js';
import { inNewNetns } from '../iptables/unshare.js';

const root = path.resolve(import.meta.dirname, '../..');
const SOURCE = path.join(root, 'examples/cluster.yaml');
const GOLDEN = path.join(root, 'examples/cluster.nft');
/** The README's example: `nftproxy compile examples/cluster.yaml --node-name node-a --cluster-cidr 10.244.0.0/16`. */
const OPTIONS: CompileOptions = { ...defaultCompileOptions, nodeName: 'node-a', clusterCIDRs: ['10.244.0.0/16'] };
const HEADER = [
  '# Generated from examples/cluster.yaml (node node-a, cluster CIDR 10.244.0.0/16) by test/golden.',
  '# Do not edit: regenerate with `UPDATE_GOLDEN=1 npx vitest run test/golden` and review the diff.',
  '',
].join('\n');

const current = (): string => HEADER + rulesetToText(compileText(readFileSync(SOURCE, 'utf8'), OPTIONS).ruleset);

describe('golden dump of examples/cluster.yaml', () => {
  it('examples/cluster.nft is what the compiler emits now', () => {
    const text = current();
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, text);
    expect(text, 'the layout changed: regenerate with UPDATE_GOLDEN=1 npx vitest run test/golden and review the diff').toBe(readFileSync(GOLDEN, 'utf8'));
  });
});

describeInNetns('golden dump in nft 1.0.6', () => {
  it('loads as it is (nft -f in a private namespace)', () => {
    const r = inNewNetns('nft -f "$D/cluster.nft" && nft list ruleset', { 'cluster.nft': readFileSync(GOLDEN, 'utf8') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/table ip /);
  });
});
