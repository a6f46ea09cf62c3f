// The benchmark's cluster and its random single-endpoint changes, shared by every system so
// that all of them program the same states. The model is updated per change the way an
// incremental proxier would: only the changed Service is rebuilt (its Service + slice + nodes).

import { buildModel } from '../compiler/model/build.js';
import type { ClusterModel, CompileOptions, ServicePort } from '../compiler/model/types.js';
import { defaultCompileOptions } from '../compiler/model/types.js';
import { generateCluster, podIp, serviceName, type K8sObject } from './generate.js';
import { prng } from './stats.js';

export const POD_CIDR = '10.128.0.0/9';
export const NODE_NAME = 'node-a';
export const NODE_IP = '172.16.0.1';
const NODES = ['node-a', 'node-b', 'node-c'];

export interface ScenarioSpec {
  services: number;
  /** Uniform: every service's endpoint count. Realistic: unused (the counts are drawn). */
  endpointsPerService: number;
  /** `uniform` (default) or `realistic`: seeded heavy-tailed endpoint counts, some multi-port and NodePort services. */
  distribution?: 'uniform' | 'realistic';
  /** Seed of the realistic draw. */
  seed?: number;
  /** One more service (index 1) with this many endpoints; every planned change then hits it. */
  bigService?: number;
}

/**
 * Realistic endpoint counts: 60% of services have 1–2 endpoints, 30% 3–20, 9% 21–200 and 1%
 * 201–5,000, log-uniform within each band; 15% are multi-port (2–3 ports), 10% NodePort.
 */
export function realisticShape(services: number, seed: number): { endpoints: number[]; ports: number[]; nodePort: boolean[] } {
  const rnd = prng(seed ^ 0x5eed);
  const bands: [number, number, number][] = [
    [0.6, 1, 2],
    [0.9, 3, 20],
    [0.99, 21, 200],
    [1, 201, 5000],
  ];
  const endpoints: number[] = [];
  const ports: number[] = [];
  const nodePort: boolean[] = [];
  for (let i = 0; i < services; i++) {
    const u = rnd();
    const [, lo, hi] = bands.find(([p]) => u < p) ?? (bands[3] as [number, number, number]);
    // Log-uniform on [lo, hi + 1): every integer of the band reachable, small ones more often.
    const n = Math.floor(Math.exp(Math.log(lo) + rnd() * (Math.log(hi + 1) - Math.log(lo))));
    endpoints.push(Math.min(hi, Math.max(lo, n)));
    ports.push(rnd() < 0.15 ? 2 + Math.floor(rnd() * 2) : 1);
    nodePort.push(rnd() < 0.1);
  }
  return { endpoints, ports, nodePort };
}

/** Services in the cluster (the big one included). */
export function serviceCount(spec: ScenarioSpec): number {
  return spec.services + (spec.bigService ? 1 : 0);
}

/** Endpoint count of every service, by index. */
export function endpointCounts(spec: ScenarioSpec): number[] {
  const base = spec.distribution === 'realistic' ? realisticShape(spec.services, spec.seed ?? 1).endpoints : Array.from({ length: spec.services }, () => spec.endpointsPerService);
  if (spec.bigService) base.splice(1, 0, spec.bigService);
  return base;
}

export function totalEndpointCount(spec: ScenarioSpec): number {
  return endpointCounts(spec).reduce((a, b) => a + b, 0);
}

/** One random change: endpoint `slot` of service `service` moves to the fresh address `ip`. */
export interface Change {
  service: number;
  slot: number;
  ip: string;
}

export function benchCompileOptions(): CompileOptions {
  return { ...defaultCompileOptions, clusterCIDRs: [POD_CIDR], nodeName: NODE_NAME, nodeIPs: [NODE_IP] };
}

export function generateObjects(spec: ScenarioSpec): K8sObject[] {
  const counts = endpointCounts(spec);
  if (spec.distribution !== 'realistic') return generateCluster({ services: counts.length, endpointsPerService: (i) => counts[i] as number, nodes: NODES });
  const shape = realisticShape(spec.services, spec.seed ?? 1);
  // The big service (index 1) is a plain single-port ClusterIP service.
  const at = (list: number[] | boolean[], i: number) => (spec.bigService ? (i === 1 ? undefined : list[i > 1 ? i - 1 : i]) : list[i]);
  return generateCluster({
    services: counts.length,
    endpointsPerService: (i) => counts[i] as number,
    ports: (i) => (at(shape.ports, i) as number | undefined) ?? 1,
    nodePort: (i) => (at(shape.nodePort, i) as boolean | undefined) ?? false,
    nodes: NODES,
  });
}

/** Services whose endpoints the connect probe routes to: never changed by the updates. */
export function probeServices(services: number): { first: number; middle: number; last: number } {
  return { first: 0, middle: Math.floor(services / 2), last: services - 1 };
}

/**
 * `count` changes drawn with a seeded PRNG, never touching `exclude`. Fresh addresses come after
 * every generated pod address, so no two endpoints ever share one.
 */
export function planChanges(spec: ScenarioSpec, count: number, seed: number, firstFreshPod: number, exclude: ReadonlySet<number>): Change[] {
  const services = serviceCount(spec);
  if (services <= exclude.size) throw new Error(`cannot plan changes: all ${services} services are excluded`);
  const counts = endpointCounts(spec);
  const rnd = prng(seed);
  const out: Change[] = [];
  for (let u = 0; u < count; u++) {
    let service: number;
    if (spec.bigService) service = 1;
    else {
      do service = Math.floor(rnd() * services);
      while (exclude.has(service));
    }
    out.push({ service, slot: Math.floor(rnd() * (counts[service] as number)), ip: podIp(firstFreshPod + u) });
  }
  return out;
}

interface SliceLike {
  endpoints: { addresses: string[] }[];
  [k: string]: unknown;
}

/** The cluster objects and model at one point of the change sequence. */
export class ClusterState {
  objects: K8sObject[];
  model: ClusterModel;
  private readonly nodeCount = NODES.length;
  /** Service index → positions of its service ports in model.servicePorts. */
  private readonly positions = new Map<string, number[]>();

  constructor(
    readonly spec: ScenarioSpec,
    readonly opts: CompileOptions = benchCompileOptions(),
    objects: K8sObject[] = generateObjects(spec),
  ) {
    this.objects = objects;
    this.model = buildModel(objects, opts);
    this.model.servicePorts.forEach((sp, k) => {
      const list = this.positions.get(sp.name) ?? [];
      list.push(k);
      this.positions.set(sp.name, list);
    });
  }

  /** An independent copy (changes are copy-on-write, so sharing the arrays is safe). */
  clone(): ClusterState {
    const c = Object.create(ClusterState.prototype) as ClusterState;
    Object.assign(c, this, { positions: this.positions });
    return c;
  }

  servicePortsOf(service: number): ServicePort[] {
    return (this.positions.get(serviceName(service)) ?? []).map((k) => this.model.servicePorts[k] as ServicePort);
  }

  /** Applies one change; returns the changed service's ports before and after. */
  apply(change: Change): { before: ServicePort[]; after: ServicePort[] } {
    const sliceAt = this.nodeCount + 2 * change.service + 1;
    const slice = this.objects[sliceAt] as unknown as SliceLike;
    const endpoints = slice.endpoints.map((e, k) => (k === change.slot ? { ...e, addresses: [change.ip] } : e));
    const newSlice: K8sObject = { ...slice, endpoints };
    const service = this.objects[sliceAt - 1] as K8sObject;
    const rebuilt = buildModel([...this.objects.slice(0, this.nodeCount), service, newSlice], this.opts);
    if (rebuilt.problems.length > 0) throw new Error(`change ${JSON.stringify(change)} made an invalid object: ${rebuilt.problems[0]?.message ?? ''}`);
    const before = this.servicePortsOf(change.service);
    const where = this.positions.get(serviceName(change.service)) ?? [];
    if (rebuilt.servicePorts.length !== where.length) throw new Error(`change ${JSON.stringify(change)} changed the number of service ports`);
    const sps = this.model.servicePorts.slice();
    where.forEach((k, j) => (sps[k] = rebuilt.servicePorts[j] as ServicePort));
    const objects = this.objects.slice();
    objects[sliceAt] = newSlice;
    this.objects = objects;
    this.model = { ...this.model, servicePorts: sps };
    return { before, after: rebuilt.servicePorts };
  }
}
