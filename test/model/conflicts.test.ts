// Conflict resolution in the model (issue 11): who keeps a key, what the loser keeps, takeover,
// determinism, identity of unchanged ports; the invariant checker; malformed input files.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildModel, buildUnresolvedModel, outermostRanges } from '../../compiler/model/build.js';
import { ConflictResolver, resolveConflicts } from '../../compiler/model/conflicts.js';
import { InputError, loadObjects } from '../../compiler/model/load.js';
import type { ServicePort } from '../../compiler/model/types.js';
import { compile, createLowerCache } from '../../compiler/lower.js';
import { checkRuleset, InvariantChecker, intervalOverlaps } from '../../ir/invariants.js';
import type { Ruleset } from '../../ir/types.js';
import { recordElementDelta } from '../../ir/element-delta.js';
import { traceConnection } from '../../ir/interpret.js';
import { hijack, kubeDns, objectsOf, reproOptions, stateReproducers, type Spec } from './conflict-reproducers.js';
import { collidingClusterArb, collidingSequenceArb } from './conflict-arbitraries.js';

const model = (specs: Spec[]) => buildModel(objectsOf(specs), reproOptions);
const port = (m: { servicePorts: ServicePort[] }, id: string) => m.servicePorts.find((sp) => sp.id === id);

describe('conflict resolution', () => {
  it('an allocated cluster IP wins over an externalIP; the loser keeps its other keys', () => {
    const m = model([kubeDns, hijack]);
    expect(port(m, 'kube-system/kube-dns:dns-tcp')?.clusterIP).toBe('10.96.0.10');
    const h = port(m, 'tenant/hijack:dns')!;
    expect(h.externalIPs).toEqual([]);
    expect(h.clusterIP).toBe('10.96.5.5');
    expect(h.endpoints).toHaveLength(1);
  });

  it('between user-set claims the older Service wins, then namespace/name; input order does not matter', () => {
    const a: Spec = { name: 'a', clusterIP: '10.96.1.1', externalIPs: ['203.0.113.1'], ports: [{ name: 'http', port: 80 }] };
    const b: Spec = { name: 'b', clusterIP: '10.96.1.2', externalIPs: ['203.0.113.1'], ports: [{ name: 'http', port: 80 }] };
    const winnerOf = (specs: Spec[]) => model(specs).conflicts.map((c) => c.winner);
    expect(winnerOf([a, b])).toEqual(['default/a:http']); // same age (unknown): by name
    expect(winnerOf([b, a])).toEqual(['default/a:http']);
    expect(winnerOf([{ ...a, created: '2025-01-01T00:00:00Z' }, { ...b, created: '2024-01-01T00:00:00Z' }])).toEqual(['default/b:http']);
    // A known creationTimestamp is older than an unknown one.
    expect(winnerOf([a, { ...b, created: '2025-01-01T00:00:00Z' }])).toEqual(['default/b:http']);
  });

  it('a Service whose own cluster IP is also its externalIP holds one claim, reported', () => {
    const m = model(stateReproducers.find((r) => r.name.startsWith('own cluster IP listed'))!.specs);
    expect(m.servicePorts[0]!.externalIPs).toEqual([]);
    expect(m.conflicts).toHaveLength(1);
    expect(m.conflicts[0]!.reason).toContain('its own cluster IP');
  });

  it('the same address as externalIP and LB IP is one LB IP, not a conflict', () => {
    const m = model(stateReproducers.find((r) => r.name.startsWith('same IP in externalIPs'))!.specs);
    expect(m.servicePorts[0]).toMatchObject({ externalIPs: [], loadBalancerIPs: ['198.51.100.9'] });
    expect(m.conflicts).toEqual([]);
  });

  it('nodePort and cluster-IP+port collisions: the older Service keeps the key', () => {
    const np = model(stateReproducers.find((r) => r.name.includes('same nodePort'))!.specs);
    expect(port(np, 'default/np-old:http')?.nodePort).toBe(30080);
    expect(port(np, 'default/np-new:http')?.nodePort).toBeUndefined();
    const cip = model(stateReproducers.find((r) => r.name.includes('same cluster IP and port'))!.specs);
    expect(port(cip, 'default/cip-new:http')?.clusterIP).toBeUndefined();
    expect(port(cip, 'default/cip-new:alt')?.clusterIP).toBe('10.96.7.11'); // its other port keeps its key
  });

  it('the loser takes the key over when the winner goes away, and unchanged ports keep their identity', () => {
    const r = new ConflictResolver();
    const dns = buildUnresolvedModel(objectsOf([kubeDns]), reproOptions).servicePorts;
    const hj = buildUnresolvedModel(objectsOf([hijack]), reproOptions).servicePorts;
    r.set('kube-system/kube-dns', dns);
    r.set('tenant/hijack', hj);
    expect(r.ports('tenant/hijack')[0]!.externalIPs).toEqual([]);
    expect(r.ports('kube-system/kube-dns')[0]).toBe(dns[0]); // a winner is never copied
    const loserCopy = r.ports('tenant/hijack')[0];
    r.set('kube-system/kube-dns', [...dns]); // a change elsewhere that does not touch the key
    expect(r.ports('tenant/hijack')[0]).toBe(loserCopy); // same copy: the lowering reuses its fragment
    r.delete('kube-system/kube-dns');
    expect(r.ports('tenant/hijack')[0]).toBe(hj[0]);
    expect(r.conflicts()).toEqual([]);
  });

  it('incremental resolution equals one-shot resolution over random change sequences', () => {
    fc.assert(
      fc.property(collidingSequenceArb(1, 6), (steps) => {
        const r = new ConflictResolver();
        let groups = new Set<string>();
        for (const specs of steps) {
          const raw = buildUnresolvedModel(objectsOf(specs), reproOptions).servicePorts;
          const byGroup = new Map<string, ServicePort[]>();
          for (const sp of raw) byGroup.set(`${sp.namespace}/${sp.name}`, [...(byGroup.get(`${sp.namespace}/${sp.name}`) ?? []), sp]);
          for (const g of groups) if (!byGroup.has(g)) r.delete(g);
          for (const [g, ports] of byGroup) r.set(g, ports);
          groups = new Set(byGroup.keys());
          const once = resolveConflicts(raw);
          expect([...byGroup.keys()].flatMap((g) => r.ports(g))).toEqual(once.servicePorts);
          expect(r.conflicts()).toEqual(once.conflicts);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('every key of a resolved model has one owner (random colliding clusters)', () => {
    fc.assert(
      fc.property(collidingClusterArb, (specs) => {
        const m = model(specs);
        const seen = new Set<string>();
        for (const sp of m.servicePorts) {
          const keys = [
            ...(sp.clusterIP ? [sp.clusterIP] : []),
            ...sp.externalIPs,
            ...sp.loadBalancerIPs,
          ].map((ip) => `${ip} ${sp.protocol} ${sp.port}`);
          if (sp.nodePort !== undefined) keys.push(`np ${sp.family} ${sp.protocol} ${sp.nodePort}`);
          for (const k of keys) {
            expect(seen.has(k), k).toBe(false);
            seen.add(k);
          }
        }
        expect(checkRuleset(compile(m, reproOptions))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('source ranges', () => {
  it('keeps only the outermost ranges', () => {
    expect(outermostRanges(['10.1.0.0/16', '10.0.0.0/8', '192.168.0.0/24'])).toEqual(['10.0.0.0/8', '192.168.0.0/24']);
    expect(outermostRanges(['10.0.0.0/8', '0.0.0.0/0'])).toEqual(['0.0.0.0/0']);
    expect(outermostRanges(['fd00::/8', 'fd00:1::/32', '2001:db8::/32'])).toEqual(['fd00::/8', '2001:db8::/32']);
  });
});

describe('invariants', () => {
  const rs = (elements: Ruleset['tables'][0]['sets'][0]['elements'], interval = false): Ruleset => ({
    tables: [{ family: 'ip', name: 't', chains: [], sets: [{ name: 's', keyType: ['ipv4_addr', 'inet_proto', 'inet_service', 'ipv4_addr'], ...(interval ? { flags: ['interval' as const] } : {}), elements }] }],
  });
  const fw = (ip: string, addr: string, len: number) => ({ key: { concat: [ip, 'tcp', 80, { prefix: { addr, len } }] } });

  it('finds a key held twice, whatever its spelling', () => {
    const v = checkRuleset(rs([{ key: { concat: ['10.0.0.1', 'tcp', 80] } }, { key: { concat: ['10.0.0.1', 'tcp', '80'] } }]));
    expect(v).toHaveLength(1);
    expect(v[0]!.message).toContain('10.0.0.1 . tcp . 80');
  });

  it('trace refuses a ruleset holding a key twice, as the kernel does (no silent first pick)', () => {
    const r = compile(model([kubeDns]), reproOptions);
    const t = r.tables[0]!;
    const ips = t.sets.find((s) => s.name === 'service-ips')!;
    const dup: Ruleset = { tables: [{ ...t, sets: t.sets.map((s) => (s === ips ? { ...s, elements: [...s.elements, { ...s.elements[0]!, comment: 'other' }] } : s)) }] };
    const packet = { family: 'ip' as const, src: '10.244.9.9', dst: '10.96.0.10', proto: 'udp' as const, dport: 53 };
    expect(() => traceConnection(dup, packet, { localAddresses: [], sourceIsLocal: false })).toThrow(/holds the key .* twice/);
    expect(() => traceConnection(r, packet, { localAddresses: [], sourceIsLocal: false })).not.toThrow();
  });

  it('finds overlapping intervals only within the same exact parts', () => {
    expect(intervalOverlaps(rs([fw('1.1.1.1', '10.0.0.0', 8), fw('1.1.1.1', '10.1.0.0', 16)], true).tables[0]!.sets[0]!.elements)).toHaveLength(1);
    expect(intervalOverlaps([fw('1.1.1.1', '0.0.0.0', 0), fw('1.1.1.1', '1.1.1.1', 32)])).toHaveLength(1);
    expect(intervalOverlaps([fw('1.1.1.1', '10.0.0.0', 8), fw('1.1.1.2', '10.1.0.0', 16), fw('1.1.1.1', '11.0.0.0', 8)])).toEqual([]);
  });

  it('the incremental checker (element-delta hints) finds what the full check finds', () => {
    fc.assert(
      fc.property(collidingSequenceArb(1, 5), (steps) => {
        const cache = createLowerCache();
        const checker = new InvariantChecker();
        for (const specs of steps) {
          const ruleset = compile(model(specs), reproOptions, cache);
          expect(checker.check(ruleset)).toEqual(checkRuleset(ruleset));
        }
      }),
      { numRuns: 60 },
    );
    // And it does find a violation introduced through a hint, and its end.
    const checker = new InvariantChecker();
    const base = [{ key: { concat: ['10.0.0.1', 'tcp', 80] } }];
    expect(checker.check(rs(base))).toEqual([]);
    const dup = { key: { concat: ['10.0.0.1', 'tcp', 80] }, comment: 'another owner' };
    const next = [...base, dup];
    recordElementDelta(next, { base, added: [dup], removed: [] });
    expect(checker.check(rs(next))).toHaveLength(1);
    const fixed = [dup];
    recordElementDelta(fixed, { base: next, added: [], removed: [base[0]!] });
    expect(checker.check(rs(fixed))).toEqual([]);
  });
});

describe('malformed input files', () => {
  const oneLine = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      const msg = (e as Error).message;
      expect(msg).not.toContain('\n');
      return msg;
    }
    return '';
  };

  it('deep lists, deep YAML, alias bombs: one-line InputErrors', () => {
    expect(oneLine(() => loadObjects('['.repeat(5000) + ']'.repeat(5000)))).toContain('nested more than');
    expect(oneLine(() => loadObjects('- '.repeat(5000) + 'x\n'))).not.toBe('');
    let y = 'a: &a [x, x, x, x, x, x, x, x, x]\n';
    for (let i = 0, prev = 'a'; i < 9; i++, prev = `b${i - 1}`) y += `b${i}: &b${i} [${Array(9).fill(`*${prev}`).join(', ')}]\n`;
    expect(oneLine(() => loadObjects(y))).toContain('alias');
  });

  it('fuzz: any mangled dump either loads and builds, or fails with a one-line InputError', () => {
    const dump = stringify({ apiVersion: 'v1', kind: 'List', items: objectsOf([kubeDns, hijack]) });
    const json = JSON.stringify({ kind: 'List', items: objectsOf([kubeDns]) });
    fc.assert(
      fc.property(
        fc.constantFrom(dump, json),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('', '[', ']', '{', '}', ':', '- ', '&a ', '*a', '\n  ', '"', '\u0000', '!!binary ', '---\n', '%YAML 1.2\n')), { maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        (base, edits, cut) => {
          let text = cut === undefined ? base : base.slice(0, cut % (base.length + 1));
          for (const [pos, s] of edits) {
            const p = pos % (text.length + 1);
            text = text.slice(0, p) + s + text.slice(p + (s === '' ? 1 : 0));
          }
          let objects: unknown[] | undefined;
          try {
            objects = loadObjects(text).objects;
          } catch (e) {
            expect(e).toBeInstanceOf(InputError);
            expect((e as Error).message).not.toContain('\n');
            return;
          }
          const m = buildModel(objects, reproOptions); // never throws on bad objects
          expect(checkRuleset(compile(m, reproOptions))).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  });
});
