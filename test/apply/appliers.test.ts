// Both appliers against a real kernel, each in its own private network namespace: the CLI one
// through `ip netns exec`, the libnftables one in a worker process started inside the namespace.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transactionToJson } from '../../compiler/nft/json.js';
import { diffRulesets } from '../../ir/diff.js';
import { fullTransaction } from '../../ir/transaction.js';
import { CliApplier } from '../../runtime/apply/cli.js';
import { createApplier, loadLibnftables } from '../../runtime/apply/index.js';
import { ApplyError, type Applier, type NftJsonRoot } from '../../runtime/apply/types.js';
import { backendKey, endpointIp, layout, mapSet, TABLE } from '../diff/fixtures.js';
import { createNamespace, destroyNamespace, nsExecArgv } from '../harness/netns.js';
import { normalizedListing, rawListing } from '../sync/kernel.js';
import { RemoteApplier } from './remote-applier.js';

const base = layout(20, 3);
const changed = mapSet(base, 'backend-addr', (s) => ({
  ...s,
  elements: s.elements.map((e, i) => (i === 4 ? { ...e, data: endpointIp(1, 1, 2) } : e)),
}));

const kinds: { name: 'cli' | 'lib'; make: (ns: string) => Promise<Applier> }[] = [
  { name: 'cli', make: async (ns) => new CliApplier({ wrap: nsExecArgv(ns) }) },
  { name: 'lib', make: (ns) => RemoteApplier.start(ns, 'lib') },
];

describe.each(kinds)('$name applier in a private namespace', ({ name, make }) => {
  let ns: string;
  let fresh: string;
  let applier: Applier;

  beforeAll(async () => {
    ns = await createNamespace(`apply-${name}`);
    fresh = await createNamespace(`apply-${name}-ref`);
    applier = await make(ns);
  });
  afterAll(async () => {
    applier?.close();
    await destroyNamespace(ns);
    await destroyNamespace(fresh);
  });

  it('loads a full transaction, then a diff, and ends where a fresh load of the new state is', async () => {
    await applier.apply(fullTransaction(base));
    await applier.apply(diffRulesets(base, changed));
    const reference = new CliApplier({ wrap: nsExecArgv(fresh) });
    await reference.apply(fullTransaction(changed));
    reference.close();
    expect(await normalizedListing(ns)).toEqual(await normalizedListing(fresh));
    expect(await normalizedListing(ns)).toContain(endpointIp(1, 1, 2));
  });

  it('reads one set cheaply, and null for a missing set or table', async () => {
    const elems = await applier.listSetElements('ip', TABLE, 'service-ips', true);
    expect(elems).toHaveLength(20);
    expect(await applier.listSetElements('ip', TABLE, 'nope', false)).toBeNull();
    expect(await applier.listSetElements('ip', 'no-such-table', 'service-ips', true)).toBeNull();
  });

  it('a kernel error leaves the ruleset byte-for-byte unchanged and names the failing command', async () => {
    const before = await rawListing(ns);
    const bad = diffRulesets(changed, base);
    // Deleting an element that does not exist aborts the whole batch (ENOENT).
    bad.commands.push({ op: 'delete', what: 'element', family: 'ip', table: TABLE, set: 'backend-port', elements: [{ key: backendKey(999, 9) }] });
    const err = await applier.apply(bad).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    const e = err as ApplyError;
    expect(e.commandIndex).toBe(bad.commands.length - 1);
    expect(e.message).toMatch(/delete element ip nfp-diff backend-port/);
    expect(e.message).toMatch(/No such file or directory/);
    expect(await rawListing(ns)).toBe(before);
  });

  it('a parse error names the command index nft reported', async () => {
    const before = await rawListing(ns);
    const root: NftJsonRoot = { nftables: [{ add: { table: { family: 'ip', name: 'x' } } }, { add: { bogus: { family: 'ip' } } }] };
    const e = (await applier.apply(root).then(() => null, (x: unknown) => x)) as ApplyError;
    expect(e).toBeInstanceOf(ApplyError);
    expect(e.commandIndex).toBe(1);
    expect(await rawListing(ns)).toBe(before);
  });

  it('check() validates in the kernel without changing anything', async () => {
    const before = await rawListing(ns);
    await applier.check(diffRulesets(changed, base));
    expect(await rawListing(ns)).toBe(before);
    await expect(applier.check({ commands: [{ op: 'delete', what: 'chain', family: 'ip', table: TABLE, name: 'missing' }] })).rejects.toThrow(/delete chain ip nfp-diff missing/);
  });

  it('measures single-element updates', async () => {
    const roots: NftJsonRoot[] = [];
    let cur = changed;
    for (let i = 0; i < 100; i++) {
      const next = mapSet(cur, 'backend-port', (s) => ({ ...s, elements: s.elements.map((e, j) => (j === i % 60 ? { ...e, data: 9000 + i } : e)) }));
      roots.push(transactionToJson(diffRulesets(cur, next)));
      cur = next;
    }
    // Timed inside the namespace by a worker, so `ip netns exec` is not part of the CLI's cost.
    const timer = await RemoteApplier.start(ns, name);
    const times = await timer.timeApply(roots);
    timer.close();
    times.sort((a, b) => a - b);
    console.log(`[apply ${name}] one-element update (delete+add, small table): p50 ${times[50]!.toFixed(3)} ms, p90 ${times[90]!.toFixed(3)} ms`);
    const elems = (await applier.listSetElements('ip', TABLE, 'backend-port', true)) ?? [];
    expect(JSON.stringify(elems)).toContain('9099');
  });
});

describe('createApplier', () => {
  it('chooses libnftables when it loads, the CLI when forced', () => {
    expect(loadLibnftables()).not.toBeNull();
    const auto = createApplier('auto');
    expect(auto.name).toBe('lib');
    auto.close();
    const cli = createApplier('cli');
    expect(cli.name).toBe('cli');
    cli.close();
  });
});
