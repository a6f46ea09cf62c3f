// The kube-proxy nftables-mode baseline as IR: the table, chains, verdict maps and per-service /
// per-endpoint chains that pkg/proxy/nftables/proxier.go (v1.33) programs in a full sync, from
// our service model. Printed by the same emitters as our own layout (compiler/nft), so the
// benchmark compares two rulesets that differ only in layout.

import type { Chain, Element, Expr, Family, Rule, Ruleset, SetDef, Stmt, Table, Value, Verdict } from '../../ir/types.js';
import { cidrContains, ipFamily, parseCidr } from '../../ir/ip.js';
import { daddr as daddrOf, dport, fibType, gotoStmt, jump, konst, l4proto, mark, match, rule, saddr as saddrOf, set, verdict } from '../ir-build.js';
import { localDetectorCidr, planServicePorts, type KubeProxyServicePlan } from '../iptables/plan.js';
import type { CompileOptions, IpFamily, ServicePort } from '../model/types.js';
import { kubeProxyNftChain } from './names.js';

export const KUBE_PROXY_TABLE = 'kube-proxy';

const C = {
  filterPrerouting: 'filter-prerouting',
  filterInput: 'filter-input',
  filterForward: 'filter-forward',
  filterOutput: 'filter-output',
  filterOutputPostDNAT: 'filter-output-post-dnat',
  natPrerouting: 'nat-prerouting',
  natOutput: 'nat-output',
  natPostrouting: 'nat-postrouting',
  services: 'services',
  serviceEndpointsCheck: 'service-endpoints-check',
  nodePortEndpointsCheck: 'nodeport-endpoints-check',
  reject: 'reject-chain',
  clusterIPsCheck: 'cluster-ips-check',
  firewallCheck: 'firewall-check',
  markMasq: 'mark-for-masquerade',
  masquerading: 'masquerading',
} as const;

const S = {
  serviceIPs: 'service-ips',
  serviceNodePorts: 'service-nodeports',
  nodePortIPs: 'nodeport-ips',
  clusterIPs: 'cluster-ips',
  noEndpointServices: 'no-endpoint-services',
  noEndpointNodePorts: 'no-endpoint-nodeports',
  firewallIPs: 'firewall-ips',
} as const;

// `ct state new`: nft's implicit operator for a bitmask type is `in` (a flag test).
const ctNew: Stmt = match({ kind: 'ct', key: 'state' }, 'in', konst('new'));

function prefixValue(cidr: string): Value {
  const [addr, len] = cidr.split('/');
  return { prefix: { addr: addr ?? cidr, len: Number(len) } };
}

export interface KubeProxyNftOptions extends CompileOptions {
  /** IP families to program (default: 4, plus 6 when any service port is IPv6). */
  families?: IpFamily[];
}

/** kube-proxy's nftables ruleset for `sps`: one `kube-proxy` table per IP family. */
export function compileKubeProxyNft(sps: ServicePort[], opts: KubeProxyNftOptions): Ruleset {
  const families = opts.families ?? (sps.some((s) => s.family === 6) ? [4, 6] : [4]);
  return { tables: families.map((f) => compileTable(sps, opts, f)) };
}

function compileTable(sps: ServicePort[], opts: CompileOptions, family: IpFamily): Table {
  const ipX: Family = family === 6 ? 'ip6' : 'ip';
  const addrType = family === 6 ? 'ipv6_addr' : 'ipv4_addr';
  const daddr = daddrOf(ipX);
  const saddr = saddrOf(ipX);
  const noLocalhost = match(daddr, '!=', konst(family === 6 ? '::1' : prefixValue('127.0.0.0/8')));
  const markBit = 2 ** opts.masqueradeBit;
  const npaCidrs = opts.nodePortAddresses.filter((c) => parseCidr(c)?.family === family);
  const matchAll = npaCidrs.length === 0 || npaCidrs.some((c) => c.endsWith('/0'));
  const localCidr = localDetectorCidr(opts, family);
  const nodeIP = opts.nodeIPs.find((ip) => ipFamily(ip) === family);

  const chains = new Map<string, Chain>();
  const chain = (name: string): Chain => {
    let c = chains.get(name);
    if (c === undefined) {
      c = { name, rules: [] };
      chains.set(name, c);
    }
    return c;
  };
  const add = (name: string, r: Rule): void => {
    chain(name).rules.push(r);
  };

  const base: [string, 'filter' | 'nat', 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting', number][] = [
    [C.filterPrerouting, 'filter', 'prerouting', -110],
    [C.filterInput, 'filter', 'input', -110],
    [C.filterForward, 'filter', 'forward', -110],
    [C.filterOutput, 'filter', 'output', -110],
    [C.filterOutputPostDNAT, 'filter', 'output', -90],
    [C.natPrerouting, 'nat', 'prerouting', -100],
    [C.natOutput, 'nat', 'output', -100],
    [C.natPostrouting, 'nat', 'postrouting', 100],
  ];
  for (const [name, type, hook, prio] of base) chain(name).base = { type, hook, prio };

  const jumps: [dst: string, src: string, ctState: boolean][] = [
    [C.nodePortEndpointsCheck, C.filterInput, true],
    [C.serviceEndpointsCheck, C.filterInput, true],
    [C.serviceEndpointsCheck, C.filterForward, true],
    [C.serviceEndpointsCheck, C.filterOutput, true],
    [C.firewallCheck, C.filterPrerouting, true],
    [C.firewallCheck, C.filterOutput, true],
    [C.services, C.natOutput, false],
    [C.services, C.natPrerouting, false],
    [C.masquerading, C.natPostrouting, false],
    [C.clusterIPsCheck, C.filterForward, true],
    [C.clusterIPsCheck, C.filterOutputPostDNAT, true],
  ];
  for (const [dst, src, ct] of jumps) {
    chain(dst);
    add(src, rule(ct ? [ctNew, jump(dst)] : [jump(dst)]));
  }
  for (const c of [C.services, C.clusterIPsCheck, C.masquerading, C.markMasq]) chain(c);

  add(C.markMasq, rule([{ kind: 'setmark', value: { kind: 'or', left: mark, bits: markBit } }]));
  add(C.masquerading, rule([match({ kind: 'and', left: mark, mask: markBit }, '==', konst(0)), verdict({ kind: 'return' })]));
  add(C.masquerading, rule([{ kind: 'setmark', value: { kind: 'xor', left: mark, bits: markBit } }]));
  add(C.masquerading, rule([{ kind: 'masquerade', fullyRandom: true }]));

  const sets: SetDef[] = [];
  const clusterIPs: SetDef = { name: S.clusterIPs, keyType: [addrType], elements: [] };
  sets.push(clusterIPs);
  add(C.clusterIPsCheck, rule([match(daddr, '==', set(S.clusterIPs)), { kind: 'reject', with: 'icmpx-port-unreachable' }], 'Reject traffic to invalid ports of ClusterIPs'));

  if (!matchAll) {
    const ips = opts.nodeIPs.filter(
      (ip) => ipFamily(ip) === family && npaCidrs.some((c) => cidrContains(c, ip)) && !(family === 4 ? cidrContains('127.0.0.0/8', ip) : ip === '::1'),
    );
    sets.push({ name: S.nodePortIPs, keyType: [addrType], elements: ips.map((ip) => ({ key: ip })) });
  }

  const svcKey: Expr = { kind: 'concat', parts: [daddr, l4proto, dport] };
  const npKey: Expr = { kind: 'concat', parts: [l4proto, dport] };
  const noEndpointServices: SetDef = { name: S.noEndpointServices, keyType: [addrType, 'inet_proto', 'inet_service'], dataType: 'verdict', elements: [] };
  const noEndpointNodePorts: SetDef = { name: S.noEndpointNodePorts, keyType: ['inet_proto', 'inet_service'], dataType: 'verdict', elements: [] };
  sets.push(noEndpointServices, noEndpointNodePorts);
  chain(C.reject);
  add(C.reject, rule([{ kind: 'reject', with: 'icmpx-port-unreachable' }]));
  add(C.serviceEndpointsCheck, rule([{ kind: 'vmap', key: svcKey, map: S.noEndpointServices }]));
  add(
    C.nodePortEndpointsCheck,
    rule(matchAll ? [noLocalhost, { kind: 'vmap', key: npKey, map: S.noEndpointNodePorts }] : [match(daddr, '==', set(S.nodePortIPs)), { kind: 'vmap', key: npKey, map: S.noEndpointNodePorts }]),
  );

  const firewallIPs: SetDef = { name: S.firewallIPs, keyType: [addrType, 'inet_proto', 'inet_service'], dataType: 'verdict', elements: [] };
  sets.push(firewallIPs);
  add(C.firewallCheck, rule([{ kind: 'vmap', key: svcKey, map: S.firewallIPs }]));

  const serviceIPs: SetDef = { name: S.serviceIPs, keyType: [addrType, 'inet_proto', 'inet_service'], dataType: 'verdict', elements: [] };
  const serviceNodePorts: SetDef = { name: S.serviceNodePorts, keyType: ['inet_proto', 'inet_service'], dataType: 'verdict', elements: [] };
  sets.push(serviceIPs, serviceNodePorts);
  add(C.services, rule([{ kind: 'vmap', key: svcKey, map: S.serviceIPs }]));
  add(
    C.services,
    rule(
      matchAll
        ? [match(fibType('daddr'), '==', konst('local')), noLocalhost, { kind: 'vmap', key: npKey, map: S.serviceNodePorts }]
        : [match(daddr, '==', set(S.nodePortIPs)), { kind: 'vmap', key: npKey, map: S.serviceNodePorts }],
    ),
  );

  const seenClusterIPs = new Set<string>();
  const put = (set: SetDef, e: Element): void => {
    set.elements.push(e);
  };
  const rejectVerdict: Verdict = { kind: 'goto', target: C.reject };

  for (const p of planServicePorts(sps, family, opts)) writeService(p);

  function writeService(p: KubeProxyServicePlan): void {
    const sp = p.sp;
    const proto = sp.protocol;
    const svcChain = kubeProxyNftChain.service(sp);
    const localChain = kubeProxyNftChain.local(sp);
    const extChain = kubeProxyNftChain.external(sp);
    const fwChain = kubeProxyNftChain.firewall(sp);
    const internalTrafficChain = p.internalPolicyLocal ? localChain : svcChain;
    const externalPolicyChain = p.externalPolicyLocal ? localChain : svcChain;
    const key = (ip: string, port: number): Value => ({ concat: [ip, proto, port] });

    for (const ep of p.reachableEndpoints) chain(kubeProxyNftChain.endpoint(sp, ep));
    if (p.usesClusterPolicyChain) chain(svcChain);
    if (p.usesLocalPolicyChain) chain(localChain);
    if (p.usesExternalTrafficChain) chain(extChain);

    let internalFilter: Verdict | undefined;
    let externalFilter: Verdict | undefined;
    if (!p.hasEndpoints) {
      internalFilter = rejectVerdict;
      externalFilter = rejectVerdict;
    } else {
      if (!p.hasInternalEndpoints) internalFilter = { kind: 'drop' };
      if (!p.hasExternalEndpoints) externalFilter = { kind: 'drop' };
    }

    if (!seenClusterIPs.has(p.clusterIP)) {
      seenClusterIPs.add(p.clusterIP);
      put(clusterIPs, { key: p.clusterIP });
    }
    if (p.hasInternalEndpoints) put(serviceIPs, { key: key(p.clusterIP, sp.port), data: { kind: 'goto', target: internalTrafficChain } });
    else if (internalFilter !== undefined) put(noEndpointServices, { key: key(p.clusterIP, sp.port), data: internalFilter, comment: p.name });

    for (const eip of sp.externalIPs) {
      if (p.hasEndpoints) put(serviceIPs, { key: key(eip, sp.port), data: { kind: 'goto', target: extChain } });
      if (!p.hasExternalEndpoints && externalFilter !== undefined) put(noEndpointServices, { key: key(eip, sp.port), data: externalFilter, comment: p.name });
    }

    const usesFWChain = sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
    if (usesFWChain) chain(fwChain);
    for (const lbip of sp.loadBalancerIPs) {
      if (p.hasEndpoints) put(serviceIPs, { key: key(lbip, sp.port), data: { kind: 'goto', target: extChain } });
      if (usesFWChain) put(firewallIPs, { key: key(lbip, sp.port), data: { kind: 'goto', target: fwChain } });
    }
    if (!p.hasExternalEndpoints && externalFilter !== undefined) {
      for (const lbip of sp.loadBalancerIPs) put(noEndpointServices, { key: key(lbip, sp.port), data: externalFilter, comment: p.name });
    }

    if (sp.nodePort !== undefined && sp.nodePort !== 0) {
      const npk: Value = { concat: [proto, sp.nodePort] };
      if (p.hasEndpoints) put(serviceNodePorts, { key: npk, data: { kind: 'goto', target: extChain } });
      if (!p.hasExternalEndpoints && externalFilter !== undefined) put(noEndpointNodePorts, { key: npk, data: externalFilter, comment: p.name });
    }

    if (p.hasInternalEndpoints) {
      const head = [match(daddr, '==', konst(p.clusterIP)), match(l4proto, '==', konst(proto)), match(dport, '==', konst(sp.port))];
      if (opts.masqueradeAll) add(internalTrafficChain, rule([...head, jump(C.markMasq)]));
      else if (localCidr !== undefined) add(internalTrafficChain, rule([...head, match(saddr, '!=', konst(prefixValue(localCidr))), jump(C.markMasq)]));
    }

    if (p.usesExternalTrafficChain) {
      if (!p.externalPolicyLocal) add(extChain, rule([jump(C.markMasq)]));
      else {
        if (localCidr !== undefined) add(extChain, rule([match(saddr, '==', konst(prefixValue(localCidr))), gotoStmt(svcChain)], 'short-circuit pod traffic'));
        const fibLocal = match(fibType('saddr'), '==', konst('local'));
        add(extChain, rule([fibLocal, jump(C.markMasq)], 'masquerade local traffic'));
        add(extChain, rule([fibLocal, gotoStmt(svcChain)], 'short-circuit local traffic'));
      }
      if (p.hasExternalEndpoints) add(extChain, rule([gotoStmt(externalPolicyChain)]));
    }

    if (usesFWChain) {
      const sources: Value[] = [];
      let allowFromNode = false;
      for (const cidr of sp.loadBalancerSourceRanges) {
        sources.push(prefixValue(cidr));
        if (nodeIP !== undefined && cidrContains(cidr, nodeIP)) allowFromNode = true;
      }
      if (allowFromNode) for (const lbip of sp.loadBalancerIPs) sources.push(lbip);
      add(fwChain, rule([match(saddr, '!=', { kind: 'anonset', elements: sources }), verdict({ kind: 'drop' })]));
    }

    if (sp.sessionAffinity !== undefined) {
      for (const ep of p.reachableEndpoints) {
        sets.push({
          name: kubeProxyNftChain.affinity(sp, ep),
          keyType: [addrType],
          flags: ['timeout'],
          timeout: sp.sessionAffinity.timeoutSeconds,
          elements: [],
          dynamic: true,
        });
      }
    }

    const toEndpoints = (c: string, eps: KubeProxyServicePlan['clusterEndpoints']): void => {
      if (sp.sessionAffinity !== undefined) {
        for (const ep of eps) add(c, rule([match(saddr, '==', set(kubeProxyNftChain.affinity(sp, ep))), gotoStmt(kubeProxyNftChain.endpoint(sp, ep))]));
      }
      add(c, rule([{ kind: 'anonvmap', key: { kind: 'numgen', mod: eps.length }, entries: eps.map((ep, i) => [i, { kind: 'goto', target: kubeProxyNftChain.endpoint(sp, ep) }]) }]));
    };
    if (p.usesClusterPolicyChain) toEndpoints(svcChain, p.clusterEndpoints);
    if (p.usesLocalPolicyChain) toEndpoints(localChain, p.localEndpoints);

    for (const ep of p.reachableEndpoints) {
      const epChain = kubeProxyNftChain.endpoint(sp, ep);
      add(epChain, rule([match(saddr, '==', konst(ep.ip)), jump(C.markMasq)]));
      if (sp.sessionAffinity !== undefined) add(epChain, rule([{ kind: 'setupdate', set: kubeProxyNftChain.affinity(sp, ep), elem: saddr }]));
      add(epChain, rule([match(l4proto, '==', konst(proto)), { kind: 'dnat', family: ipX, addr: konst(ep.ip), port: konst(ep.port) }]));
    }
  }

  return { family: ipX, name: KUBE_PROXY_TABLE, sets, chains: [...chains.values()] };
}
