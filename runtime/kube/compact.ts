// The informer transform: what the daemon keeps of each watched object. An API server sends much
// the proxy never reads (managedFields, kubectl's last-applied-configuration annotation, each
// endpoint's targetRef, a Node's images and conditions): often more than half of an object's size,
// held for every object for the daemon's lifetime. Only the fields compiler/model reads, and
// those the store and the daemon use (resourceVersion, uid, deletionTimestamp), are kept.
//
// The objects are compacted IN PLACE: client-node's informer caches the very object it hands to
// our handlers (and list items before that), so stripping a copy would leave the full object in
// its cache and double the memory. The store and the informer share one compact object.
//
// An allow-list, not a deny-list, for the top level of each kind and for metadata: a field the
// API adds later is dropped until the model reads it. test/daemon/compact.test.ts checks that
// the model of compacted objects equals the model of the originals.

import type { KubeObjectLike, WatchedKind } from './store.js';

type Obj = Record<string, unknown>;

/** metadata fields kept for every kind. */
const METADATA = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'labels', 'annotations']);

/**
 * Annotations the proxy reads. None today (topology and service-proxy-name are labels and hints,
 * not annotations); a future one must be added here, or it never reaches the model.
 */
export const KEPT_ANNOTATIONS: ReadonlySet<string> = new Set<string>();

/** Top-level fields kept per kind (besides apiVersion, kind and metadata). */
const TOP: Record<WatchedKind, ReadonlySet<string>> = {
  Service: new Set(['spec', 'status']),
  EndpointSlice: new Set(['addressType', 'ports', 'endpoints']),
  Node: new Set(['spec', 'status']),
  ServiceCIDR: new Set(['spec']),
};

/** Fields of each EndpointSlice endpoint the model reads (not targetRef, hostname, deprecatedTopology). */
const ENDPOINT = new Set(['addresses', 'conditions', 'nodeName', 'zone', 'hints']);

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function keepOnly(o: Obj, keep: ReadonlySet<string>): void {
  for (const k of Object.keys(o)) if (!keep.has(k)) delete o[k];
}

/** Drops what the proxy does not read from `obj` (in place, see above) and returns it. */
export function compactObject<T extends KubeObjectLike>(kind: WatchedKind, obj: T): T {
  const o = obj as unknown as Obj;
  if (!isObj(o)) return obj;
  const top = TOP[kind];
  for (const k of Object.keys(o)) if (k !== 'apiVersion' && k !== 'kind' && k !== 'metadata' && !top.has(k)) delete o[k];
  const md = o.metadata;
  if (isObj(md)) {
    keepOnly(md, METADATA);
    const ann = md.annotations;
    if (isObj(ann)) {
      keepOnly(ann, KEPT_ANNOTATIONS);
      if (Object.keys(ann).length === 0) delete md.annotations;
    }
  }
  switch (kind) {
    case 'Service': {
      // spec.selector picks pods for the endpoint controller; the proxy reads the slices instead.
      if (isObj(o.spec)) delete o.spec.selector;
      if (isObj(o.status)) keepOnly(o.status, new Set(['loadBalancer']));
      break;
    }
    case 'EndpointSlice': {
      if (Array.isArray(o.endpoints)) for (const e of o.endpoints) if (isObj(e)) keepOnly(e, ENDPOINT);
      break;
    }
    case 'Node': {
      // The Node's status is large (images, conditions, nodeInfo) and rewritten by every heartbeat.
      if (isObj(o.spec)) keepOnly(o.spec, new Set(['podCIDR', 'podCIDRs', 'taints'])); // taints: /healthz (autoscaler)
      if (isObj(o.status)) keepOnly(o.status, new Set(['addresses']));
      break;
    }
  }
  return obj;
}
