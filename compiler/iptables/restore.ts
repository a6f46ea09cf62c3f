// The kube-proxy iptables-mode baseline: `iptables-restore` input with the structure, names,
// comments and ordering that pkg/proxy/iptables/proxier.go (v1.33+) writes in syncProxyRules,
// from our service model. Services are written in input order (kube-proxy iterates a Go map, so
// its order between services is random; within a chain everything else is deterministic).

import type { CompileOptions, IpFamily, ServicePort } from '../model/types.js';
import { cidrContains, ipFamily, parseCidr } from '../../ir/ip.js';
import { endpointString, iptablesEndpointChain, iptablesServiceChain, isIptablesServiceChain } from './names.js';
import { goMarkString, localDetectorCidr, planServicePorts, type KubeProxyServicePlan } from './plan.js';
import { kubeProxyProbability } from './probability.js';

export interface IptablesOptions extends CompileOptions {
  /** --iptables-localhost-nodeports (default true); forced off when nodePortAddresses excludes 127.0.0.1. */
  localhostNodePorts?: boolean;
  /** iptables supports MASQUERADE --random-fully (default true, as on any current distro). */
  randomFully?: boolean;
  /** net.netfilter.nf_conntrack_tcp_be_liberal is set: kube-proxy then omits the INVALID drop. */
  conntrackTCPLiberal?: boolean;
  /** kube-proxy's nfacct counters exist (adds `-m nfacct` matches); default false. */
  nfacct?: boolean;
  /**
   * Append what kube-proxy installs outside the restore (EnsureChain/EnsureRule on a full sync):
   * the jumps from the built-in chains and the KUBE-PROXY-CANARY chains. Default true, so that
   * `iptables-restore --noflush` into an empty namespace gives a working proxier.
   */
  includeJumps?: boolean;
}

const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;
const NFACCT_LOCALHOST_NODEPORTS = 'localhost_nps_accepted_pkts';
const NFACCT_INVALID_DROPPED = 'ct_state_invalid_dropped_pkts';

const q = (s: string): string => `"${s}"`;

interface Buffers {
  filterChains: string[];
  filterRules: string[];
  natChains: string[];
  natRules: string[];
}

interface RenderControl {
  /** Services (ns/name) whose service chains are written; undefined = all (full sync). */
  writeServiceChains?: (sp: ServicePort) => boolean;
  /** Chains existing in the kernel before this restore (for -X of stale chains). */
  existingNatChains?: string[];
}

interface Rendered {
  text: string;
  activeNatChains: Set<string>;
}

function effectiveFlags(opts: IptablesOptions, family: IpFamily) {
  const npaCidrs = opts.nodePortAddresses.filter((c) => parseCidr(c)?.family === family);
  const matchAll = npaCidrs.length === 0 || npaCidrs.some((c) => c.endsWith('/0'));
  const allNpa = opts.nodePortAddresses.filter((c) => parseCidr(c)?.family === 4);
  const containsV4Loopback = allNpa.length === 0 || allNpa.some((c) => cidrContains(c, '127.0.0.1') || c.endsWith('/0'));
  const localhostNodePorts = family === 4 && (opts.localhostNodePorts ?? true) && containsV4Loopback;
  return {
    npaCidrs,
    matchAll,
    localhostNodePorts,
    randomFully: opts.randomFully ?? true,
    conntrackTCPLiberal: opts.conntrackTCPLiberal ?? false,
    nfacct: opts.nfacct ?? false,
  };
}

function render(sps: ServicePort[], opts: IptablesOptions, family: IpFamily, ctl: RenderControl): Rendered {
  const flags = effectiveFlags(opts, family);
  const mark = goMarkString(opts.masqueradeBit);
  const isIPv6 = family === 6;
  const b: Buffers = { filterChains: [], filterRules: [], natChains: [], natRules: [] };
  const chainLine = (c: string): string => `:${c} - [0:0]`;

  for (const c of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']) {
    b.filterChains.push(chainLine(c));
  }
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) b.natChains.push(chainLine(c));

  b.natRules.push(`-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`);
  b.natRules.push(`-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`);
  b.natRules.push(
    `-A KUBE-POSTROUTING -m comment --comment ${q('kubernetes service traffic requiring SNAT')} -j MASQUERADE` +
      (flags.randomFully ? ' --random-fully' : ''),
  );
  b.natRules.push(`-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`);

  if (!isIPv6 && flags.localhostNodePorts) {
    b.filterChains.push(chainLine('KUBE-FIREWALL'));
    b.filterRules.push(
      `-A KUBE-FIREWALL -m comment --comment ${q('block incoming localnet connections')} -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    );
  }

  const plans = planServicePorts(sps, family, opts);
  const activeNatChains = new Set<string>();
  const totalEndpoints = plans.reduce((n, p) => n + p.sp.endpoints.length, 0);
  const largeClusterMode = totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
  const svcComment = (c: string): string => (largeClusterMode ? '' : ` -m comment --comment ${c}`);
  const localCidr = localDetectorCidr(opts, family);
  const nodeIP = opts.nodeIPs.find((ip) => ipFamily(ip) === family);

  for (const p of plans) writeService(p);

  function writeService(p: KubeProxyServicePlan): void {
    const sp = p.sp;
    const proto = sp.protocol;
    const name = p.name;
    const svcChain = iptablesServiceChain('KUBE-SVC-', sp);
    const svlChain = iptablesServiceChain('KUBE-SVL-', sp);
    const extChain = iptablesServiceChain('KUBE-EXT-', sp);
    const fwChain = iptablesServiceChain('KUBE-FW-', sp);
    const internalTrafficChain = p.internalPolicyLocal ? svlChain : svcChain;
    const externalPolicyChain = p.externalPolicyLocal ? svlChain : svcChain;
    const usesFWChain = p.hasEndpoints && sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
    const loadBalancerTrafficChain = usesFWChain ? fwChain : extChain;

    let internalFilterTarget = '';
    let internalFilterComment = '';
    let externalFilterTarget = '';
    let externalFilterComment = '';
    if (!p.hasEndpoints) {
      internalFilterTarget = 'REJECT';
      internalFilterComment = q(`${name} has no endpoints`);
      externalFilterTarget = 'REJECT';
      externalFilterComment = internalFilterComment;
    } else {
      if (!p.hasInternalEndpoints) {
        internalFilterTarget = 'DROP';
        internalFilterComment = q(`${name} has no local endpoints`);
      }
      if (!p.hasExternalEndpoints) {
        externalFilterTarget = 'DROP';
        externalFilterComment = q(`${name} has no local endpoints`);
      }
    }
    const portMatch = (ip: string, port: number): string => `-m ${proto} -p ${proto} -d ${ip} --dport ${port}`;

    if (p.hasInternalEndpoints) {
      b.natRules.push(`-A KUBE-SERVICES -m comment --comment ${q(`${name} cluster IP`)} ${portMatch(p.clusterIP, sp.port)} -j ${internalTrafficChain}`);
    } else {
      b.filterRules.push(`-A KUBE-SERVICES -m comment --comment ${internalFilterComment} ${portMatch(p.clusterIP, sp.port)} -j ${internalFilterTarget}`);
    }

    for (const eip of sp.externalIPs) {
      if (p.hasEndpoints) {
        b.natRules.push(`-A KUBE-SERVICES -m comment --comment ${q(`${name} external IP`)} ${portMatch(eip, sp.port)} -j ${extChain}`);
      }
      if (!p.hasExternalEndpoints) {
        b.filterRules.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${externalFilterComment} ${portMatch(eip, sp.port)} -j ${externalFilterTarget}`);
      }
    }

    for (const lbip of sp.loadBalancerIPs) {
      if (p.hasEndpoints) {
        b.natRules.push(`-A KUBE-SERVICES -m comment --comment ${q(`${name} loadbalancer IP`)} ${portMatch(lbip, sp.port)} -j ${loadBalancerTrafficChain}`);
      }
      if (usesFWChain) {
        b.filterRules.push(
          `-A KUBE-PROXY-FIREWALL -m comment --comment ${q(`${name} traffic not accepted by ${fwChain}`)} ${portMatch(lbip, sp.port)} -j DROP`,
        );
      }
    }
    if (!p.hasExternalEndpoints) {
      for (const lbip of sp.loadBalancerIPs) {
        b.filterRules.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${externalFilterComment} ${portMatch(lbip, sp.port)} -j ${externalFilterTarget}`);
      }
    }

    if (sp.nodePort !== undefined && sp.nodePort !== 0) {
      if (p.hasEndpoints) {
        if (flags.localhostNodePorts && flags.nfacct) {
          b.natRules.push(
            `-A KUBE-NODEPORTS -m comment --comment ${name} -m ${proto} -p ${proto} -d 127.0.0.0/8 --dport ${sp.nodePort} -m nfacct --nfacct-name ${NFACCT_LOCALHOST_NODEPORTS} -j ${extChain}`,
          );
        }
        b.natRules.push(`-A KUBE-NODEPORTS -m comment --comment ${name} -m ${proto} -p ${proto} --dport ${sp.nodePort} -j ${extChain}`);
      }
      if (!p.hasExternalEndpoints) {
        b.filterRules.push(
          `-A KUBE-EXTERNAL-SERVICES -m comment --comment ${externalFilterComment} -m addrtype --dst-type LOCAL -m ${proto} -p ${proto} --dport ${sp.nodePort} -j ${externalFilterTarget}`,
        );
      }
    }

    if (sp.healthCheckNodePort !== undefined && sp.healthCheckNodePort !== 0) {
      b.filterRules.push(
        `-A KUBE-NODEPORTS -m comment --comment ${q(`${name} health check node port`)} -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`,
      );
    }

    // From here on only the service's own chains; a partial sync skips unchanged services,
    // but their chains stay active (not deleted).
    const write = ctl.writeServiceChains === undefined || ctl.writeServiceChains(sp);
    const natChains: string[] = write ? b.natChains : [];
    const natRules: string[] = write ? b.natRules : [];

    if (p.hasInternalEndpoints) {
      const args = `-m comment --comment ${q(`${name} cluster IP`)} ${portMatch(p.clusterIP, sp.port)}`;
      if (opts.masqueradeAll) natRules.push(`-A ${internalTrafficChain} ${args} -j KUBE-MARK-MASQ`);
      else if (localCidr !== undefined) natRules.push(`-A ${internalTrafficChain} ${args} ! -s ${localCidr} -j KUBE-MARK-MASQ`);
    }

    if (p.usesExternalTrafficChain) {
      natChains.push(chainLine(extChain));
      activeNatChains.add(extChain);
      if (!p.externalPolicyLocal) {
        natRules.push(`-A ${extChain} -m comment --comment ${q(`masquerade traffic for ${name} external destinations`)} -j KUBE-MARK-MASQ`);
      } else {
        if (localCidr !== undefined) {
          natRules.push(`-A ${extChain} -m comment --comment ${q(`pod traffic for ${name} external destinations`)} -s ${localCidr} -j ${svcChain}`);
        }
        natRules.push(
          `-A ${extChain} -m comment --comment ${q(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
        );
        natRules.push(
          `-A ${extChain} -m comment --comment ${q(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${svcChain}`,
        );
      }
      if (p.hasExternalEndpoints) natRules.push(`-A ${extChain} -j ${externalPolicyChain}`);
    }

    if (usesFWChain) {
      natChains.push(chainLine(fwChain));
      activeNatChains.add(fwChain);
      const args = `-A ${fwChain} -m comment --comment ${q(`${name} loadbalancer IP`)}`;
      let allowFromNode = false;
      for (const cidr of sp.loadBalancerSourceRanges) {
        natRules.push(`${args} -s ${cidr} -j ${extChain}`);
        if (nodeIP !== undefined && cidrContains(cidr, nodeIP)) allowFromNode = true;
      }
      if (allowFromNode) {
        for (const lbip of sp.loadBalancerIPs) natRules.push(`${args} -s ${lbip} -j ${extChain}`);
      }
      natRules.push(`-A ${fwChain} -m comment --comment ${q(`other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL`)}`);
    }

    const writeServiceToEndpointRules = (chain: string, endpoints: KubeProxyServicePlan['clusterEndpoints']): void => {
      if (sp.sessionAffinity !== undefined) {
        for (const ep of endpoints) {
          const sep = iptablesEndpointChain(sp, ep);
          natRules.push(
            `-A ${chain}${svcComment(q(`${name} -> ${endpointString(ep)}`))} -m recent --name ${sep} --rcheck --seconds ${sp.sessionAffinity.timeoutSeconds} --reap -j ${sep}`,
          );
        }
      }
      const n = endpoints.length;
      endpoints.forEach((ep, i) => {
        const sep = iptablesEndpointChain(sp, ep);
        const stat = i < n - 1 ? ` -m statistic --mode random --probability ${kubeProxyProbability(n - i)}` : '';
        natRules.push(`-A ${chain}${svcComment(q(`${name} -> ${endpointString(ep)}`))}${stat} -j ${sep}`);
      });
    };

    if (p.usesClusterPolicyChain) {
      natChains.push(chainLine(svcChain));
      activeNatChains.add(svcChain);
      writeServiceToEndpointRules(svcChain, p.clusterEndpoints);
    }
    if (p.usesLocalPolicyChain) {
      natChains.push(chainLine(svlChain));
      activeNatChains.add(svlChain);
      writeServiceToEndpointRules(svlChain, p.localEndpoints);
    }

    for (const ep of p.reachableEndpoints) {
      const sep = iptablesEndpointChain(sp, ep);
      natChains.push(chainLine(sep));
      activeNatChains.add(sep);
      const head = `-A ${sep}${svcComment(name)}`;
      natRules.push(`${head} -s ${ep.ip} -j KUBE-MARK-MASQ`);
      const affinity = sp.sessionAffinity !== undefined ? ` -m recent --name ${sep} --set` : '';
      natRules.push(`${head}${affinity} -m ${proto} -p ${proto} -j DNAT --to-destination ${endpointString(ep)}`);
    }
  }

  // Stale service chains: a chain line flushes, -X deletes (kube-proxy writes these before the
  // final nodeports jump).
  for (const chain of ctl.existingNatChains ?? []) {
    if (activeNatChains.has(chain) || !isIptablesServiceChain(chain)) continue;
    b.natChains.push(chainLine(chain));
    b.natRules.push(`-X ${chain}`);
  }

  const nodePortsComment = q('kubernetes service nodeports; NOTE: this must be the last rule in this chain');
  if (flags.matchAll) {
    let destinations = '-m addrtype --dst-type LOCAL';
    if (isIPv6) destinations += ' ! -d ::1/128';
    else if (!flags.localhostNodePorts) destinations += ' ! -d 127.0.0.0/8';
    b.natRules.push(`-A KUBE-SERVICES -m comment --comment ${nodePortsComment} ${destinations} -j KUBE-NODEPORTS`);
  } else {
    const nodeIPs = opts.nodeIPs.filter((ip) => ipFamily(ip) === family && flags.npaCidrs.some((c) => cidrContains(c, ip)));
    for (const ip of nodeIPs) {
      const loopback = isIPv6 ? ip === '::1' : cidrContains('127.0.0.0/8', ip);
      if (loopback && (isIPv6 || !flags.localhostNodePorts)) continue;
      b.natRules.push(`-A KUBE-SERVICES -m comment --comment ${nodePortsComment} -d ${ip} -j KUBE-NODEPORTS`);
    }
  }

  if (!flags.conntrackTCPLiberal) {
    b.filterRules.push(`-A KUBE-FORWARD -m conntrack --ctstate INVALID${flags.nfacct ? ` -m nfacct --nfacct-name ${NFACCT_INVALID_DROPPED}` : ''} -j DROP`);
  }
  b.filterRules.push(`-A KUBE-FORWARD -m comment --comment ${q('kubernetes forwarding rules')} -m mark --mark ${mark}/${mark} -j ACCEPT`);
  b.filterRules.push(
    `-A KUBE-FORWARD -m comment --comment ${q('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );

  const lines = ['*filter', ...b.filterChains, ...b.filterRules, 'COMMIT', '*nat', ...b.natChains, ...b.natRules, 'COMMIT'];
  return { text: lines.join('\n') + '\n', activeNatChains };
}

/**
 * What kube-proxy installs with EnsureChain/EnsureRule (iptablesJumpChains, kubelet's
 * KUBE-FIREWALL jumps, the canary chains), as restore input. Each EnsureRule is a Prepend, so
 * `-I CHAIN 1` in the same order leaves the built-in chains exactly as kube-proxy leaves them.
 */
export function iptablesJumpsRestore(family: IpFamily): string {
  type Jump = [table: 'filter' | 'nat', dst: string, src: string, comment: string, extra: string];
  const ctNew = '-m conntrack --ctstate NEW ';
  const jumps: Jump[] = [
    ['filter', 'KUBE-EXTERNAL-SERVICES', 'INPUT', 'kubernetes externally-visible service portals', ctNew],
    ['filter', 'KUBE-EXTERNAL-SERVICES', 'FORWARD', 'kubernetes externally-visible service portals', ctNew],
    ['filter', 'KUBE-NODEPORTS', 'INPUT', 'kubernetes health check service ports', ''],
    ['filter', 'KUBE-SERVICES', 'FORWARD', 'kubernetes service portals', ctNew],
    ['filter', 'KUBE-SERVICES', 'OUTPUT', 'kubernetes service portals', ctNew],
    ['filter', 'KUBE-FORWARD', 'FORWARD', 'kubernetes forwarding rules', ''],
    ['filter', 'KUBE-PROXY-FIREWALL', 'INPUT', 'kubernetes load balancer firewall', ctNew],
    ['filter', 'KUBE-PROXY-FIREWALL', 'OUTPUT', 'kubernetes load balancer firewall', ctNew],
    ['filter', 'KUBE-PROXY-FIREWALL', 'FORWARD', 'kubernetes load balancer firewall', ctNew],
    ['nat', 'KUBE-SERVICES', 'OUTPUT', 'kubernetes service portals', ''],
    ['nat', 'KUBE-SERVICES', 'PREROUTING', 'kubernetes service portals', ''],
    ['nat', 'KUBE-POSTROUTING', 'POSTROUTING', 'kubernetes postrouting rules', ''],
    ['filter', 'KUBE-FIREWALL', 'INPUT', '', ''],
    ['filter', 'KUBE-FIREWALL', 'OUTPUT', '', ''],
  ];
  void family;
  const section = (table: 'filter' | 'nat'): string[] => {
    const out = [`*${table}`, ':KUBE-PROXY-CANARY - [0:0]'];
    // EnsureChain for every jump target (KUBE-FIREWALL included: the IPv6 restore never declares it).
    for (const dst of new Set(jumps.filter((j) => j[0] === table).map((j) => j[1]))) out.push(`:${dst} - [0:0]`);
    for (const [t, dst, src, comment, extra] of jumps) {
      if (t !== table) continue;
      out.push(`-I ${src} 1 ${extra}${comment !== '' ? `-m comment --comment ${q(comment)} ` : ''}-j ${dst}`);
    }
    out.push('COMMIT');
    return out;
  };
  return ['*mangle', ':KUBE-PROXY-CANARY - [0:0]', 'COMMIT', ...section('filter'), ...section('nat')].join('\n') + '\n';
}

/**
 * The full sync kube-proxy writes for `sps` (one IP family: `iptables-restore` input for 4,
 * `ip6tables-restore` input for 6), meant for `--noflush`. With `includeJumps` (default), the
 * built-in chain jumps and canary chains kube-proxy creates outside the restore are prepended,
 * so the text alone sets up a working proxier in an empty namespace.
 */
export function compileIptables(sps: ServicePort[], opts: IptablesOptions, family: IpFamily = 4): string {
  const kubeProxyRestore = render(sps, opts, family, {}).text;
  if (opts.includeJumps === false) return kubeProxyRestore;
  // The KUBE-FIREWALL declaration in the jumps section flushes nothing we wrote yet: the jumps
  // go first, as on a node where EnsureChain/EnsureRule run before the restore.
  return iptablesJumpsRestore(family) + kubeProxyRestore;
}

/** `ns/name` of a service port: kube-proxy decides partial-sync work per Service. */
const serviceKey = (sp: ServicePort): string => `${sp.namespace}/${sp.name}`;

function changedServices(before: ServicePort[], after: ServicePort[], family: IpFamily): Set<string> {
  const group = (sps: ServicePort[]): Map<string, string> => {
    const m = new Map<string, ServicePort[]>();
    for (const sp of sps) {
      if (sp.family !== family) continue;
      const k = serviceKey(sp);
      const list = m.get(k) ?? [];
      list.push(sp);
      m.set(k, list);
    }
    const out = new Map<string, string>();
    for (const [k, list] of m) out.set(k, JSON.stringify([...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))));
    return out;
  };
  const a = group(before);
  const b = group(after);
  const changed = new Set<string>();
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) changed.add(k);
  return changed;
}

/**
 * The partial restore kube-proxy sends when the state goes from `before` to `after` (a sync
 * without needFullSync): every top-level chain and the filter table are rewritten, but service
 * chains only for Services whose ports or endpoints changed; chains no longer used are flushed
 * and deleted (`-X`). Load with `--noflush` on top of the state of `before`.
 */
export function compileIptablesPartial(before: ServicePort[], after: ServicePort[], opts: IptablesOptions, family: IpFamily = 4): string {
  const changed = changedServices(before, after, family);
  const existing = render(before, opts, family, {}).activeNatChains;
  return render(after, opts, family, {
    writeServiceChains: (sp) => changed.has(serviceKey(sp)),
    existingNatChains: [...existing],
  }).text;
}
