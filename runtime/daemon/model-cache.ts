// The service model, rebuilt only where the cluster changed. Building the model of a whole
// cluster costs seconds at 10k services (validation of every object); a change touches one
// service. kube-proxy's model is per service too: a service port depends only on its Service,
// the EndpointSlices labelled with its name, and the node. So the model of each service is
// built by the compiler's own buildModel from exactly those objects and cached, and a change
// invalidates the one service it belongs to (a Node change invalidates all).

import { buildModel, buildUnresolvedModel } from '../../compiler/model/build.js';
import { ConflictResolver } from '../../compiler/model/conflicts.js';
import type { ClusterModel, CompileOptions, NodeInfo, Problem, ServicePort } from '../../compiler/model/types.js';
import { SERVICE_NAME_LABEL } from '../../compiler/model/schema.js';
import type { KubeObjectLike, ObjectStore, StoreChange } from '../kube/store.js';

interface Entry {
  ports: ServicePort[];
  problems: Problem[];
}

function groupOf(kind: string, obj: KubeObjectLike): string {
  const md = (obj.metadata ?? {}) as { namespace?: string; name?: string; labels?: Record<string, unknown> };
  if (kind === 'Service') return `${md.namespace ?? ''}/${md.name ?? ''}`;
  const label = md.labels?.[SERVICE_NAME_LABEL];
  return `${md.namespace ?? ''}/${typeof label === 'string' ? label : ''}`;
}

export class ModelCache {
  private readonly entries = new Map<string, Entry>();
  private readonly resolver = new ConflictResolver();
  private readonly dirty = new Set<string>();
  private allDirty = true;
  private node: { info: NodeInfo; problems: Problem[] } | undefined;
  private readonly slicesByGroup = new Map<string, Map<string, KubeObjectLike>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: CompileOptions,
  ) {
    for (const s of store.list('EndpointSlice')) this.indexSlice(s, true);
    this.unsubscribe = store.onChange((c) => this.changed(c));
  }

  close(): void {
    this.unsubscribe();
  }

  /** Services rebuilt by the last build() (for logs and tests). */
  lastRebuilt = 0;

  build(): ClusterModel {
    const nodeObj = this.store.get('Node', '', this.opts.nodeName ?? '');
    const nodeObjects: unknown[] = nodeObj ? [{ kind: 'Node', apiVersion: 'v1', ...nodeObj }] : [];
    if (this.allDirty || !this.node) {
      const m = buildModel(nodeObjects, this.opts);
      this.node = { info: m.node, problems: m.problems };
    }
    const groups = this.allDirty ? this.allGroups() : this.dirty;
    this.lastRebuilt = 0;
    for (const g of groups) {
      const slash = g.indexOf('/');
      const svc = this.store.get('Service', g.slice(0, slash), g.slice(slash + 1));
      const slices = [...(this.slicesByGroup.get(g)?.values() ?? [])];
      if (!svc && slices.length === 0) {
        this.entries.delete(g);
        this.resolver.delete(g);
        continue;
      }
      const objects = [
        ...nodeObjects,
        ...(svc ? [{ kind: 'Service', apiVersion: 'v1', ...svc }] : []),
        ...slices.map((s) => ({ kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', ...s })),
      ];
      const m = buildUnresolvedModel(objects, this.opts);
      this.entries.set(g, { ports: m.servicePorts, problems: m.problems.filter((p) => p.kind !== 'Node') });
      // Conflicts between services are resolved over the whole cluster, re-resolving only the
      // services that share a key with this one (compiler/model/conflicts.ts).
      this.resolver.set(g, m.servicePorts);
      this.lastRebuilt++;
    }
    this.dirty.clear();
    this.allDirty = false;

    const servicePorts: ServicePort[] = [];
    const problems: Problem[] = [...this.node.problems];
    for (const key of [...this.entries.keys()].sort()) {
      const e = this.entries.get(key) as Entry;
      servicePorts.push(...this.resolver.ports(key));
      problems.push(...e.problems);
    }
    return { servicePorts, node: this.node.info, problems, conflicts: this.resolver.conflicts() };
  }

  private allGroups(): Set<string> {
    const out = new Set<string>(this.slicesByGroup.keys());
    for (const s of this.store.list('Service')) out.add(groupOf('Service', s));
    for (const k of this.entries.keys()) out.add(k);
    return out;
  }

  private indexSlice(obj: KubeObjectLike, add: boolean): string {
    const g = groupOf('EndpointSlice', obj);
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    let m = this.slicesByGroup.get(g);
    if (add) {
      if (!m) this.slicesByGroup.set(g, (m = new Map()));
      m.set(key, obj);
    } else if (m) {
      m.delete(key);
      if (m.size === 0) this.slicesByGroup.delete(g);
    }
    return g;
  }

  private changed(c: StoreChange): void {
    if (c.kind === 'ServiceCIDR') return; // cluster-wide, not per service: the daemon passes them as compile options
    if (c.kind === 'Node') {
      // Nodes are updated constantly (status heartbeats); only the facts the model uses (zone
      // label, addresses) invalidate every service.
      if (c.key !== `/${this.opts.nodeName ?? ''}`) return;
      const info = c.type === 'delete' ? undefined : buildModel([{ kind: 'Node', apiVersion: 'v1', ...c.object }], this.opts).node;
      if (!this.node || JSON.stringify(info) !== JSON.stringify(this.node.info)) this.allDirty = true;
      return;
    }
    if (c.kind === 'EndpointSlice') {
      if (c.previous) this.dirty.add(this.indexSlice(c.previous, false));
      else if (c.type === 'delete') this.dirty.add(this.indexSlice(c.object, false));
      if (c.type === 'upsert') this.dirty.add(this.indexSlice(c.object, true));
      return;
    }
    this.dirty.add(groupOf('Service', c.object));
  }
}
