// A listing of a namespace's nftables ruleset that two equivalent loads share even when their
// endpoints sit in different slots. The daemon keeps an endpoint in its slot across changes
// (compiler/fragment.ts stableSlots) while a fresh compile numbers them in order, so the per-slot
// maps (`<pool>-addr-I`, mixed pools' `<pool>-port-I`) are folded into one item per pool: for
// each key, the sorted list of (address, port) its slots hold. Everything else is compared as
// `nft -j list ruleset` prints it (handles dropped, elements sorted, the canary set dropped).

import { exec } from '../harness/netns.js';

type Obj = Record<string, unknown>;

const SLOT = /^(.+)-(addr|port)-(\d+)$/;

export async function canonicalListing(ns: string, dropSets: string[] = []): Promise<string> {
  const root = JSON.parse((await exec(ns, ['nft', '-j', 'list', 'ruleset'])).stdout) as { nftables: Obj[] };
  const drop = new Set(dropSets);
  const out: string[] = [];
  // pool → key → slot → { addr, port }
  const pools = new Map<string, Map<string, Map<number, { addr?: string; port?: string }>>>();
  for (const item of root.nftables) {
    const kind = Object.keys(item)[0] as string;
    if (kind === 'metainfo') continue;
    const body = { ...(item[kind] as Obj) };
    delete body.handle;
    if ((kind === 'set' || kind === 'map') && drop.has(body.name as string)) continue;
    const m = kind === 'map' ? SLOT.exec(body.name as string) : null;
    if (m && Array.isArray(body.elem)) {
      const pool = `${body.family as string} ${m[1] as string}`;
      let keys = pools.get(pool);
      if (!keys) pools.set(pool, (keys = new Map()));
      for (const e of body.elem as unknown[][]) {
        const k = JSON.stringify(e[0]);
        let slots = keys.get(k);
        if (!slots) keys.set(k, (slots = new Map()));
        const slot = Number(m[3]);
        const cell = slots.get(slot) ?? {};
        cell[m[2] as 'addr' | 'port'] = JSON.stringify(e[1]);
        slots.set(slot, cell);
      }
      delete body.elem;
    }
    if (Array.isArray(body.elem)) body.elem = [...body.elem].map((e) => JSON.stringify(e)).sort();
    out.push(`${kind} ${JSON.stringify(body)}`);
  }
  for (const [pool, keys] of pools) {
    for (const [k, slots] of keys) {
      const cells = [...slots.values()].map((c) => `${c.addr ?? ''}:${c.port ?? ''}`).sort();
      out.push(`slots ${pool} ${k} ${cells.join(' ')}`);
    }
  }
  // Rules keep their order within a chain: sort only by a stable key that includes it.
  return out
    .map((line, i) => ({ line, key: line.startsWith('rule ') ? `${line.slice(0, 5)}${ruleChain(line)} ${String(i).padStart(8, '0')}` : line }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((x) => x.line)
    .join('\n');
}

function ruleChain(line: string): string {
  const b = JSON.parse(line.slice(5)) as Obj;
  return `${b.family as string} ${b.table as string} ${b.chain as string}`;
}
