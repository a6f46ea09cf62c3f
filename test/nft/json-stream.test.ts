// The streaming encoder (transactionToJsonChunks/Text): the same text as JSON.stringify of the
// validated JSON tree, for full syncs, partial syncs and every feature; the same refusals at the
// same command index; and, in private namespaces, the kernel holds the same ruleset whether the
// text came streamed through both appliers or from the tree through `nft -j -f`.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, NEEDS_ROOT } from '../harness/privileges.js';
import { generateCluster, podIp } from '../../bench/generate.js';
import { compileObjects, compileText } from '../../compiler/index.js';
import { NftJsonError, transactionToJson, transactionToJsonChunks, transactionToJsonText } from '../../compiler/nft/json.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { diffRulesets } from '../../ir/diff.js';
import { fullTransaction, type Transaction } from '../../ir/transaction.js';
import { CliApplier } from '../../runtime/apply/cli.js';
import { loadLibnftables } from '../../runtime/apply/index.js';
import type { Applier } from '../../runtime/apply/types.js';
import { createNamespace, destroyNamespace, nftList, nftLoad, nsExecArgv } from '../harness/netns.js';
import { RemoteApplier } from '../apply/remote-applier.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/cluster.yaml', import.meta.url));
const opts: CompileOptions = { ...defaultCompileOptions, nodeName: 'node-a', clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/64'] };

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A generated cluster with NodePorts, plus the example (dual-stack, SCTP, ETP Local, no endpoints). */
function bigObjects(): Obj[] {
  return generateCluster({ services: 300, endpointsPerService: (i) => 1 + (i % 12), nodePortEvery: 7, nodes: ['node-a', 'node-b'] }) as Obj[];
}

function transactions(): { name: string; tx: Transaction }[] {
  const example = compileText(readFileSync(EXAMPLE, 'utf8'), opts).ruleset;
  const objs = bigObjects();
  const before = compileObjects(objs, opts).ruleset;
  const after = compileObjects(
    objs.map((o) => (o.kind === 'EndpointSlice' && o.metadata.name === 'svc-5-abcde' ? { ...o, endpoints: [{ ...o.endpoints[0], addresses: [podIp(999_999)] }] } : o)).filter((o) => o.metadata.name !== 'svc-9'),
    opts,
  ).ruleset;
  return [
    { name: 'full sync of the example', tx: fullTransaction(example) },
    { name: 'full sync of 300 services', tx: fullTransaction(before) },
    { name: 'partial sync (an endpoint replaced, a service deleted)', tx: diffRulesets(before, after) },
  ];
}

describe('streaming JSON encoder', () => {
  it.each(transactions())('$name: the same text as JSON.stringify(transactionToJson(tx))', ({ tx }) => {
    expect(tx.commands.length).toBeGreaterThan(0);
    const text = transactionToJsonText(tx);
    expect(text).toBe(JSON.stringify(transactionToJson(tx)));
    // One piece per command between the brackets, so no piece holds the whole transaction.
    expect([...transactionToJsonChunks(tx)]).toHaveLength(tx.commands.length + 2);
  });

  it('refuses an invalid command as transactionToJson does, at the same index, before emitting its text', () => {
    const { tx } = transactions()[0] as { tx: Transaction };
    const i = tx.commands.findIndex((c) => c.what === 'element');
    const bad: Transaction = { commands: tx.commands.map((c, j) => (j === i && c.what === 'element' ? { ...c, elements: [{ ...c.elements[0]!, key: 'not an address' }] } : c)) };
    const expected = (() => {
      try {
        transactionToJson(bad);
      } catch (err) {
        return err as NftJsonError;
      }
      throw new Error('transactionToJson accepted an invalid element');
    })();
    expect(expected).toBeInstanceOf(NftJsonError);
    const emitted: string[] = [];
    let thrown: unknown;
    try {
      for (const piece of transactionToJsonChunks(bad)) emitted.push(piece);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(NftJsonError);
    expect((thrown as NftJsonError).commandIndex).toBe(i);
    expect((thrown as NftJsonError).message).toBe(expected.message);
    expect(emitted).toHaveLength(i + 1); // the opening bracket and the commands before it
  });
});

const hasLib = loadLibnftables() !== null;
const kinds: { name: 'cli' | 'lib'; make: (ns: string) => Promise<Applier> }[] = [
  { name: 'cli', make: async (ns) => new CliApplier({ wrap: nsExecArgv(ns) }) },
  ...(hasLib ? [{ name: 'lib' as const, make: (ns: string) => RemoteApplier.start(ns, 'lib') }] : []),
];

(isRoot ? describe.each(kinds) : describe.skip.each(kinds))('the $name applier sends the streamed text: the kernel holds what the tree loads' + (isRoot ? '' : ` [needs root: ${NEEDS_ROOT.bigTransactions}]`), ({ name, make }) => {
  let streamed: string;
  let reference: string;
  let applier: Applier | undefined;
  beforeAll(async () => {
    streamed = await createNamespace(`stream-${name}`);
    reference = await createNamespace(`stream-${name}-ref`);
    applier = await make(streamed);
  });
  afterAll(async () => {
    applier?.close();
    await destroyNamespace(streamed);
    await destroyNamespace(reference);
  });

  it('full sync, then a partial sync', async () => {
    const [example, full, partial] = transactions() as unknown as [{ tx: Transaction }, { tx: Transaction }, { tx: Transaction }];
    for (const { tx } of [example, full, partial]) {
      await applier!.apply(tx);
      await nftLoad(reference, transactionToJson(tx));
      expect(await nftList(streamed)).toBe(await nftList(reference));
    }
    expect(await nftList(streamed)).toMatch(/svc-lb-/);
  }, 120_000);
});
