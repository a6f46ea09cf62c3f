import { describe, expect, it } from 'vitest';
import { transactionToJson } from '../../compiler/nft/json.js';
import { rulesetToText, transactionToText } from '../../compiler/nft/text.js';
import type { Transaction } from '../../ir/transaction.js';
import { fullRuleset, ipv4Table } from './fixtures.js';

describe('IR → nft text: ruleset blocks', () => {
  const text = rulesetToText(fullRuleset());

  it('prints one block per table with sets before chains', () => {
    expect(text).toMatch(/^table ip nftproxy \{\n/);
    expect(text).toContain('\n}\ntable ip6 nftproxy6 {\n');
    const v4 = text.slice(0, text.indexOf('table ip6'));
    expect(v4.lastIndexOf('\tset ')).toBeLessThan(v4.indexOf('\tchain '));
  });

  it('prints the datapath constructs in nft syntax', () => {
    for (const line of [
      '\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n',
      'elements = { 10.96.0.10 . tcp . 80 comment "default/web:http" : goto svc-web,',
      '10.96.0.12 . tcp . 443 : accept',
      '10.96.0.13 . sctp . 9000 : jump ep-b,',
      '10.96.0.15 . tcp . 80 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }',
      '\t\ttype nat hook prerouting priority -100; policy accept;\n',
      '\t\tip daddr . meta l4proto . th dport vmap @service-ips comment "dispatch on ip daddr . proto . port"\n',
      '\t\tnumgen random mod 2 vmap { 0 : goto ep-a, 1 : goto ep-b } comment "default/web:http"\n',
      '\t\tmeta l4proto == tcp dnat ip to ip daddr . meta l4proto . th dport map @addr0 : ip daddr . meta l4proto . th dport map @port0 comment "map-valued dnat"\n',
      '\t\tmeta l4proto == tcp dnat ip to 10.244.2.7:8080\n',
      '\t\tmeta l4proto == tcp dnat ip6 to [fd00:244::7]:8080\n',
      'elements = { 10.0.0.0/8,',
      '172.16.0.1-172.16.0.9 }',
      'tcp . 30000-32767',
      '\t\tmeta mark & 16384 != 16384 return\n',
      '\t\tmeta mark set meta mark ^ 16384 masquerade fully-random\n',
      '\t\tct state { established, related } accept\n',
      '\t\tip daddr @blocked-nets meta l4proto == tcp reject with tcp reset comment "reject tcp to blocked"\n',
      '\t\tip daddr @blocked-nets reject with icmp type port-unreachable\n',
      '\t\tip6 daddr @blocked-nets reject with icmpv6 type port-unreachable\n',
      '\t\tupdate @affinity { ip saddr . ip daddr timeout 10800s }\n',
      '\t\tfib daddr type == local counter comment "local destinations"\n',
      '192.0.2.1 timeout 30s comment "probe"',
      '\t\tflags timeout\n\t\ttimeout 10800s\n\t\tsize 1024\n',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).not.toContain('dynamic');
  });

  it('never lets a quote or a control character into a comment', () => {
    expect(text).toContain(`comment "kube-system/'dns':?dns"`);
    for (const m of text.matchAll(/comment "([^"\n]*)"/g)) expect(m[1]).toMatch(/^[\x20-\x7e]*$/);
    const evil = ipv4Table();
    evil.chains[0]!.rules[0]!.comment = 'x" ; flush ruleset ; "\n';
    const t = rulesetToText({ tables: [evil] });
    expect(t).toContain(`comment "x' ; flush ruleset ; '?"`);
  });
});

describe('IR → nft text: transactions', () => {
  it('prints one command per line', () => {
    const tx: Transaction = {
      commands: [
        { op: 'add', what: 'table', family: 'ip', table: 't' },
        { op: 'add', what: 'chain', family: 'ip', table: 't', chain: { name: 'pre', base: { type: 'nat', hook: 'prerouting', prio: -100 } } },
        { op: 'add', what: 'chain', family: 'ip', table: 't', chain: { name: 'svc' } },
        { op: 'add', what: 'set', family: 'ip', table: 't', set: { name: 'm', keyType: ['ipv4_addr', 'inet_service'], dataType: 'verdict' } },
        { op: 'add', what: 'set', family: 'ip', table: 't', set: { name: 'aff', keyType: ['ipv4_addr'], timeout: 60, dynamic: true } },
        { op: 'add', what: 'element', family: 'ip', table: 't', set: 'm', elements: [{ key: { concat: ['10.0.0.1', 80] }, data: { kind: 'goto', target: 'svc' }, comment: 'ns/a:p' }] },
        { op: 'delete', what: 'element', family: 'ip', table: 't', set: 'm', elements: [{ key: { concat: ['10.0.0.1', 80] }, data: { kind: 'goto', target: 'svc' } }] },
        { op: 'add', what: 'rule', family: 'ip', table: 't', chain: 'svc', rule: { stmts: [{ kind: 'verdict', verdict: { kind: 'drop' } }], comment: 'c' } },
        { op: 'flush', what: 'chain', family: 'ip', table: 't', name: 'svc' },
        { op: 'delete', what: 'chain', family: 'ip', table: 't', name: 'svc' },
        { op: 'flush', what: 'set', family: 'ip', table: 't', name: 'aff', isMap: false },
        { op: 'delete', what: 'set', family: 'ip', table: 't', name: 'm', isMap: true },
        { op: 'delete', what: 'table', family: 'ip', table: 't' },
      ],
    };
    expect(transactionToText(tx).split('\n')).toEqual([
      'add table ip t',
      'add chain ip t pre { type nat hook prerouting priority -100; }',
      'add chain ip t svc',
      'add map ip t m { type ipv4_addr . inet_service : verdict; }',
      'add set ip t aff { type ipv4_addr; flags timeout; timeout 60s; }',
      'add element ip t m { 10.0.0.1 . 80 comment "ns/a:p" : goto svc }',
      'delete element ip t m { 10.0.0.1 . 80 }',
      'add rule ip t svc drop comment "c"',
      'flush chain ip t svc',
      'delete chain ip t svc',
      'flush set ip t aff',
      'delete map ip t m',
      'delete table ip t',
      '',
    ]);
  });

  it('refuses names that are nft keywords (identifiers cannot be quoted in text), JSON keeps them', () => {
    const tx: Transaction = {
      commands: [
        { op: 'add', what: 'table', family: 'ip', table: 't' },
        { op: 'add', what: 'chain', family: 'ip', table: 't', chain: { name: 'counter' } },
      ],
    };
    expect(() => transactionToText(tx)).toThrow(/"counter" is an nft keyword/);
    expect(() => transactionToJson(tx)).not.toThrow();
    const jumpTo = (target: string): Transaction => ({
      commands: [{ op: 'add', what: 'rule', family: 'ip', table: 't', chain: 'c', rule: { stmts: [{ kind: 'verdict', verdict: { kind: 'goto', target } }], comment: '@counter' } }],
    });
    expect(() => transactionToText(jumpTo('mod'))).toThrow(/keyword/);
    expect(transactionToText(jumpTo('counter-x'))).toBe('add rule ip t c goto counter-x comment "@counter"\n');
    const setRef: Transaction = {
      commands: [{ op: 'add', what: 'rule', family: 'ip', table: 't', chain: 'c', rule: { stmts: [{ kind: 'vmap', key: { kind: 'meta', key: 'mark' }, map: 'll' }] } }],
    };
    expect(() => transactionToText(setRef)).toThrow(/"ll"/);
  });

  it('refuses what the JSON emitter refuses', () => {
    expect(() =>
      transactionToText({ commands: [{ op: 'add', what: 'chain', family: 'ip', table: 't', chain: { name: 'bad name' } }] }),
    ).toThrow(/command 0/);
  });
});
