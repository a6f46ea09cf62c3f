// Random small rulesets for the diff/rewrite properties (in the kernel: property.test.ts; on the
// fake applier: fake.test.ts): elements of a verdict map, a data map and a set; rules of a few
// chains; chains and sets appearing/disappearing while verdict-map elements and rules reference
// them; a set declaration and a base chain spec changing.

import fc from 'fast-check';
import type { Chain, Element, Rule, Ruleset, SetDef, Stmt } from '../../ir/types.js';

export const T = 'nfp-prop';
const CHAINS = ['c0', 'c1', 'c2', 'c3'];
const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.1.0', '10.0.2.0', '192.168.1.1'];

export interface Shape {
  chains: string[];
  svc: [number, number][];
  addrs: string[];
  interval: boolean;
  ports: [number, number][];
  extra: boolean;
  prio: number;
  rules: number[][];
}

export const shape: fc.Arbitrary<Shape> = fc.record({
  chains: fc.subarray(CHAINS),
  svc: fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 3 })), { maxLength: 8 }),
  addrs: fc.subarray(ADDRS),
  interval: fc.boolean(),
  ports: fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom(80, 443, 8080)), { maxLength: 6 }),
  extra: fc.boolean(),
  prio: fc.constantFrom(-100, -99),
  rules: fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), { minLength: 4, maxLength: 4 }),
});

export const saddr = { kind: 'payload', protocol: 'ip', field: 'saddr' } as const;
const daddr = { kind: 'payload', protocol: 'ip', field: 'daddr' } as const;

export function build(s: Shape): Ruleset {
  const present = CHAINS.filter((c) => s.chains.includes(c));
  const svcElems = new Map<string, Element>();
  for (const [k, t] of s.svc) {
    const target = present[t % Math.max(1, present.length)];
    // One key, owned by one of two "services" (the comment): from state to state a key moves
    // between owners (issue 11) and the diff must work on keys.
    if (target) svcElems.set(`${k}`, { key: { concat: [`10.96.0.${k}`, 'tcp', 80 + k] }, data: { kind: 'goto', target }, comment: `owner-${t % 2}` });
  }
  const portElems = new Map<string, Element>();
  for (const [k, p] of s.ports) portElems.set(`${k}`, { key: `10.1.0.${k}`, data: p });
  const sets: SetDef[] = [
    { name: 'svc', keyType: ['ipv4_addr', 'inet_proto', 'inet_service'], dataType: 'verdict', elements: [...svcElems.values()] },
    { name: 'addrs', keyType: ['ipv4_addr'], ...(s.interval ? { flags: ['interval' as const] } : {}), elements: s.addrs.map((a) => ({ key: a })) },
    { name: 'ports', keyType: ['ipv4_addr'], dataType: 'inet_service', elements: [...portElems.values()] },
  ];
  if (s.extra) sets.push({ name: 'extra', keyType: ['ipv4_addr'], elements: [{ key: '172.16.0.1' }] });

  const palette = (i: number, chain: number): Rule | null => {
    const stmts: Stmt[][] = [
      [{ kind: 'counter' }],
      [{ kind: 'match', left: saddr, op: '==', right: { kind: 'setref', name: 'addrs' } }, { kind: 'verdict', verdict: { kind: 'accept' } }],
      [{ kind: 'match', left: daddr, op: '==', right: { kind: 'anonset', elements: ['1.1.1.1', '2.2.2.2'] } }, { kind: 'verdict', verdict: { kind: 'drop' } }],
      [{ kind: 'setmark', value: { kind: 'or', left: { kind: 'meta', key: 'mark' }, bits: 0x4000 } }],
    ];
    if (i < stmts.length) return { stmts: stmts[i]!, comment: `rule ${i}` };
    if (i === 4 && s.extra) return { stmts: [{ kind: 'match', left: daddr, op: '==', right: { kind: 'setref', name: 'extra' } }, { kind: 'verdict', verdict: { kind: 'return' } }] };
    // A jump to a later chain (no loops) when that chain exists.
    const later = present.find((c) => CHAINS.indexOf(c) > chain);
    if (i === 5 && later) return { stmts: [{ kind: 'verdict', verdict: { kind: 'jump', target: later } }] };
    return null;
  };
  const chains: Chain[] = [
    {
      name: 'pre',
      base: { type: 'nat', hook: 'prerouting', prio: s.prio },
      rules: [{ stmts: [{ kind: 'vmap', key: { kind: 'concat', parts: [daddr, { kind: 'meta', key: 'l4proto' }, { kind: 'payload', protocol: 'th', field: 'dport' }] }, map: 'svc' }] }],
    },
  ];
  for (const c of present) {
    const idx = CHAINS.indexOf(c);
    chains.push({ name: c, rules: (s.rules[idx] ?? []).map((i) => palette(i, idx)).filter((r): r is Rule => r !== null) });
  }
  return { tables: [{ family: 'ip', name: T, sets, chains }] };
}

