// Human-readable names for nft JSON commands, so that an error says WHICH object failed.

import type { NftJsonRoot } from './types.js';

const COMMANDS = ['add', 'replace', 'create', 'insert', 'delete', 'list', 'reset', 'flush', 'rename'];

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** e.g. `delete element ip nftproxy service-ips (3 elements: 10.0.0.1 . tcp . 80, …)`. */
export function describeItem(item: unknown): string {
  const o = obj(item);
  if (!o) return 'a non-object command';
  if ('metainfo' in o) return 'metainfo';
  const cmd = COMMANDS.find((c) => c in o) ?? 'add';
  const body = obj(o[cmd]) ?? o;
  const kind = Object.keys(body)[0] ?? '?';
  const spec = obj(body[kind]) ?? {};
  const where = [spec.family, spec.table, kind === 'table' ? spec.name : undefined].filter((x) => typeof x === 'string').join(' ');
  let name = kind === 'table' ? '' : typeof spec.name === 'string' ? ` ${spec.name}` : '';
  if (kind === 'rule') name = ` in chain ${String(spec.chain)}${typeof spec.comment === 'string' ? ` (${spec.comment})` : ''}`;
  if (kind === 'element' && Array.isArray(spec.elem)) {
    const shown = spec.elem.slice(0, 3).map((e) => JSON.stringify(e)).join(', ');
    name += ` (${spec.elem.length} element${spec.elem.length === 1 ? '' : 's'}: ${shown}${spec.elem.length > 3 ? ', …' : ''})`;
  }
  return `${cmd} ${kind} ${where}${name}`.trim();
}

/** A one-line summary of a transaction for errors that do not name a command. */
export function summarize(root: NftJsonRoot): string {
  const counts = new Map<string, number>();
  for (const item of root.nftables) {
    const o = obj(item);
    if (!o || 'metainfo' in o) continue;
    const cmd = COMMANDS.find((c) => c in o) ?? 'add';
    const kind = Object.keys(obj(o[cmd]) ?? o)[0] ?? '?';
    counts.set(`${cmd} ${kind}`, (counts.get(`${cmd} ${kind}`) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ') || 'empty';
}

const INDEX = /Parsing command array at index (\d+) failed/;

/** The index nft named in a parse error, if any. */
export function failedIndex(nftOutput: string): number | undefined {
  const m = INDEX.exec(nftOutput);
  return m ? Number(m[1]) : undefined;
}

/** Strips nft's `internal:0:0-0: ` location noise and blank lines. */
export function cleanNftError(out: string): string {
  return out
    .split('\n')
    .map((l) => l.replace(/^\S+:\d+:\d+-\d+: /, '').trim())
    .filter((l) => l.length > 0)
    .join('; ');
}
