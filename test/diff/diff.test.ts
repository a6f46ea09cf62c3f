import { describe, expect, it } from 'vitest';
import { diffRulesets, diffElements } from '../../ir/diff.js';
import { fullTransaction, type Command } from '../../ir/transaction.js';
import type { Element, Ruleset } from '../../ir/types.js';
import { backendKey, endpointIp, layout, lb, mapChains, mapSet, prerouting } from './fixtures.js';

const ops = (cmds: Command[]): string[] =>
  cmds.map((c) => `${c.op} ${c.what} ${c.what === 'chain' ? (c.op === 'add' ? c.chain.name : c.name) : c.what === 'set' ? (c.op === 'add' ? c.set.name : c.name) : c.what === 'element' ? c.set : c.what === 'rule' ? c.chain : c.table}`);

const elemsOf = (c: Command | undefined): Element[] => (c && c.what === 'element' ? c.elements : []);

describe('diffRulesets', () => {
  const before = layout(50, 4);

  it('is empty between a ruleset and itself or a deep copy', () => {
    expect(diffRulesets(before, before).commands).toEqual([]);
    expect(diffRulesets(before, structuredClone(before)).commands).toEqual([]);
  });

  it('turns an empty kernel into the full ruleset without deleting anything', () => {
    const tx = diffRulesets({ tables: [] }, before);
    expect(tx.commands.some((c) => c.op === 'delete')).toBe(false);
    const full = fullTransaction(before).commands.filter((c) => !(c.what === 'table'));
    expect(tx.commands.filter((c) => c.what !== 'table')).toEqual(full);
  });

  it('one endpoint change is element commands only', () => {
    const after = mapSet(before, 'backend-addr', (s) => ({
      ...s,
      elements: s.elements.map((e, i) => (i === 17 ? { ...e, data: endpointIp(4, 1, 1) } : e)),
    }));
    const tx = diffRulesets(before, after);
    expect(ops(tx.commands)).toEqual(['delete element backend-addr', 'add element backend-addr']);
    // A changed map value: delete and add of the SAME key, old value out, new value in.
    expect(elemsOf(tx.commands[0])).toEqual([before.tables[0]!.sets[1]!.elements[17]]);
    expect(elemsOf(tx.commands[1])).toEqual([{ key: backendKey(4, 1), data: endpointIp(4, 1, 1) }]);
  });

  it('an added endpoint is a single add, a removed one a single delete', () => {
    const extra: Element = { key: backendKey(7, 9), data: '10.200.0.1' };
    const added = mapSet(before, 'backend-addr', (s) => ({ ...s, elements: [...s.elements.slice(0, 30), extra, ...s.elements.slice(30)] }));
    expect(ops(diffRulesets(before, added).commands)).toEqual(['add element backend-addr']);
    expect(elemsOf(diffRulesets(before, added).commands[0])).toEqual([extra]);
    const removed = mapSet(before, 'backend-addr', (s) => ({ ...s, elements: s.elements.filter((_, i) => i !== 3) }));
    expect(ops(diffRulesets(before, removed).commands)).toEqual(['delete element backend-addr']);
  });

  it('compares elements by key, not by position or spelling', () => {
    const shuffled = mapSet(before, 'backend-port', (s) => ({ ...s, elements: [...s.elements].reverse().map((e) => ({ ...e, data: String(e.data) })) }));
    expect(diffRulesets(before, shuffled).commands).toEqual([]);
  });

  it('removes a verdict-map reference before deleting the chain it points to', () => {
    const withSvc: Ruleset = mapChains(
      mapSet(before, 'service-ips', (s) => ({ ...s, elements: [...s.elements, { key: { concat: ['10.97.0.1', 'tcp', 443] }, data: { kind: 'goto', target: 'svc-x' } }] })),
      (chains) => [...chains, { name: 'svc-x', rules: [{ stmts: [{ kind: 'counter' }] }] }],
    );
    const grow = diffRulesets(before, withSvc).commands;
    expect(ops(grow)).toEqual(['add chain svc-x', 'add element service-ips', 'add rule svc-x']);
    const shrink = ops(diffRulesets(withSvc, before).commands);
    expect(shrink).toEqual(['flush chain svc-x', 'delete element service-ips', 'delete chain svc-x']);
  });

  it('a changed chain is flush + its rules; untouched chains are not sent', () => {
    const after = mapChains(before, (chains) => chains.map((c) => (c.name === 'lb' ? { ...c, rules: [...c.rules, { stmts: [{ kind: 'verdict', verdict: { kind: 'accept' } }] }] } : c)));
    expect(ops(diffRulesets(before, after).commands)).toEqual(['flush chain lb', 'add rule lb', 'add rule lb']);
  });

  it('a base chain spec change re-creates the chain', () => {
    const after = mapChains(before, (chains) => chains.map((c) => (c.name === 'prerouting' ? { ...prerouting, base: { ...prerouting.base!, prio: -99 } } : c)));
    expect(ops(diffRulesets(before, after).commands)).toEqual(['flush chain prerouting', 'delete chain prerouting', 'add chain prerouting', 'add rule prerouting']);
  });

  it('a set declaration change re-creates the set after dropping the rules that use it', () => {
    const after = mapSet(before, 'service-ips', (s) => ({ ...s, size: 65536 }));
    const cmds = ops(diffRulesets(before, after).commands);
    expect(cmds).toEqual(['flush chain services', 'delete set service-ips', 'add set service-ips', 'add element service-ips', 'add rule services']);
  });

  it('never touches elements of dynamic sets', () => {
    const dyn = (elements: Element[]): Ruleset => ({
      tables: [{ ...before.tables[0]!, sets: [...before.tables[0]!.sets, { name: 'affinity', keyType: ['ipv4_addr'], flags: ['timeout'], timeout: 10, dynamic: true, elements }] }],
    });
    expect(diffRulesets(dyn([]), dyn([{ key: '1.2.3.4' }])).commands).toEqual([]);
    expect(fullTransaction(dyn([{ key: '1.2.3.4' }])).commands.some((c) => c.what === 'element' && c.set === 'affinity')).toBe(false);
  });

  it('deletes a whole table that is no longer wanted, and nothing else', () => {
    const other: Ruleset = { tables: [...before.tables, { family: 'ip6', name: 'x', sets: [], chains: [lb] }] };
    expect(ops(diffRulesets(other, before).commands)).toEqual(['delete table x']);
    expect(ops(diffRulesets(before, other).commands)).toEqual(['add table x', 'add chain lb', 'add rule lb']);
  });

  it('keeps a chain referencing a removed set out of trouble: flush before set delete', () => {
    const withSet = mapChains(
      { tables: [{ ...before.tables[0]!, sets: [...before.tables[0]!.sets, { name: 'blocked', keyType: ['ipv4_addr'], elements: [{ key: '1.1.1.1' }] }] }] },
      (chains) => chains.map((c) => (c.name === 'lb' ? { ...c, rules: [{ stmts: [{ kind: 'match', left: { kind: 'payload', protocol: 'ip', field: 'saddr' }, op: '==', right: { kind: 'setref', name: 'blocked' } }, { kind: 'verdict', verdict: { kind: 'drop' } }] }, ...lb.rules] } : c)),
    );
    expect(ops(diffRulesets(withSet, before).commands)).toEqual(['flush chain lb', 'delete set blocked', 'add rule lb']);
  });
});

describe('diffElements', () => {
  it('resolves scattered changes, insertions and removals', () => {
    const mk = (n: number, v = 0): Element => ({ key: n, data: `v${v}` });
    const before = Array.from({ length: 100 }, (_, i) => mk(i));
    const after = before.filter((_, i) => i !== 10 && i !== 50).map((e, i) => (i === 70 ? mk(e.key as number, 1) : e));
    after.splice(20, 0, mk(1000), mk(1001));
    after.push(mk(2000));
    const d = diffElements(before, after);
    expect(d.removed.map((e) => e.key).sort((a, b) => Number(a) - Number(b))).toEqual([10, 50, 72]);
    expect(d.added.map((e) => e.key).sort((a, b) => Number(a) - Number(b))).toEqual([72, 1000, 1001, 2000]);
  });
});
