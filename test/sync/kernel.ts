// Kernel-side helpers for the apply/sync tests: listings of a test namespace, normalised for
// comparison (no handles, set elements sorted, objects sorted by kind and name, rule order kept).

import { afterAll, beforeAll } from 'vitest';
import { CliApplier } from '../../runtime/apply/cli.js';
import { createNamespace, destroyNamespace, exec, nsExecArgv } from '../harness/netns.js';

type Obj = Record<string, unknown>;

const KIND_ORDER = ['table', 'set', 'map', 'chain', 'rule'];

export async function rawListing(ns: string): Promise<string> {
  return (await exec(ns, ['nft', '-a', 'list', 'ruleset'])).stdout;
}

export async function normalizedListing(ns: string, opts: { dropSets?: string[] } = {}): Promise<string> {
  const root = JSON.parse((await exec(ns, ['nft', '-j', 'list', 'ruleset'])).stdout) as { nftables: Obj[] };
  const drop = new Set(opts.dropSets ?? []);
  const items: { kind: string; body: Obj }[] = [];
  for (const item of root.nftables) {
    const kind = Object.keys(item)[0] as string;
    if (kind === 'metainfo') continue;
    const body = { ...(item[kind] as Obj) };
    delete body.handle;
    if ((kind === 'set' || kind === 'map') && drop.has(body.name as string)) continue;
    if (Array.isArray(body.elem)) body.elem = [...body.elem].map((e) => JSON.stringify(e)).sort();
    items.push({ kind, body });
  }
  const sortKey = (i: { kind: string; body: Obj }): string =>
    `${i.body.family} ${i.kind === 'table' ? i.body.name : i.body.table} ${KIND_ORDER.indexOf(i.kind)} ${i.kind === 'rule' ? i.body.chain : i.body.name}`;
  // Array.prototype.sort is stable: rules keep their order inside a chain.
  items.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  return items.map((i) => `${i.kind} ${JSON.stringify(i.body)}`).join('\n');
}

/**
 * Two private namespaces, each with a CLI applier (registered in the calling describe's hooks):
 * one updated step by step, one loaded fresh.
 */
export function namespacePair(labelA: string, labelB: string) {
  const pair = {} as { nsA: string; nsB: string; a: CliApplier; b: CliApplier };
  beforeAll(async () => {
    pair.nsA = await createNamespace(labelA);
    pair.nsB = await createNamespace(labelB);
    pair.a = new CliApplier({ wrap: nsExecArgv(pair.nsA) });
    pair.b = new CliApplier({ wrap: nsExecArgv(pair.nsB) });
  });
  afterAll(async () => {
    pair.a?.close();
    pair.b?.close();
    await destroyNamespace(pair.nsA);
    await destroyNamespace(pair.nsB);
  });
  return pair;
}
