// List + watch of Services, EndpointSlices, ServiceCIDRs and this Node through client-node
// informers, feeding the ObjectStore. client-node relists by itself on 410 Gone (as an HTTP status
// or as a watch ERROR event) and re-watches when a stream ends cleanly; on any other error it
// stops, so we restart it here with exponential backoff.
//
// Services and EndpointSlices are selected server-side with kube-proxy's label selector: Services
// of another proxy (service.kubernetes.io/service-proxy-name) and headless slices never reach us.
// ServiceCIDRs are optional: an API server without networking.k8s.io/v1 servicecidrs (404) leaves
// --service-cidr as the only source, said once in the log.

import { ListWatch, Watch, makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { PROXY_LABEL_SELECTOR } from '../../compiler/model/proxy-filter.js';
import { ApiError, rawList } from './client.js';
import { compactObject } from './compact.js';
import type { ObjectStore, WatchedKind } from './store.js';

export interface WatchLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WatchOptions {
  nodeName: string;
  log: WatchLogger;
  /** First retry delay; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface Watches {
  /** Resolves once every resource has been listed at least once. */
  readonly synced: Promise<void>;
  isSynced(): boolean;
  stop(): Promise<void>;
}

interface Resource {
  kind: WatchedKind;
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Absent from older API servers: a 404 counts as an empty, synced list and is not retried. */
  optional?: boolean;
}

export function resourcesFor(nodeName: string): Resource[] {
  return [
    { kind: 'Service', path: '/api/v1/services', labelSelector: PROXY_LABEL_SELECTOR },
    { kind: 'EndpointSlice', path: '/apis/discovery.k8s.io/v1/endpointslices', labelSelector: PROXY_LABEL_SELECTOR },
    { kind: 'Node', path: '/api/v1/nodes', fieldSelector: `metadata.name=${nodeName}` },
    { kind: 'ServiceCIDR', path: '/apis/networking.k8s.io/v1/servicecidrs', optional: true },
  ];
}

function listPathOf(res: Resource): string {
  const q = new URLSearchParams();
  if (res.labelSelector) q.set('labelSelector', res.labelSelector);
  if (res.fieldSelector) q.set('fieldSelector', res.fieldSelector);
  const qs = q.toString();
  return qs ? `${res.path}?${qs}` : res.path;
}

class ApiAbsent extends Error {}

export function startWatches(kc: KubeConfig, store: ObjectStore, opts: WatchOptions): Watches {
  const initial = opts.initialBackoffMs ?? 500;
  const max = opts.maxBackoffMs ?? 30_000;
  let stopped = false;
  const informers: Informer<KubernetesObject>[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const listedKinds = new Set<WatchedKind>();
  const resources = resourcesFor(opts.nodeName);
  let resolveSynced: () => void = () => undefined;
  const synced = new Promise<void>((r) => (resolveSynced = r));

  const markListed = (kind: WatchedKind): void => {
    if (listedKinds.has(kind)) return;
    listedKinds.add(kind);
    if (listedKinds.size === resources.length) resolveSynced();
  };

  for (const res of resources) {
    let attempt = 0;
    let absent = false;
    const listPath = listPathOf(res);
    const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      let list;
      try {
        list = await rawList(kc, listPath);
      } catch (err) {
        if (res.optional && err instanceof ApiError && err.statusCode === 404) {
          absent = true;
          if (!listedKinds.has(res.kind)) opts.log.info({ kind: res.kind, path: res.path }, 'API not served (404); using the flags only');
          markListed(res.kind);
          throw new ApiAbsent(`${res.path}: not served`);
        }
        throw err;
      }
      // Before the informer caches them: it and the store then share the compact objects.
      for (const item of list.items) compactObject(res.kind, item as KubernetesObject);
      attempt = 0;
      if (!listedKinds.has(res.kind)) {
        // ListWatch puts the listed items into its cache (and calls our add handlers) only after
        // this function returns: count the kind as synced after that.
        setImmediate(() => {
          if (listedKinds.has(res.kind)) return;
          opts.log.info({ kind: res.kind, items: list.items.length, resourceVersion: list.metadata?.resourceVersion }, 'initial list');
          markListed(res.kind);
        });
      }
      return list as KubernetesListObject<KubernetesObject>;
    };
    // makeInformer in client-node 1.4 takes no field selector; ListWatch (what it wraps) does.
    const informer: Informer<KubernetesObject> = res.fieldSelector
      ? new ListWatch(res.path, new Watch(kc), listFn, false, res.labelSelector, res.fieldSelector)
      : makeInformer(kc, res.path, listFn, res.labelSelector);
    // Watch events: the informer has cached `o` itself just before; compacting in place strips both.
    informer.on('add', (o) => store.upsert(res.kind, compactObject(res.kind, o)));
    informer.on('update', (o) => store.upsert(res.kind, compactObject(res.kind, o)));
    informer.on('delete', (o) => store.remove(res.kind, o));
    informer.on('error', (err: unknown) => {
      if (stopped || absent) return; // an API the server does not have is not retried
      const delay = Math.min(max, initial * 2 ** attempt);
      attempt++;
      opts.log.warn({ kind: res.kind, err: errorText(err), retryInMs: delay }, 'watch failed; retrying');
      const t = setTimeout(() => {
        timers.delete(t);
        if (!stopped) informer.start().catch((e: unknown) => opts.log.warn({ kind: res.kind, err: errorText(e) }, 'watch restart failed'));
      }, delay);
      timers.add(t);
    });
    informers.push(informer);
  }
  for (const i of informers) i.start().catch((e: unknown) => opts.log.warn({ err: errorText(e) }, 'watch start failed'));

  return {
    synced,
    isSynced: () => listedKinds.size === resources.length,
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'object' && err !== null) {
    const o = err as { message?: unknown; type?: unknown; code?: unknown };
    if (typeof o.message === 'string') return o.message;
    return JSON.stringify(err).slice(0, 300);
  }
  return String(err);
}
