// kube-proxy's per-service-port decisions, shared by the iptables and the kube-proxy-nft
// baselines: which endpoints each traffic policy uses, and which chains exist. Mirrors
// proxy.CategorizeEndpoints and the has*/uses* booleans at the top of syncProxyRules, so the
// baselines make the same choices kube-proxy makes.

import { parseCidr } from '../../ir/ip.js';
import { categorizeEndpoints } from '../model/categorize.js';
import type { CompileOptions, Endpoint, IpFamily, ServicePort } from '../model/types.js';
import { endpointString, servicePortName } from './names.js';

export interface KubeProxyServicePlan {
  sp: ServicePort;
  clusterIP: string;
  /** ServicePortName.String(). */
  name: string;
  clusterEndpoints: Endpoint[];
  localEndpoints: Endpoint[];
  /** Endpoints that get an endpoint chain: cluster ∪ local, in endpoint-string order. */
  reachableEndpoints: Endpoint[];
  hasEndpoints: boolean;
  hasInternalEndpoints: boolean;
  hasExternalEndpoints: boolean;
  internalPolicyLocal: boolean;
  externalPolicyLocal: boolean;
  externallyAccessible: boolean;
  usesClusterPolicyChain: boolean;
  usesLocalPolicyChain: boolean;
  usesExternalTrafficChain: boolean;
}

const byEndpointString = (a: Endpoint, b: Endpoint): number => {
  const x = endpointString(a);
  const y = endpointString(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

export function planServicePort(sp: ServicePort, opts: Pick<CompileOptions, 'nodeZone' | 'nodeName'>): KubeProxyServicePlan | undefined {
  if (sp.clusterIP === undefined) return undefined;
  // endpointsMapFromEndpointInfo sorts by Endpoint.String(); every list below keeps that order.
  const endpoints = [...sp.endpoints].sort(byEndpointString);
  const externallyAccessible = sp.nodePort !== undefined || sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0;
  const internalPolicyLocal = sp.internalTrafficPolicy === 'Local';
  const externalPolicyLocal = externallyAccessible && sp.externalTrafficPolicy === 'Local';
  const usesClusterEndpoints = !internalPolicyLocal || (externallyAccessible && !externalPolicyLocal);
  const usesLocalEndpoints = internalPolicyLocal || (externallyAccessible && externalPolicyLocal);

  const cats = categorizeEndpoints(endpoints, sp.internalTrafficPolicy, { zone: opts.nodeZone, name: opts.nodeName });
  const clusterEndpoints = usesClusterEndpoints ? cats.cluster : [];
  const localEndpoints = usesLocalEndpoints ? cats.local : [];
  let hasEndpoints = clusterEndpoints.length > 0;
  if (usesLocalEndpoints && endpoints.some((e) => e.ready || (e.serving && e.terminating))) hasEndpoints = true;

  let reachableEndpoints: Endpoint[];
  if (!usesLocalEndpoints) reachableEndpoints = clusterEndpoints;
  else if (!usesClusterEndpoints) reachableEndpoints = localEndpoints;
  else {
    const merged = new Map<string, Endpoint>();
    for (const e of [...clusterEndpoints, ...localEndpoints]) merged.set(endpointString(e), e);
    // kube-proxy iterates a Go map here (random order); we pick the sorted order.
    reachableEndpoints = [...merged.values()].sort(byEndpointString);
  }

  const hasInternalEndpoints = hasEndpoints && !(internalPolicyLocal && localEndpoints.length === 0);
  const hasExternalEndpoints = hasEndpoints && !(externalPolicyLocal && localEndpoints.length === 0);
  return {
    sp,
    clusterIP: sp.clusterIP,
    name: servicePortName(sp),
    clusterEndpoints,
    localEndpoints,
    reachableEndpoints,
    hasEndpoints,
    hasInternalEndpoints,
    hasExternalEndpoints,
    internalPolicyLocal,
    externalPolicyLocal,
    externallyAccessible,
    usesClusterPolicyChain: clusterEndpoints.length > 0 && usesClusterEndpoints,
    usesLocalPolicyChain: localEndpoints.length > 0 && usesLocalEndpoints,
    usesExternalTrafficChain: hasEndpoints && externallyAccessible,
  };
}

export function planServicePorts(sps: ServicePort[], family: IpFamily, opts: Pick<CompileOptions, 'nodeZone' | 'nodeName'>): KubeProxyServicePlan[] {
  const plans: KubeProxyServicePlan[] = [];
  for (const sp of sps) {
    if (sp.family !== family) continue;
    const plan = planServicePort(sp, opts);
    if (plan !== undefined) plans.push(plan);
  }
  return plans;
}

/** kube-proxy's masquerade mark string: Go's fmt.Sprintf("%#08x", 1<<bit), e.g. 0x00004000. */
export function goMarkString(bit: number): string {
  return '0x' + (2 ** bit).toString(16).padStart(8, '0');
}

/** The pod CIDR of this family used by kube-proxy's ClusterCIDR local-traffic detector. */
export function localDetectorCidr(opts: Pick<CompileOptions, 'clusterCIDRs'>, family: IpFamily): string | undefined {
  return opts.clusterCIDRs.find((c) => parseCidr(c)?.family === family);
}
