// An in-memory applier (like knftables' Fake): holds tables, chains, rules, sets and elements as
// IR, and applies IR transactions with the kernel rules the sync engine and the diff rely on, so
// that logic can be tested without root and without a kernel:
// - all or nothing: a transaction is applied to a copy; on the first error nothing changes;
// - ENOENT: delete/flush of a missing table, chain or set, delete of a missing element, adding
//   into a missing table/chain/set, a rule or a verdict-map element naming a missing set/chain;
// - EEXIST: an element added to a map with a key it already holds, with different data (same
//   data, or a plain set: no error, as `add` in nft), and a set re-declared with another type;
// - EBUSY: deleting a set a rule still references, or a chain a rule or a map element still
//   jumps to (`delete chain` of a chain that only has rules of its own is fine: the kernel drops
//   them with it), and deleting a base chain's table is fine (everything goes with it).
// Each rule is checked against nft 1.0.6 and the kernel on the same transactions in
// test/apply/fake-vs-kernel.test.ts, so the fake cannot drift from what it stands in for.
//
// It accepts IR transactions only (what the sync engine sends); nft JSON input is refused.

import { rulesRefs } from '../../ir/references.js';
import type { Command, Transaction } from '../../ir/transaction.js';
import type { Chain, Element, Family, Rule, Ruleset, SetDef, Value } from '../../ir/types.js';
import { ApplyError, type Applier, type ApplierName, type ApplyInput, type NftJsonRoot } from './types.js';

export type Errno = 'ENOENT' | 'EEXIST' | 'EBUSY';

/** strerror(3) texts, as nft prints them after "Could not process rule:". */
const STRERROR: Record<Errno, string> = {
  ENOENT: 'No such file or directory',
  EEXIST: 'File exists',
  EBUSY: 'Device or resource busy',
};

export class FakeKernelError extends ApplyError {
  constructor(
    readonly errno: Errno,
    index: number,
    what: string,
  ) {
    const out = `Error: Could not process rule: ${STRERROR[errno]}`;
    super(`nft apply failed at command #${index} (${what}): ${STRERROR[errno]}; nothing was changed`, out, index);
    this.name = 'FakeKernelError';
  }
}

interface FakeSet {
  decl: Omit<SetDef, 'elements'>;
  /** Key identity (JSON of the key) → element. */
  elements: Map<string, Element>;
}

interface FakeTable {
  family: Family;
  name: string;
  chains: Map<string, Chain>;
  sets: Map<string, FakeSet>;
}

type State = Map<string, FakeTable>;

const tableKey = (family: Family, name: string): string => `${family} ${name}`;
const keyId = (v: Value): string => JSON.stringify(v);

function copyState(s: State): State {
  const out: State = new Map();
  for (const [k, t] of s) {
    out.set(k, {
      family: t.family,
      name: t.name,
      chains: new Map([...t.chains].map(([n, c]) => [n, { ...c, rules: c.rules.slice() }])),
      sets: new Map([...t.sets].map(([n, st]) => [n, { decl: st.decl, elements: new Map(st.elements) }])),
    });
  }
  return out;
}

function describe(c: Command): string {
  const name = 'name' in c ? ` ${c.name}` : c.what === 'chain' && c.op === 'add' ? ` ${c.chain.name}` : c.what === 'set' && c.op === 'add' ? ` ${c.set.name}` : c.what === 'element' ? ` ${c.set}` : c.what === 'rule' ? ` in chain ${c.chain}` : '';
  return `${c.op} ${c.what} ${c.family} ${c.table}${name}`;
}

/** Verdicts stored as map data reference chains too (the kernel counts them as chain uses). */
function elementChainRefs(e: Element): string[] {
  const d = e.data;
  return d !== undefined && typeof d === 'object' && 'kind' in d && (d.kind === 'jump' || d.kind === 'goto') ? [d.target] : [];
}

/** Applies one command to `s` (mutating it) or throws the errno the kernel would return. */
function applyCommand(s: State, c: Command, index: number): void {
  const fail = (errno: Errno): never => {
    throw new FakeKernelError(errno, index, describe(c));
  };
  const tk = tableKey(c.family, c.table);
  if (c.what === 'table') {
    if (c.op === 'add') {
      if (!s.has(tk)) s.set(tk, { family: c.family, name: c.table, chains: new Map(), sets: new Map() });
    } else if (!s.delete(tk)) fail('ENOENT');
    return;
  }
  const t = s.get(tk) ?? fail('ENOENT');
  const setRefs = (): Set<string> => {
    const out = new Set<string>();
    for (const ch of t.chains.values()) for (const n of rulesRefs(ch.rules).sets) out.add(n);
    return out;
  };
  switch (c.what) {
    case 'chain': {
      if (c.op === 'add') {
        const old = t.chains.get(c.chain.name);
        if (old === undefined) t.chains.set(c.chain.name, { ...c.chain, rules: [] });
        return;
      }
      const ch = t.chains.get(c.name) ?? fail('ENOENT');
      if (c.op === 'flush') {
        t.chains.set(c.name, { ...ch, rules: [] });
        return;
      }
      // Its own rules go with it; references from elsewhere keep it (EBUSY).
      const others = new Set<string>();
      for (const [n, other] of t.chains) if (n !== c.name) for (const r of rulesRefs(other.rules).chains) others.add(r);
      for (const st of t.sets.values()) for (const e of st.elements.values()) for (const n of elementChainRefs(e)) others.add(n);
      if (others.has(c.name)) fail('EBUSY');
      t.chains.delete(c.name);
      return;
    }
    case 'rule': {
      const ch = t.chains.get(c.chain) ?? fail('ENOENT');
      const refs = rulesRefs([c.rule]);
      for (const n of refs.sets) if (!t.sets.has(n)) fail('ENOENT');
      for (const n of refs.chains) if (!t.chains.has(n)) fail('ENOENT');
      ch.rules = [...ch.rules, c.rule];
      return;
    }
    case 'set': {
      if (c.op === 'add') {
        const old = t.sets.get(c.set.name);
        if (old === undefined) t.sets.set(c.set.name, { decl: c.set, elements: new Map() });
        else if (JSON.stringify([old.decl.keyType, old.decl.dataType ?? null]) !== JSON.stringify([c.set.keyType, c.set.dataType ?? null])) fail('EEXIST');
        return;
      }
      const st = t.sets.get(c.name) ?? fail('ENOENT');
      if (c.op === 'flush') {
        st.elements = new Map();
        return;
      }
      if (setRefs().has(c.name)) fail('EBUSY');
      t.sets.delete(c.name);
      return;
    }
    case 'element': {
      const st = t.sets.get(c.set) ?? fail('ENOENT');
      if (c.op === 'add') {
        for (const e of c.elements) {
          for (const n of elementChainRefs(e)) if (!t.chains.has(n)) fail('ENOENT');
          const old = st.elements.get(keyId(e.key));
          if (old !== undefined && JSON.stringify(old.data ?? null) !== JSON.stringify(e.data ?? null)) fail('EEXIST');
          if (old === undefined) st.elements.set(keyId(e.key), e);
        }
      } else {
        for (const e of c.elements) if (!st.elements.delete(keyId(e.key))) fail('ENOENT');
      }
      return;
    }
  }
}

export interface FakeApplierOptions {
  /** Which applier this stands in for (metrics and logs name it). */
  name?: ApplierName;
}

export class FakeApplier implements Applier {
  readonly name: ApplierName;
  private state: State = new Map();
  /** Every transaction that was committed, in order (failed ones are not). */
  readonly committed: Transaction[] = [];
  /** Every transaction attempted (committed or not), with the errno of those that failed. */
  readonly attempts: { tx: Transaction; errno?: Errno }[] = [];
  private failures: ((tx: Transaction) => Error | undefined)[] = [];

  constructor(opts: FakeApplierOptions = {}) {
    this.name = opts.name ?? 'cli';
  }

  async apply(input: ApplyInput): Promise<void> {
    const tx = this.ir(input);
    const next = this.run(tx);
    this.state = next;
    this.committed.push(tx);
  }

  async check(input: ApplyInput): Promise<void> {
    this.run(this.ir(input));
  }

  async listSetElements(family: Family, table: string, set: string, _isMap: boolean): Promise<unknown[] | null> {
    const st = this.state.get(tableKey(family, table))?.sets.get(set);
    if (st === undefined) return null;
    return [...st.elements.values()].map((e) => (e.data === undefined ? e.key : [e.key, e.data]));
  }

  async listJson(_command: string): Promise<NftJsonRoot> {
    throw new Error('FakeApplier: listJson is not supported (read the state with ruleset())');
  }

  close(): void {}

  /** The state as an IR ruleset (tables, sets and chains in insertion order). */
  ruleset(): Ruleset {
    return {
      tables: [...this.state.values()].map((t) => ({
        family: t.family,
        name: t.name,
        sets: [...t.sets.values()].map((s) => ({ ...s.decl, elements: [...s.elements.values()] })),
        chains: [...t.chains.values()].map((c) => ({ ...c, rules: c.rules.slice() })),
      })),
    };
  }

  /** Someone else's `flush table` (nft 1.0.6): every chain loses its rules, sets keep their elements. */
  flushTable(family: Family, table: string): void {
    const t = this.state.get(tableKey(family, table));
    if (t === undefined) throw new Error(`no table ${family} ${table}`);
    for (const [n, c] of t.chains) t.chains.set(n, { ...c, rules: [] });
  }

  /** Someone else's `delete table`. */
  deleteTable(family: Family, table: string): void {
    this.state.delete(tableKey(family, table));
  }

  /** Makes the next transactions fail (before touching anything) while `when` returns an error. */
  failWhen(when: (tx: Transaction) => Error | undefined): void {
    this.failures.push(when);
  }

  private ir(input: ApplyInput): Transaction {
    if ('nftables' in input) throw new Error('FakeApplier accepts IR transactions only, not nft JSON');
    return input;
  }

  /** The state after `tx`, computed on a copy; throws (leaving the state as it was) on any error. */
  private run(tx: Transaction): State {
    for (const f of this.failures) {
      const err = f(tx);
      if (err) {
        this.attempts.push({ tx });
        throw err;
      }
    }
    const next = copyState(this.state);
    try {
      tx.commands.forEach((c, i) => applyCommand(next, c, i));
    } catch (err) {
      this.attempts.push({ tx, ...(err instanceof FakeKernelError ? { errno: err.errno } : {}) });
      throw err;
    }
    this.attempts.push({ tx });
    return next;
  }
}
