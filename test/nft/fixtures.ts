// Hand-built IR rulesets covering every statement and expression kind the nft emitters support,
// shaped like the real datapath (service dispatch map → endpoint choice → map-valued DNAT).

import type { Chain, Expr, Rule, Ruleset, SetDef, Stmt, Table } from '../../ir/types.js';

export const MASQ_MARK = 0x4000;
/** A chain name in kube-proxy's nftables style: slashes, dots and underscores in an identifier. */
export const KUBE_STYLE_CHAIN = 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80';

const ip4daddr: Expr = { kind: 'payload', protocol: 'ip', field: 'daddr' };
const ip4saddr: Expr = { kind: 'payload', protocol: 'ip', field: 'saddr' };
const ip6daddr: Expr = { kind: 'payload', protocol: 'ip6', field: 'daddr' };
const ip6saddr: Expr = { kind: 'payload', protocol: 'ip6', field: 'saddr' };
const l4proto: Expr = { kind: 'meta', key: 'l4proto' };
const dport: Expr = { kind: 'payload', protocol: 'th', field: 'dport' };
const mark: Expr = { kind: 'meta', key: 'mark' };

const tuple4: Expr = { kind: 'concat', parts: [ip4daddr, l4proto, dport] };
const tuple6: Expr = { kind: 'concat', parts: [ip6daddr, l4proto, dport] };

const isTcp: Stmt = { kind: 'match', left: l4proto, op: '==', right: { kind: 'const', value: 'tcp' } };

const rule = (comment: string | undefined, ...stmts: Stmt[]): Rule => (comment ? { stmts, comment } : { stmts });
const jump = (target: string): Stmt => ({ kind: 'verdict', verdict: { kind: 'jump', target } });

function natBaseChains(): Chain[] {
  return [
    { name: 'nat-prerouting', base: { type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' }, rules: [rule('kubernetes service portals', jump('services'))] },
    { name: 'nat-output', base: { type: 'nat', hook: 'output', prio: -100, policy: 'accept' }, rules: [rule(undefined, jump('services'))] },
    { name: 'nat-postrouting', base: { type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' }, rules: [rule(undefined, jump('masquerading'))] },
  ];
}

function masquerading(): Chain {
  return {
    name: 'masquerading',
    rules: [
      rule(undefined, { kind: 'match', left: { kind: 'and', left: mark, mask: MASQ_MARK }, op: '!=', right: { kind: 'const', value: MASQ_MARK } }, { kind: 'verdict', verdict: { kind: 'return' } }),
      rule(undefined, { kind: 'setmark', value: { kind: 'xor', left: mark, bits: MASQ_MARK } }, { kind: 'masquerade', fullyRandom: true }),
    ],
  };
}

export function ipv4Table(name = 'nftproxy'): Table {
  const sets: SetDef[] = [
    {
      name: 'service-ips',
      keyType: ['ipv4_addr', 'inet_proto', 'inet_service'],
      dataType: 'verdict',
      elements: [
        { key: { concat: ['10.96.0.10', 'tcp', 80] }, data: { kind: 'goto', target: 'svc-web' }, comment: 'default/web:http' },
        { key: { concat: ['10.96.0.11', 'udp', 53] }, data: { kind: 'drop' }, comment: 'kube-system/"dns":\tdns' },
        { key: { concat: ['10.96.0.12', 'tcp', 443] }, data: { kind: 'accept' } },
        { key: { concat: ['10.96.0.13', 'sctp', 9000] }, data: { kind: 'jump', target: 'ep-b' } },
        { key: { concat: ['10.96.0.15', 'tcp', 80] }, data: { kind: 'goto', target: KUBE_STYLE_CHAIN } },
      ],
    },
    {
      name: 'addr0',
      keyType: ['ipv4_addr', 'inet_proto', 'inet_service'],
      dataType: 'ipv4_addr',
      elements: [{ key: { concat: ['10.96.0.10', 'tcp', 80] }, data: '10.244.1.5' }],
    },
    {
      name: 'port0',
      keyType: ['ipv4_addr', 'inet_proto', 'inet_service'],
      dataType: 'inet_service',
      elements: [{ key: { concat: ['10.96.0.10', 'tcp', 80] }, data: 8080 }],
    },
    {
      name: 'blocked-nets',
      keyType: ['ipv4_addr'],
      flags: ['interval'],
      elements: [
        { key: { prefix: { addr: '10.0.0.0', len: 8 } } },
        { key: { prefix: { addr: '192.168.0.0', len: 16 } } },
        { key: { range: ['172.16.0.1', '172.16.0.9'] } },
      ],
    },
    {
      name: 'port-ranges',
      keyType: ['inet_proto', 'inet_service'],
      flags: ['interval'],
      elements: [{ key: { concat: ['tcp', { range: [30000, 32767] }] } }, { key: { concat: ['udp', 53] } }],
    },
    // Filled from the packet path only (session affinity).
    { name: 'affinity', keyType: ['ipv4_addr', 'ipv4_addr'], timeout: 10800, size: 1024, elements: [], dynamic: true },
    {
      name: 'recent-clients',
      keyType: ['ipv4_addr'],
      flags: ['timeout'],
      timeout: 600,
      elements: [{ key: '192.0.2.1', timeout: 30, comment: 'probe' }, { key: '192.0.2.2' }],
    },
  ];
  const chains: Chain[] = [
    ...natBaseChains(),
    { name: 'services', rules: [rule('dispatch on ip daddr . proto . port', { kind: 'vmap', key: tuple4, map: 'service-ips' })] },
    {
      name: 'svc-web',
      rules: [
        rule('default/web:http', { kind: 'anonvmap', key: { kind: 'numgen', mod: 2 }, entries: [[0, { kind: 'goto', target: 'ep-a' }], [1, { kind: 'goto', target: 'ep-b' }]] }),
      ],
    },
    {
      name: 'ep-a',
      rules: [
        rule(undefined, { kind: 'match', left: ip4saddr, op: '==', right: { kind: 'const', value: '10.244.1.5' } }, { kind: 'setmark', value: { kind: 'or', left: mark, bits: MASQ_MARK } }),
        rule(undefined, { kind: 'setupdate', set: 'affinity', elem: { kind: 'concat', parts: [ip4saddr, ip4daddr] }, timeout: 10800 }),
        rule('map-valued dnat', isTcp, { kind: 'dnat', family: 'ip', addr: { kind: 'maplookup', key: tuple4, map: 'addr0' }, port: { kind: 'maplookup', key: tuple4, map: 'port0' } }),
      ],
    },
    { name: 'ep-b', rules: [rule(undefined, isTcp, { kind: 'dnat', family: 'ip', addr: { kind: 'const', value: '10.244.2.7' }, port: { kind: 'const', value: 8080 } })] },
    { name: KUBE_STYLE_CHAIN, rules: [rule('ns1/svc1:p80', isTcp, { kind: 'dnat', family: 'ip', addr: { kind: 'const', value: '10.180.0.1' }, port: { kind: 'const', value: 80 } })] },
    { name: 'ep-c', rules: [rule(undefined, { kind: 'dnat', family: 'ip', addr: { kind: 'const', value: '10.244.2.8' } })] },
    masquerading(),
    {
      name: 'filter-forward',
      base: { type: 'filter', hook: 'forward', prio: 0, policy: 'accept' },
      rules: [
        rule(undefined, { kind: 'match', left: { kind: 'ct', key: 'state' }, op: 'in', right: { kind: 'anonset', elements: ['established', 'related'] } }, { kind: 'verdict', verdict: { kind: 'accept' } }),
        rule(undefined, { kind: 'match', left: { kind: 'ct', key: 'status' }, op: '==', right: { kind: 'const', value: 'dnat' } }, { kind: 'verdict', verdict: { kind: 'continue' } }),
        rule('reject tcp to blocked', { kind: 'match', left: ip4daddr, op: 'in', right: { kind: 'setref', name: 'blocked-nets' } }, isTcp, { kind: 'reject', with: 'tcp-reset' }),
        rule(undefined, { kind: 'match', left: ip4daddr, op: '==', right: { kind: 'setref', name: 'blocked-nets' } }, { kind: 'reject', with: 'icmpx-port-unreachable' }),
        rule(undefined, { kind: 'match', left: { kind: 'concat', parts: [l4proto, dport] }, op: '==', right: { kind: 'setref', name: 'port-ranges' } }, { kind: 'counter' }),
        rule(undefined, { kind: 'match', left: ip4saddr, op: '!=', right: { kind: 'const', value: { prefix: { addr: '10.244.0.0', len: 16 } } } }, { kind: 'match', left: dport, op: '==', right: { kind: 'const', value: { range: [30000, 32767] } } }, { kind: 'verdict', verdict: { kind: 'drop' } }),
        rule(undefined, { kind: 'match', left: ip4daddr, op: 'in', right: { kind: 'anonset', elements: ['10.0.0.1', { prefix: { addr: '10.1.0.0', len: 16 } }] } }, { kind: 'verdict', verdict: { kind: 'drop' } }),
      ],
    },
    {
      name: 'filter-input',
      base: { type: 'filter', hook: 'input', prio: 0, policy: 'accept' },
      rules: [
        rule('local destinations', { kind: 'match', left: { kind: 'fib', lookup: 'daddr', result: 'type' }, op: '==', right: { kind: 'const', value: 'local' } }, { kind: 'counter' }),
        rule(undefined, { kind: 'match', left: { kind: 'and', left: mark, mask: MASQ_MARK }, op: '==', right: { kind: 'const', value: 0 } }, { kind: 'verdict', verdict: { kind: 'return' } }),
      ],
    },
  ];
  return { family: 'ip', name, sets, chains };
}

export function ipv6Table(name = 'nftproxy6'): Table {
  return {
    family: 'ip6',
    name,
    sets: [
      {
        name: 'service-ips',
        keyType: ['ipv6_addr', 'inet_proto', 'inet_service'],
        dataType: 'verdict',
        elements: [
          { key: { concat: ['fd00:10:96::a', 'tcp', 80] }, data: { kind: 'goto', target: 'svc-web' }, comment: 'default/web:http' },
          { key: { concat: ['fd00:10:96::b', 'tcp', 81] }, data: { kind: 'goto', target: 'ep-b' } },
        ],
      },
      { name: 'addr0', keyType: ['ipv6_addr', 'inet_proto', 'inet_service'], dataType: 'ipv6_addr', elements: [{ key: { concat: ['fd00:10:96::a', 'tcp', 80] }, data: 'fd00:244::5' }] },
      { name: 'port0', keyType: ['ipv6_addr', 'inet_proto', 'inet_service'], dataType: 'inet_service', elements: [{ key: { concat: ['fd00:10:96::a', 'tcp', 80] }, data: 8443 }] },
      { name: 'blocked-nets', keyType: ['ipv6_addr'], flags: ['interval'], elements: [{ key: { prefix: { addr: 'fd00:dead::', len: 32 } } }, { key: { range: ['2001:db8::1', '2001:db8::ff'] } }] },
      { name: 'affinity', keyType: ['ipv6_addr'], timeout: 60, elements: [], dynamic: true },
    ],
    chains: [
      ...natBaseChains(),
      { name: 'services', rules: [rule(undefined, { kind: 'vmap', key: tuple6, map: 'service-ips' })] },
      { name: 'svc-web', rules: [rule(undefined, { kind: 'setupdate', set: 'affinity', elem: ip6saddr }, { kind: 'anonvmap', key: { kind: 'numgen', mod: 2 }, entries: [[0, { kind: 'goto', target: 'ep-a' }], [1, { kind: 'goto', target: 'ep-b' }]] })] },
      { name: 'ep-a', rules: [rule(undefined, isTcp, { kind: 'dnat', family: 'ip6', addr: { kind: 'maplookup', key: tuple6, map: 'addr0' }, port: { kind: 'maplookup', key: tuple6, map: 'port0' } })] },
      { name: 'ep-b', rules: [rule(undefined, isTcp, { kind: 'dnat', family: 'ip6', addr: { kind: 'const', value: 'fd00:244::7' }, port: { kind: 'const', value: 8080 } })] },
      masquerading(),
      {
        name: 'filter-forward',
        base: { type: 'filter', hook: 'forward', prio: 0, policy: 'accept' },
        rules: [
          rule(undefined, { kind: 'match', left: ip6daddr, op: 'in', right: { kind: 'setref', name: 'blocked-nets' } }, { kind: 'reject', with: 'icmpx-port-unreachable' }),
          rule(undefined, { kind: 'match', left: ip6saddr, op: '==', right: { kind: 'const', value: 'fd00::1' } }, { kind: 'reject', with: 'tcp-reset' }),
        ],
      },
    ],
  };
}

export function fullRuleset(): Ruleset {
  return { tables: [ipv4Table(), ipv6Table()] };
}
