// Loads nft JSON files in order in one fresh `unshare -n` namespace and returns the ruleset in a
// form two loads can be compared by: `nft -j list ruleset` without handles, elements sorted, and
// objects sorted by table, kind and name (rules keep their order inside their chain). Chain and
// set creation order differ between an incremental load and a fresh one; nothing else may.

import { expect } from 'vitest';
import { runInFreshNetns } from '../nft/netns.js';

type Obj = Record<string, unknown>;
const KIND_ORDER = ['table', 'set', 'map', 'chain', 'rule'];

export function normaliseJsonListing(json: string): string {
  const root = JSON.parse(json) as { nftables: Obj[] };
  const items: { kind: string; body: Obj }[] = [];
  for (const item of root.nftables) {
    const kind = Object.keys(item)[0] as string;
    if (kind === 'metainfo') continue;
    const body = { ...(item[kind] as Obj) };
    delete body['handle'];
    if (Array.isArray(body['elem'])) body['elem'] = [...(body['elem'] as unknown[])].map((e) => JSON.stringify(e)).sort();
    items.push({ kind, body });
  }
  const sortKey = (i: { kind: string; body: Obj }): string =>
    `${String(i.body['family'])} ${String(i.kind === 'table' ? i.body['name'] : i.body['table'])} ${KIND_ORDER.indexOf(i.kind)} ${String(i.kind === 'rule' ? i.body['chain'] : i.body['name'])}`;
  items.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  return items.map((i) => `${i.kind} ${JSON.stringify(i.body)}`).join('\n');
}

export function loadAndListJson(files: [string, string][]): string {
  const script = [...files.map(([name]) => `nft -j -f ${name}`), 'nft -j list ruleset'].join('\n');
  const r = runInFreshNetns(script, Object.fromEntries(files));
  expect(r.stderr, `nft failed (exit ${r.code}) on ${files.map(([n]) => n).join(', ')}`).toBe('');
  expect(r.code).toBe(0);
  return normaliseJsonListing(r.stdout);
}
