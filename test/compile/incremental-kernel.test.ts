// Incremental == fresh, in the kernel, for services whose endpoint counts cross the old
// power-of-two boundaries (4→5, 64→65, 4096→4097) with every feature that has a slot pool:
// ETP Local (svc-local / np-local), ITP Local, NodePorts, external IPs, dual-stack and mixed
// target ports (`-x` pools). For each sequence of cluster states:
//   - kernel A gets the full first ruleset, then each diff between cached compiles;
//   - kernel B gets the full last ruleset in one go;
//   - the listings are equal, and the cached compile equals a fresh compile up to slot order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeAsRoot, NEEDS_ROOT } from '../harness/privileges.js';
import { buildModel } from '../../compiler/model/build.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { compile, createLowerCache, type LowerCache } from '../../compiler/lower.js';
import { diffRulesets } from '../../ir/diff.js';
import { fullTransaction } from '../../ir/transaction.js';
import type { Ruleset } from '../../ir/types.js';
import { namespacePair, normalizedListing } from '../sync/kernel.js';
import { objectsFor, type ServiceSpec } from '../datapath/cluster.js';
import { semantic } from './semantic.js';

const opts: CompileOptions = { ...defaultCompileOptions, clusterCIDRs: ['10.128.0.0/9', 'fd00:128::/64'], nodeName: 'node-a' };
const nodes = [
  { name: 'node-a', ip: '192.168.0.1' },
  { name: 'node-b', ip: '192.168.0.2' },
];

const v4 = (s: number, k: number): string => `10.${128 + s}.${k >> 8}.${k & 255}`;
const v6 = (s: number, k: number): string => `fd00:128::${s.toString(16)}:${k.toString(16)}`;

/** Service `s` with `n` endpoints, half of them on this node; `mixed` gives a second slice another target port. */
function service(s: number, n: number, kind: 'etp-local' | 'itp-local' | 'mixed' | 'dual'): ServiceSpec {
  const eps = (ip: (s: number, k: number) => string, from: number, to: number) =>
    Array.from({ length: to - from }, (_, j) => ({ ip: ip(s, from + j + 1), node: (from + j) % 2 === 0 ? 'node-a' : 'node-b' }));
  const base = { name: `s${s}`, ports: [{ name: 'http', port: 80, ...(kind === 'itp-local' ? {} : { nodePort: 30000 + s }) }] };
  switch (kind) {
    case 'etp-local':
      return { ...base, clusterIP: `10.96.0.${s}`, externalIPs: [`203.0.113.${s}`], externalTrafficPolicy: 'Local', slices: [{ targetPort: 8080, endpoints: eps(v4, 0, n) }] };
    case 'itp-local':
      return { ...base, clusterIP: `10.96.0.${s}`, internalTrafficPolicy: 'Local', slices: [{ targetPort: 8080, endpoints: eps(v4, 0, n) }] };
    case 'mixed': {
      const half = Math.ceil(n / 2);
      return {
        ...base,
        clusterIP: `10.96.0.${s}`,
        slices: [
          { targetPort: 8080, endpoints: eps(v4, 0, half) },
          ...(n > half ? [{ targetPort: 9090, endpoints: eps(v4, half, n) }] : []),
        ],
      };
    }
    case 'dual':
      return {
        ...base,
        clusterIPs: [`10.96.0.${s}`, `fd00:96::${s}`],
        slices: [
          { family: 'IPv4', targetPort: 8080, endpoints: eps(v4, 0, n) },
          { family: 'IPv6', targetPort: 8080, endpoints: eps(v6, 0, n) },
        ],
      };
  }
}

const kinds = ['etp-local', 'itp-local', 'mixed', 'dual'] as const;
const modelOf = (counts: number[]) => {
  const m = buildModel(objectsFor(counts.map((n, s) => service(s + 1, n, kinds[s % kinds.length]!)), nodes), opts);
  expect(m.problems).toEqual([]);
  return m;
};

describeAsRoot(NEEDS_ROOT.bigTransactions)('incremental == fresh in the kernel, endpoint counts crossing the old power-of-two boundaries', () => {
  const p = namespacePair('incr-a', 'incr-b');

  /** Runs one sequence of states; returns the commands applied incrementally. */
  async function check(states: number[][]): Promise<number> {
    const cache: LowerCache = createLowerCache();
    let before: Ruleset = compile(modelOf(states[0]!), opts, cache);
    await p.a.apply(fullTransaction(before));
    let commands = 0;
    for (const counts of states.slice(1)) {
      const model = modelOf(counts);
      const after = compile(model, opts, cache);
      expect(semantic(after)).toEqual(semantic(compile(model, opts)));
      const tx = diffRulesets(before, after);
      commands += tx.commands.length;
      if (tx.commands.length > 0) await p.a.apply(tx);
      before = after;
    }
    await p.b.apply(fullTransaction(before));
    expect(await normalizedListing(p.nsA)).toEqual(await normalizedListing(p.nsB));
    return commands;
  }

  it('random sequences over 3..5 and 63..66 endpoints, four kinds of service', async () => {
    const count = fc.constantFrom(0, 1, 3, 4, 5, 63, 64, 65, 66);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(count, { minLength: 4, maxLength: 4 }), { minLength: 2, maxLength: 4 }), async (states) => {
        await check(states);
      }),
      { numRuns: process.env.CI ? 12 : 8, endOnFailure: true },
    );
  }, 300_000);

  it('4,096 → 4,097 → 4,095 → 4,097 endpoints in one service next to small ones', async () => {
    // The big one is the ITP Local service (one pool: the kernel loads stay a few seconds).
    const commands = await check([
      [3, 4096, 4, 2],
      [3, 4097, 5, 2],
      [4, 4095, 5, 2],
      [4, 4097, 4, 1],
    ]);
    // A few chains, slots and elements per step, not a rebuild of the 4,096 slots.
    expect(commands).toBeLessThan(200); // a rebuild of the slots would be over 8,000
  }, 300_000);
});
