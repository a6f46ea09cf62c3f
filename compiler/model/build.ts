// Kubernetes objects → the service model. Validates every object at the boundary (schema.ts),
// reports what is wrong as Problems and leaves the bad object out (or only its bad part, where
// Kubernetes itself treats the parts independently: one endpoint, one slice port, one node
// address). Never throws on input data: one bad object must not block the others.
//
// Endpoint resolution follows kube-proxy (pkg/proxy/endpointslicecache.go): a service port takes
// its endpoints from every EndpointSlice of the service whose port has the same name and
// protocol; that slice port's number is the target port (the endpoint controller already
// resolved named and numeric targetPorts per pod). Only the first address of an endpoint counts.

import type { z } from 'zod';
import { bigIntToIp, cidrContains, ipFamily, ipSortKey, normalizeCidr, normalizeIp, parseCidr, parseIp } from '../../ir/ip.js';
import { categorizeEndpoints } from './categorize.js';
import { objectsOfOtherProxies } from './proxy-filter.js';
import { resolveConflicts } from './conflicts.js';
import {
  SERVICE_NAME_LABEL,
  ZONE_LABEL,
  dnsLabel,
  endpointPortSchema,
  endpointSchema,
  endpointSliceSchema,
  nodeAddressSchema,
  nodeSchema,
  serviceCIDRSchema,
  serviceSchema,
  type ServiceObject,
} from './schema.js';
import {
  defaultCompileOptions,
  type ClusterModel,
  type CompileOptions,
  type Endpoint,
  type IpFamily,
  type NodeInfo,
  type Problem,
  type Protocol,
  type ServicePort,
} from './types.js';

/** kube-proxy's default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

type PathItem = PropertyKey;

/** `['spec','ports',1,'port']` → `spec.ports[1].port`; label keys → `metadata.labels["a/b"]`. */
export function formatPath(path: readonly PathItem[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][\w$]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Kubernetes treats an explicit null as an absent field; so do we (YAML `field:` is null).
 * Copy-on-write: objects without nulls are returned as they are, so large dumps cost no copies.
 */
function dropNulls(v: unknown, depth = 0): unknown {
  if (depth > 64) return undefined; // defends against pathological (aliased/cyclic) input
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const y = dropNulls(x, depth + 1);
      if (y !== x && out === undefined) out = v.slice(0, i);
      if (out !== undefined) out.push(y);
    }
    return out ?? v;
  }
  if (isRecord(v)) {
    let out: Record<string, unknown> | undefined;
    const keys = Object.keys(v);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const x = v[k];
      const y = x === null ? undefined : dropNulls(x, depth + 1);
      if (y !== x && out === undefined) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j] as string] = v[keys[j] as string];
      }
      if (out !== undefined && x !== null) out[k] = y;
    }
    return out ?? v;
  }
  return v;
}

interface Identity {
  kind: string;
  namespace?: string;
  name?: string;
}

function identityOf(kind: string, obj: Record<string, unknown>, namespaced: boolean): Identity {
  const md = isRecord(obj['metadata']) ? obj['metadata'] : {};
  const id: Identity = { kind };
  if (namespaced) id.namespace = typeof md['namespace'] === 'string' ? md['namespace'] : 'default';
  if (typeof md['name'] === 'string') id.name = md['name'];
  return id;
}

class ProblemLog {
  readonly problems: Problem[] = [];

  add(id: Identity, field: string | undefined, message: string): void {
    const p: Problem = { kind: id.kind, message };
    if (id.namespace !== undefined) p.namespace = id.namespace;
    if (id.name !== undefined) p.name = id.name;
    if (field !== undefined && field !== '') p.field = field;
    this.problems.push(p);
  }

  addIssues(id: Identity, prefix: PathItem[], error: z.ZodError): void {
    for (const issue of error.issues) this.add(id, formatPath([...prefix, ...issue.path]), issue.message);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsed, validated pieces

export interface SlicePort {
  name: string;
  protocol: Protocol;
  port: number;
}

/** An endpoint as a slice states it: the model's Endpoint before its port and locality are known. */
export type SliceEndpoint = Omit<Endpoint, 'port' | 'isLocal'>;

/** A validated EndpointSlice, reduced to what endpoint resolution needs. */
export interface EndpointSliceInfo {
  name: string;
  family: IpFamily;
  ports: SlicePort[];
  endpoints: SliceEndpoint[];
}

const toProtocol = (p: 'TCP' | 'UDP' | 'SCTP'): Protocol => p.toLowerCase() as Protocol;

function parseSlice(raw: Record<string, unknown>, log: ProblemLog): { service: string; slice: EndpointSliceInfo } | undefined {
  const id = identityOf('EndpointSlice', raw, true);
  const top = endpointSliceSchema.safeParse(raw);
  if (!top.success) {
    log.addIssues(id, [], top.error);
    return undefined;
  }
  const es = top.data;
  if (es.addressType === 'FQDN') return undefined; // kube-proxy ignores FQDN slices
  const family: IpFamily = es.addressType === 'IPv4' ? 4 : 6;

  const labelPath = formatPath(['metadata', 'labels', SERVICE_NAME_LABEL]);
  const service = es.metadata.labels[SERVICE_NAME_LABEL];
  if (service === undefined || service === '') {
    log.add(id, labelPath, `required label is missing (expected the name of the Service this slice belongs to); slice ignored`);
    return undefined;
  }
  const svcName = dnsLabel.safeParse(service);
  if (!svcName.success) {
    log.add(id, labelPath, `${svcName.error.issues[0]?.message ?? 'invalid'}; slice ignored`);
    return undefined;
  }

  const ports: SlicePort[] = [];
  es.ports.forEach((rawPort, i) => {
    const r = endpointPortSchema.safeParse(rawPort);
    if (!r.success) {
      log.addIssues(id, ['ports', i], r.error);
      return;
    }
    if (r.data.name === undefined) {
      log.add(id, formatPath(['ports', i, 'name']), 'required field is missing (expected a port name, "" for an unnamed port; kube-proxy ignores ports without one); port skipped');
      return;
    }
    if (r.data.port === undefined) return;
    const p: SlicePort = { name: r.data.name, protocol: toProtocol(r.data.protocol), port: r.data.port };
    const dup = ports.findIndex((q) => q.name === p.name && q.protocol === p.protocol);
    if (dup >= 0) {
      log.add(id, formatPath(['ports', i, 'name']), `expected unique port name/protocol, "${p.name}"/${p.protocol} appears twice; first kept`);
      return;
    }
    ports.push(p);
  });

  const endpoints: SliceEndpoint[] = [];
  es.endpoints.forEach((rawEp, i) => {
    const r = endpointSchema.safeParse(rawEp);
    if (!r.success) {
      log.addIssues(id, ['endpoints', i], r.error);
      return;
    }
    const ep = r.data;
    // Consumers use only the first address (the API documents the others as unused).
    const addr = ep.addresses[0] ?? '';
    const parsed = parseIp(addr);
    const field = formatPath(['endpoints', i, 'addresses', 0]);
    if (parsed === undefined) {
      log.add(id, field, `expected an ${es.addressType} address, got ${JSON.stringify(addr)}; endpoint skipped`);
      return;
    }
    if (parsed.family !== family) {
      log.add(id, field, `expected an ${es.addressType} address (the slice's addressType), got ${addr}; endpoint skipped`);
      return;
    }
    const out: SliceEndpoint = {
      ip: parsed.family === 4 ? (normalizeIp(addr) as string) : bigIntToIp(parsed.value, parsed.family),
      ready: ep.conditions.ready ?? true,
      serving: ep.conditions.serving ?? true,
      terminating: ep.conditions.terminating ?? false,
    };
    if (ep.nodeName !== undefined) out.nodeName = ep.nodeName;
    if (ep.zone !== undefined) out.zone = ep.zone;
    const zones = ep.hints?.forZones?.map((z) => z.name);
    if (zones !== undefined && zones.length > 0) out.hintZones = zones;
    const hintNodes = ep.hints?.forNodes?.map((n) => n.name);
    if (hintNodes !== undefined && hintNodes.length > 0) out.hintNodes = hintNodes;
    endpoints.push(out);
  });

  return { service: `${es.metadata.namespace}/${svcName.data}`, slice: { name: es.metadata.name, family, ports, endpoints } };
}

function resolveNode(nodes: Map<string, Record<string, unknown>>, options: CompileOptions, log: ProblemLog): NodeInfo {
  const info: NodeInfo = { addresses: [] };
  if (options.nodeName !== undefined && options.nodeName !== '') info.name = options.nodeName;
  const raw = info.name === undefined ? undefined : nodes.get(info.name);
  const nodeId = raw === undefined ? undefined : identityOf('Node', raw, false);
  const parsed = raw === undefined ? undefined : nodeSchema.safeParse(raw);
  if (parsed !== undefined && !parsed.success && nodeId !== undefined) log.addIssues(nodeId, [], parsed.error);
  const node = parsed?.success === true ? parsed.data : undefined;

  const zone = options.nodeZone ?? node?.metadata.labels[ZONE_LABEL];
  if (zone !== undefined && zone !== '') info.zone = zone;

  const addresses: string[] = [];
  const push = (ip: string): void => {
    if (!addresses.includes(ip)) addresses.push(ip);
  };
  if (options.nodeIPs.length > 0) {
    options.nodeIPs.forEach((s, i) => {
      const ip = normalizeIp(s);
      if (ip === undefined) log.add({ kind: 'CompileOptions' }, `nodeIPs[${i}]`, `expected an IP address, got ${JSON.stringify(s)}`);
      else push(ip);
    });
  } else if (node !== undefined && nodeId !== undefined) {
    node.status.addresses.forEach((rawAddr, i) => {
      const r = nodeAddressSchema.safeParse(rawAddr);
      if (!r.success) {
        log.addIssues(nodeId, ['status', 'addresses', i], r.error);
        return;
      }
      if (r.data.type !== 'InternalIP' && r.data.type !== 'ExternalIP') return;
      const ip = normalizeIp(r.data.address);
      if (ip === undefined) {
        log.add(nodeId, formatPath(['status', 'addresses', i, 'address']), `expected an IP address, got ${JSON.stringify(r.data.address)}`);
      } else push(ip);
    });
  }
  info.addresses = addresses;
  if (node !== undefined && nodeId !== undefined) {
    const primary = primaryIPsOf(node.status.addresses);
    if (primary.length > 0) info.primaryIPs = primary;
    const podCIDRs: string[] = [];
    node.spec.podCIDRs.forEach((c, i) => {
      const n = typeof c === 'string' ? normalizeCidr(c) : undefined;
      if (n === undefined) log.add(nodeId, formatPath(['spec', 'podCIDRs', i]), `expected a CIDR such as 10.244.1.0/24, got ${JSON.stringify(c)}; ignored`);
      else if (!podCIDRs.includes(n)) podCIDRs.push(n);
    });
    if (podCIDRs.length > 0) info.podCIDRs = podCIDRs;
  }
  return info;
}

/**
 * The node's primary IP of each family, as kube-proxy picks its node IPs from the Node object
 * (k8s.io/component-helpers GetNodeHostIPs): InternalIPs first, then ExternalIPs, the first of
 * each family. Invalid entries were reported by resolveNode and are skipped here.
 */
function primaryIPsOf(rawAddresses: unknown[]): string[] {
  const parsed = rawAddresses.map((a) => nodeAddressSchema.safeParse(a)).flatMap((r) => (r.success ? [r.data] : []));
  const ordered = [...parsed.filter((a) => a.type === 'InternalIP'), ...parsed.filter((a) => a.type === 'ExternalIP')];
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    for (const a of ordered) {
      const ip = normalizeIp(a.address);
      if (ip !== undefined && ipFamily(ip) === family) {
        out.push(ip);
        break;
      }
    }
  }
  return out;
}

/**
 * The endpoints of one service port from all slices of its service. Duplicates are the same
 * `ip:port` (kube-proxy's endpointslicecache addEndpoints): the same address with two target
 * ports, e.g. from an old and a new slice during a rollout, is two endpoints. Among copies of one
 * `ip:port` a local one wins (as in kube-proxy), then a ready one, then the first.
 */
function mergeEndpoints(slices: EndpointSliceInfo[], family: IpFamily, portName: string, protocol: Protocol, nodeName: string | undefined): Endpoint[] {
  const byIp = new Map<string, Endpoint>();
  for (const slice of slices) {
    if (slice.family !== family) continue;
    const sp = slice.ports.find((p) => p.name === portName && p.protocol === protocol);
    if (sp === undefined) continue;
    for (const e of slice.endpoints) {
      const id = `${e.ip} ${sp.port}`;
      const prev = byIp.get(id);
      const isLocal = nodeName !== undefined && e.nodeName === nodeName;
      if (prev !== undefined && (prev.isLocal || !isLocal) && (prev.isLocal !== isLocal || prev.ready || !e.ready)) continue;
      const ep: Endpoint = {
        ip: e.ip,
        port: sp.port,
        ready: e.ready,
        serving: e.serving,
        terminating: e.terminating,
        isLocal,
      };
      if (e.nodeName !== undefined) ep.nodeName = e.nodeName;
      if (e.zone !== undefined) ep.zone = e.zone;
      if (e.hintZones !== undefined) ep.hintZones = [...e.hintZones];
      if (e.hintNodes !== undefined) ep.hintNodes = [...e.hintNodes];
      byIp.set(id, ep);
    }
  }
  // Decorate-sort: parsing addresses inside the comparator would dominate at scale.
  return [...byIp.values()]
    .map((e) => ({ e, key: ipSortKey(e.ip) ?? 0 }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.e.port - b.e.port))
    .map((x) => x.e);
}

function uniqueOfFamily(values: string[], family: IpFamily, normalize: (s: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const v of values) {
    const n = normalize(v);
    if (n === undefined || out.includes(n)) continue;
    const fam = n.includes('/') ? parseCidr(n)?.family : ipFamily(n);
    if (fam === family) out.push(n);
  }
  return out;
}

/**
 * Source ranges without the ones another range contains (`10.1.0.0/16` inside `10.0.0.0/8`,
 * anything inside `0.0.0.0/0`): an interval set refuses overlapping intervals, and the
 * contained range allows nothing the outer one does not. Input order kept.
 */
export function outermostRanges(cidrs: string[]): string[] {
  const parsed = cidrs.map((c) => ({ c, p: parseCidr(c) }));
  return parsed
    .filter(({ c, p }, i) => {
      if (p === undefined) return false;
      return !parsed.some((o, j) => {
        if (j === i || o.p === undefined || o.p.len > p.len) return false;
        // Equal prefixes were deduplicated already; a strictly shorter one that contains us wins.
        return o.p.len < p.len && cidrContains(o.c, p.addr);
      });
    })
    .map(({ c }) => c);
}

function servicePortsOf(svc: ServiceObject, slices: EndpointSliceInfo[], node: NodeInfo): ServicePort[] {
  const { spec, metadata } = svc;
  if (spec.type === 'ExternalName') return [];
  const clusterIPs = spec.clusterIPs ?? (spec.clusterIP !== undefined ? [spec.clusterIP] : []);
  if (clusterIPs[0] === 'None' || clusterIPs.length === 0) return []; // headless: DNS only
  const lbIPs = (svc.status?.loadBalancer?.ingress ?? [])
    .filter((ing) => ing.ip !== undefined && ing.ipMode !== 'Proxy')
    .map((ing) => ing.ip ?? '');
  const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  const hasNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  // As kube-proxy (NeedsHealthCheck): the health-check port only means something for LB + ETP Local.
  const needsHealthCheck = spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';

  const out: ServicePort[] = [];
  const families = clusterIPs
    .map((ip) => normalizeIp(ip))
    .filter((ip): ip is string => ip !== undefined)
    .map((ip) => ({ ip, family: ipFamily(ip) as IpFamily }))
    .sort((a, b) => a.family - b.family);
  for (const { ip, family } of families) {
    const lbOfFamily = uniqueOfFamily(lbIPs, family, normalizeIp);
    for (const p of spec.ports) {
      const protocol = toProtocol(p.protocol);
      const endpoints = mergeEndpoints(slices, family, p.name, protocol, node.name);
      const cats = categorizeEndpoints(endpoints, spec.internalTrafficPolicy, node);
      const sp: ServicePort = {
        // kube-proxy's ServicePortName.String(): no colon for an unnamed port.
        id: p.name ? `${metadata.namespace}/${metadata.name}:${p.name}` : `${metadata.namespace}/${metadata.name}`,
        namespace: metadata.namespace,
        name: metadata.name,
        ...(metadata.creationTimestamp !== undefined ? { creationTimestamp: metadata.creationTimestamp } : {}),
        portName: p.name,
        protocol,
        family,
        clusterIP: ip,
        port: p.port,
        // An address that is both an externalIP and an LB ingress IP is one key: kept as the LB IP
        // (which carries the loadBalancerSourceRanges firewall), listed once.
        externalIPs: uniqueOfFamily(spec.externalIPs, family, normalizeIp).filter((x) => !lbOfFamily.includes(x)),
        loadBalancerIPs: lbOfFamily,
        loadBalancerSourceRanges: outermostRanges(uniqueOfFamily(spec.loadBalancerSourceRanges, family, normalizeCidr)),
        externalTrafficPolicy: spec.externalTrafficPolicy,
        internalTrafficPolicy: spec.internalTrafficPolicy,
        endpoints,
        clusterEndpoints: cats.internal,
        externalEndpoints: cats.cluster,
        localEndpoints: cats.local,
      };
      if (hasNodePorts && p.nodePort !== undefined) sp.nodePort = p.nodePort;
      if (spec.sessionAffinity === 'ClientIP') sp.sessionAffinity = { timeoutSeconds: timeout };
      if (needsHealthCheck && spec.healthCheckNodePort !== undefined) sp.healthCheckNodePort = spec.healthCheckNodePort;
      out.push(sp);
    }
  }
  return out;
}

const KIND_API_VERSIONS: Record<string, (apiVersion: unknown) => boolean> = {
  // Other API groups reuse these kind names (Knative's serving.knative.dev/v1 Service): not ours.
  Service: (v) => v === undefined || v === 'v1',
  EndpointSlice: (v) => v === undefined || (typeof v === 'string' && v.startsWith('discovery.k8s.io/')),
  Node: (v) => v === undefined || v === 'v1',
  ServiceCIDR: (v) => typeof v === 'string' && v.startsWith('networking.k8s.io/'),
};

/** Kubernetes objects → the resolved service model (every map/set key has one owner). */
export function buildModel(objects: readonly unknown[], options: CompileOptions = defaultCompileOptions): ClusterModel {
  const model = buildUnresolvedModel(objects, options);
  const resolved = resolveConflicts(model.servicePorts);
  return { ...model, servicePorts: resolved.servicePorts, conflicts: resolved.conflicts };
}

/**
 * The model before conflict resolution (`conflicts` is empty): for callers that assemble the
 * model from parts and resolve it themselves with a ConflictResolver (the daemon's ModelCache).
 */
export function buildUnresolvedModel(objects: readonly unknown[], options: CompileOptions = defaultCompileOptions): ClusterModel {
  const log = new ProblemLog();
  const services = new Map<string, ServiceObject>();
  const slicesByService = new Map<string, EndpointSliceInfo[]>();
  const sliceNames = new Set<string>();
  const nodes = new Map<string, Record<string, unknown>>();
  const serviceCIDRs: string[] = [];
  const otherProxies = objectsOfOtherProxies(objects); // kube-proxy's informer label selector
  log.problems.push(...otherProxies.problems);

  objects.forEach((input, index) => {
    if (otherProxies.skip.has(input)) return;
    const obj = dropNulls(input);
    if (!isRecord(obj)) {
      log.add({ kind: 'input' }, `[${index}]`, `expected a Kubernetes object (a mapping with kind and metadata), got ${Array.isArray(obj) ? 'a list' : typeof obj}`);
      return;
    }
    const kind = obj['kind'];
    if (typeof kind !== 'string' || kind === '') {
      log.add(identityOf('input', obj, false), `[${index}].kind`, 'required field is missing (expected the object kind, e.g. Service)');
      return;
    }
    const accepts = KIND_API_VERSIONS[kind];
    if (accepts === undefined || !accepts(obj['apiVersion'])) return; // kinds we do not use

    if (kind === 'Service') {
      const id = identityOf(kind, obj, true);
      const r = serviceSchema.safeParse(obj);
      if (!r.success) {
        log.addIssues(id, [], r.error);
        return;
      }
      const key = `${r.data.metadata.namespace}/${r.data.metadata.name}`;
      if (services.has(key)) {
        log.add(id, undefined, 'expected each Service once; this duplicate is ignored (the first one is used)');
        return;
      }
      services.set(key, r.data);
    } else if (kind === 'EndpointSlice') {
      const parsed = parseSlice(obj, log);
      if (parsed === undefined) return;
      const ns = parsed.service.slice(0, parsed.service.indexOf('/'));
      const sliceKey = `${ns}/${parsed.slice.name}`;
      if (sliceNames.has(sliceKey)) {
        log.add(identityOf(kind, obj, true), undefined, 'expected each EndpointSlice once; this duplicate is ignored (the first one is used)');
        return;
      }
      sliceNames.add(sliceKey);
      const list = slicesByService.get(parsed.service) ?? [];
      list.push(parsed.slice);
      slicesByService.set(parsed.service, list);
    } else if (kind === 'ServiceCIDR') {
      const r = parseServiceCIDR(obj, log);
      for (const c of r) if (!serviceCIDRs.includes(c)) serviceCIDRs.push(c);
    } else {
      const md = obj['metadata'];
      const name = isRecord(md) && typeof md['name'] === 'string' ? md['name'] : undefined;
      if (name !== undefined && !nodes.has(name)) nodes.set(name, obj);
      else if (name === undefined) log.add({ kind: 'Node' }, 'metadata.name', 'required field is missing (expected the node name)');
    }
  });

  const node = resolveNode(nodes, options, log);
  const servicePorts: ServicePort[] = [];
  const keys = [...services.keys()].sort();
  for (const key of keys) {
    const svc = services.get(key);
    if (svc === undefined) continue;
    // servicePortsFor sorts slices by name so that "first seen wins" does not depend on input order.
    servicePorts.push(...servicePortsFor(svc, slicesByService.get(key) ?? [], node));
  }
  return { servicePorts, node, problems: log.problems, conflicts: [], serviceCIDRs };
}

/** The normalised CIDRs of one ServiceCIDR object; nothing (and a Problem) when it is invalid. */
function parseServiceCIDR(obj: Record<string, unknown>, log: ProblemLog): string[] {
  const r = serviceCIDRSchema.safeParse(obj);
  if (!r.success) {
    log.addIssues(identityOf('ServiceCIDR', obj, false), [], r.error);
    return [];
  }
  return r.data.spec.cidrs.map((c) => normalizeCidr(c)).filter((c): c is string => c !== undefined);
}

/** The service ports of one validated Service, from the validated slices that name it. */
export function servicePortsFor(service: ServiceObject, slices: readonly EndpointSliceInfo[], node: NodeInfo): ServicePort[] {
  const sorted = [...slices].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return servicePortsOf(service, sorted, node);
}
