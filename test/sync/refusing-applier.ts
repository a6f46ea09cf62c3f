// Test-only: an applier that makes the REAL kernel refuse every transaction (apply and check)
// that programs a "poisoned" address, the way it refused the kube-dns conflict: next to
// each verdict-map element whose key holds an address starting with the poison prefix, it adds
// the same key with another verdict, and the kernel answers `File exists`. The compiler cannot
// see this (its output is valid), so it stands for any refusal we did not foresee (a kernel
// limit, a bug of ours). Everything else passes through unchanged.

import type { Command, Transaction } from '../../ir/transaction.js';
import type { Element, Value, Verdict } from '../../ir/types.js';
import type { Applier, ApplyInput } from '../../runtime/apply/types.js';

const mentions = (v: Value, prefix: string): boolean =>
  typeof v === 'string' ? v.startsWith(prefix) : typeof v === 'object' && 'concat' in v ? v.concat.some((p) => mentions(p, prefix)) : false;

const isVerdict = (d: Element['data']): d is Verdict => typeof d === 'object' && d !== null && 'kind' in d;

/** `tx` plus a clashing element for every poisoned verdict-map element it adds. */
export function poison(tx: Transaction, prefix: string): Transaction {
  const extra: Command[] = [];
  for (const c of tx.commands) {
    if (c.op !== 'add' || c.what !== 'element') continue;
    const bad = c.elements.filter((e) => isVerdict(e.data) && mentions(e.key, prefix));
    if (bad.length === 0) continue;
    extra.push({ ...c, elements: bad.map((e) => ({ key: e.key, data: (e.data as Verdict).kind === 'drop' ? { kind: 'accept' } : { kind: 'drop' } })) });
  }
  return extra.length === 0 ? tx : { commands: [...tx.commands, ...extra] };
}

export class RefusingApplier implements Applier {
  /** Transactions (apply and check) the kernel was made to refuse. */
  refused = 0;
  constructor(
    private readonly inner: Applier,
    public prefix: string,
  ) {}
  get name(): Applier['name'] {
    return this.inner.name;
  }
  private wrap(input: ApplyInput): ApplyInput {
    if (!('commands' in input)) return input;
    const out = poison(input, this.prefix);
    if (out !== input) this.refused++;
    return out;
  }
  apply(input: ApplyInput): Promise<void> {
    return this.inner.apply(this.wrap(input));
  }
  check(input: ApplyInput): Promise<void> {
    return this.inner.check(this.wrap(input));
  }
  listSetElements(...a: Parameters<Applier['listSetElements']>): ReturnType<Applier['listSetElements']> {
    return this.inner.listSetElements(...a);
  }
  listJson(command: string): ReturnType<Applier['listJson']> {
    return this.inner.listJson(command);
  }
  close(): void {
    this.inner.close();
  }
}
