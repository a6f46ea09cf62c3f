// A wire-compatible stand-in for kube-apiserver, enough for list + watch clients (client-go's
// reflector, client-node's ListWatch): GET lists with a resourceVersion, `?watch=true` streams of
// newline-delimited JSON events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR) replayed from the
// requested resourceVersion, 410 Gone (as the real server does: an ERROR event carrying a
// Status with code 410) for versions older than the last compaction, and hooks to simulate
// trouble: drop every watch connection, go down and come back on the same port. Label selectors
// (`key`, `!key`, `key=value`, `key!=value`, comma-joined) are honoured as the real server does,
// watches included: an object that stops matching is seen as DELETED, one that starts as ADDED.
// ServiceCIDRs (networking.k8s.io/v1) are served unless `serveServiceCIDRs` is false (404, as an
// API server without that API).

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';

export type ResourceName = 'services' | 'endpointslices' | 'nodes' | 'servicecidrs';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface StoredEvent {
  rv: number;
  resource: ResourceName;
  type: EventType;
  object: KubeObject;
  /** The version a MODIFIED replaced (label selectors turn it into ADDED/DELETED per watcher). */
  previous?: KubeObject;
}

interface Watcher {
  resource: ResourceName;
  fieldName?: string;
  labels: LabelRequirement[];
  res: http.ServerResponse;
}

interface LabelRequirement {
  key: string;
  op: 'exists' | '!exists' | '=' | '!=';
  value?: string;
}

/** A label selector of equality and existence requirements; undefined when it has another form. */
export function parseLabelSelector(text: string): LabelRequirement[] | undefined {
  const out: LabelRequirement[] = [];
  for (const part of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    let m: RegExpExecArray | null;
    if ((m = /^!([\w./-]+)$/.exec(part))) out.push({ key: m[1] as string, op: '!exists' });
    else if ((m = /^([\w./-]+)!=([\w.-]*)$/.exec(part))) out.push({ key: m[1] as string, op: '!=', value: m[2] as string });
    else if ((m = /^([\w./-]+)==?([\w.-]*)$/.exec(part))) out.push({ key: m[1] as string, op: '=', value: m[2] as string });
    else if ((m = /^([\w./-]+)$/.exec(part))) out.push({ key: m[1] as string, op: 'exists' });
    else return undefined;
  }
  return out;
}

function labelsMatch(reqs: readonly LabelRequirement[], obj: KubeObject | undefined): boolean {
  if (!obj) return false;
  const labels = (obj.metadata['labels'] ?? {}) as Record<string, string>;
  return reqs.every((r) => {
    const v = labels[r.key];
    if (r.op === 'exists') return v !== undefined;
    if (r.op === '!exists') return v === undefined;
    if (r.op === '=') return v === r.value;
    return v !== r.value;
  });
}

const KINDS: Record<ResourceName, { kind: string; apiVersion: string; namespaced: boolean }> = {
  services: { kind: 'Service', apiVersion: 'v1', namespaced: true },
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', namespaced: true },
  nodes: { kind: 'Node', apiVersion: 'v1', namespaced: false },
  servicecidrs: { kind: 'ServiceCIDR', apiVersion: 'networking.k8s.io/v1', namespaced: false },
};

export function resourceOfKind(kind: string): ResourceName {
  const r = (Object.keys(KINDS) as ResourceName[]).find((k) => KINDS[k].kind === kind);
  if (!r) throw new Error(`fake apiserver: unknown kind ${kind}`);
  return r;
}

function route(pathname: string): { resource: ResourceName; namespace?: string } | undefined {
  let m = /^\/api\/v1\/(services|nodes)$/.exec(pathname);
  if (m) return { resource: m[1] as ResourceName };
  m = /^\/api\/v1\/namespaces\/([^/]+)\/services$/.exec(pathname);
  if (m) return { resource: 'services', namespace: m[1] };
  m = /^\/apis\/discovery\.k8s\.io\/v1\/endpointslices$/.exec(pathname);
  if (m) return { resource: 'endpointslices' };
  m = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/.exec(pathname);
  if (m) return { resource: 'endpointslices', namespace: m[1] };
  if (pathname === '/apis/networking.k8s.io/v1/servicecidrs') return { resource: 'servicecidrs' };
  return undefined;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  watch: boolean;
  resourceVersion?: string;
  status: number;
}

export class FakeApiServer {
  private rv = 1;
  /** Events with rv <= compactedRv are gone: watching from before it is 410 Gone. */
  private compactedRv = 0;
  private readonly objects = new Map<ResourceName, Map<string, KubeObject>>([
    ['services', new Map()],
    ['endpointslices', new Map()],
    ['nodes', new Map()],
    ['servicecidrs', new Map()],
  ]);
  private events: StoredEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private server?: http.Server;
  private listenPort = 0;
  readonly requests: RequestLogEntry[] = [];
  /** false: the networking.k8s.io/v1 servicecidrs API is absent (404). */
  serveServiceCIDRs = true;

  constructor(private readonly host = '127.0.0.1') {}

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `http://${this.host}:${this.listenPort}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Listens (again) — on the same port as before when restarted. */
  async start(port = this.listenPort): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.server = server;
    this.listenPort = (server.address() as AddressInfo).port;
  }

  /** Goes down: closes the listener and every connection (clients see resets, then refusals). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** Cuts every open watch stream abruptly (as a load balancer or a restarting apiserver does). */
  dropConnections(): void {
    for (const w of this.watchers) w.res.socket?.destroy();
    this.watchers.clear();
  }

  /** Forgets the event history: clients resuming from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.events = [];
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watcher. */
  bookmark(): void {
    for (const w of this.watchers) {
      const k = KINDS[w.resource];
      this.write(w, { type: 'BOOKMARK', object: { kind: k.kind, apiVersion: k.apiVersion, metadata: { resourceVersion: String(this.rv) } } });
    }
  }

  /** Creates or replaces an object (kind taken from the object). Returns the stored copy. */
  apply(obj: KubeObject): KubeObject {
    const resource = resourceOfKind(String(obj.kind));
    const k = KINDS[resource];
    const map = this.objects.get(resource) as Map<string, KubeObject>;
    const key = this.key(resource, obj.metadata.namespace, obj.metadata.name);
    const old = map.get(key);
    const rv = ++this.rv;
    const stored: KubeObject = structuredClone({
      ...obj,
      kind: k.kind,
      apiVersion: k.apiVersion,
      metadata: { ...obj.metadata, uid: old?.metadata.uid ?? obj.metadata.uid ?? randomUUID(), resourceVersion: String(rv) },
    });
    map.set(key, stored);
    this.emit({ rv, resource, type: old ? 'MODIFIED' : 'ADDED', object: stored, ...(old ? { previous: old } : {}) });
    return stored;
  }

  delete(kind: string, namespace: string | undefined, name: string): boolean {
    const resource = resourceOfKind(kind);
    const map = this.objects.get(resource) as Map<string, KubeObject>;
    const key = this.key(resource, namespace, name);
    const old = map.get(key);
    if (!old) return false;
    map.delete(key);
    const rv = ++this.rv;
    this.emit({ rv, resource, type: 'DELETED', object: { ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } } });
    return true;
  }

  list(resource: ResourceName): KubeObject[] {
    return [...(this.objects.get(resource) as Map<string, KubeObject>).values()];
  }

  private key(resource: ResourceName, namespace: string | undefined, name: string): string {
    return KINDS[resource].namespaced ? `${namespace ?? 'default'}/${name}` : name;
  }

  private emit(ev: StoredEvent): void {
    this.events.push(ev);
    for (const w of this.watchers) {
      if (w.resource !== ev.resource || !this.matches(w.fieldName, ev.object)) continue;
      const type = this.eventFor(w.labels, ev);
      if (type) this.write(w, { type, object: ev.object });
    }
  }

  /** The event a watcher with these label requirements sees, if any. */
  private eventFor(labels: readonly LabelRequirement[], ev: StoredEvent): EventType | undefined {
    const now = labelsMatch(labels, ev.object);
    if (ev.type !== 'MODIFIED') return now ? ev.type : undefined;
    const before = labelsMatch(labels, ev.previous);
    if (now) return before ? 'MODIFIED' : 'ADDED';
    return before ? 'DELETED' : undefined;
  }

  private matches(fieldName: string | undefined, obj: KubeObject): boolean {
    return fieldName === undefined || obj.metadata.name === fieldName;
  }

  private write(w: Watcher, event: object): void {
    w.res.write(JSON.stringify(event) + '\n');
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const rvParam = url.searchParams.get('resourceVersion') ?? undefined;
    const log = (status: number): void => {
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, watch, resourceVersion: rvParam, status });
    };
    const r = route(url.pathname);
    if (req.method !== 'GET' || !r || (r.resource === 'servicecidrs' && !this.serveServiceCIDRs)) {
      log(404);
      this.status(res, 404, 'NotFound', `the server could not find the requested resource (${req.method} ${url.pathname})`);
      return;
    }
    const fieldSelector = url.searchParams.get('fieldSelector') ?? '';
    const fm = /^metadata\.name=(.+)$/.exec(fieldSelector);
    if (fieldSelector !== '' && !fm) {
      log(400);
      this.status(res, 400, 'BadRequest', `unsupported field selector ${fieldSelector}`);
      return;
    }
    const fieldName = fm?.[1];
    const labels = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
    if (!labels) {
      log(400);
      this.status(res, 400, 'BadRequest', `unsupported label selector ${url.searchParams.get('labelSelector')}`);
      return;
    }
    const inScope = (o: KubeObject): boolean => this.matches(fieldName, o) && labelsMatch(labels, o) && (r.namespace === undefined || o.metadata.namespace === r.namespace);
    const k = KINDS[r.resource];

    if (!watch) {
      log(200);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({
        kind: `${k.kind}List`,
        apiVersion: k.apiVersion,
        metadata: { resourceVersion: String(this.rv) },
        items: this.list(r.resource).filter(inScope),
      }));
      return;
    }

    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const from = rvParam === undefined || rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && (!Number.isFinite(from) || from < this.compactedRv)) {
      log(410);
      res.end(JSON.stringify({
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${rvParam} (${this.compactedRv})`, reason: 'Expired', code: 410 },
      }) + '\n');
      return;
    }
    log(200);
    const w: Watcher = { resource: r.resource, fieldName, labels, res };
    if (from === undefined) {
      // Watch without a version: synthetic ADDED for the current state, as the real server does.
      for (const o of this.list(r.resource).filter(inScope)) this.write(w, { type: 'ADDED', object: o });
    } else {
      for (const ev of this.events) {
        if (ev.rv <= from || ev.resource !== r.resource || !this.matches(fieldName, ev.object)) continue;
        if (r.namespace !== undefined && ev.object.metadata.namespace !== r.namespace) continue;
        const type = this.eventFor(labels, ev);
        if (type) this.write(w, { type, object: ev.object });
      }
    }
    this.watchers.add(w);
    const done = (): void => {
      this.watchers.delete(w);
    };
    res.on('close', done);
    req.on('close', done);
  }

  private status(res: http.ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }
}

/** A kubeconfig (YAML) pointing at a plain-http server. */
export function kubeconfigFor(serverUrl: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake',
    '  cluster:',
    `    server: ${serverUrl}`,
    // client-node refuses plain http unless TLS verification is explicitly off.
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: fake',
    '  user:',
    '    token: fake-token',
    'contexts:',
    '- name: fake',
    '  context:',
    '    cluster: fake',
    '    user: fake',
    'current-context: fake',
    '',
  ].join('\n');
}
