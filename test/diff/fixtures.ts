// Hand-built IR rulesets shaped like the proxier's layout (static chains, verdict and data maps).

import type { Chain, Element, Ruleset, SetDef, Table } from '../../ir/types.js';

export const TABLE = 'nfp-diff';

export function svcKey(svc: number): Element['key'] {
  return { concat: [`10.96.${(svc >> 8) & 255}.${svc & 255}`, 'tcp', 80] };
}

export function backendKey(svc: number, slot: number): Element['key'] {
  return { concat: [`10.96.${(svc >> 8) & 255}.${svc & 255}`, 80, slot] };
}

export function endpointIp(svc: number, slot: number, gen = 0): string {
  return `10.${128 + ((svc >> 16) & 63) + gen}.${(svc >> 8) & 255}.${((svc & 255) ^ slot) & 255}`;
}

export const dispatch: Chain = {
  name: 'services',
  rules: [
    {
      stmts: [
        {
          kind: 'vmap',
          key: { kind: 'concat', parts: [{ kind: 'payload', protocol: 'ip', field: 'daddr' }, { kind: 'meta', key: 'l4proto' }, { kind: 'payload', protocol: 'th', field: 'dport' }] },
          map: 'service-ips',
        },
      ],
    },
  ],
};

export const prerouting: Chain = {
  name: 'prerouting',
  base: { type: 'nat', hook: 'prerouting', prio: -100 },
  rules: [{ stmts: [{ kind: 'verdict', verdict: { kind: 'jump', target: 'services' } }] }],
};

export const lb: Chain = { name: 'lb', rules: [{ stmts: [{ kind: 'counter' }] }] };

export function serviceIps(services: number, target = 'lb'): SetDef {
  const elements: Element[] = [];
  for (let s = 0; s < services; s++) elements.push({ key: svcKey(s), data: { kind: 'goto', target } });
  return { name: 'service-ips', keyType: ['ipv4_addr', 'inet_proto', 'inet_service'], dataType: 'verdict', elements };
}

export function backendAddrs(services: number, endpoints: number): SetDef {
  const elements: Element[] = [];
  for (let s = 0; s < services; s++) for (let e = 0; e < endpoints; e++) elements.push({ key: backendKey(s, e), data: endpointIp(s, e) });
  return { name: 'backend-addr', keyType: ['ipv4_addr', 'inet_service', 'mark'], dataType: 'ipv4_addr', elements };
}

export function backendPorts(services: number, endpoints: number): SetDef {
  const elements: Element[] = [];
  for (let s = 0; s < services; s++) for (let e = 0; e < endpoints; e++) elements.push({ key: backendKey(s, e), data: 8080 });
  return { name: 'backend-port', keyType: ['ipv4_addr', 'inet_service', 'mark'], dataType: 'inet_service', elements };
}

export function table(sets: SetDef[], chains: Chain[]): Table {
  return { family: 'ip', name: TABLE, sets, chains };
}

export function layout(services: number, endpoints: number): Ruleset {
  return { tables: [table([serviceIps(services), backendAddrs(services, endpoints), backendPorts(services, endpoints)], [prerouting, dispatch, lb])] };
}

/** `rs` with set `name`'s elements replaced by `f(elements)` (other objects shared). */
export function mapSet(rs: Ruleset, name: string, f: (s: SetDef) => SetDef): Ruleset {
  return { tables: rs.tables.map((t) => ({ ...t, sets: t.sets.map((s) => (s.name === name ? f(s) : s)) })) };
}

export function mapChains(rs: Ruleset, f: (chains: Chain[]) => Chain[]): Ruleset {
  return { tables: rs.tables.map((t) => ({ ...t, chains: f(t.chains) })) };
}
