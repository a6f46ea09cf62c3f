// deploy/: every manifest parses, and the pieces reference each other consistently — the
// DaemonSet runs as the ServiceAccount the binding grants the ClusterRole to, mounts the
// ConfigMap key it passes to --config, the selector matches the pod labels, the config itself is
// a valid KubeProxyConfiguration, and the Dockerfile installs what the daemon runs.

import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfigFile } from '../../runtime/daemon/config.js';
import { runCommand } from '../../runtime/cli/run.js';

const DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

function load(): Obj[] {
  const out: Obj[] = [];
  for (const f of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, f), 'utf8'))) {
      expect(doc.errors, f).toEqual([]);
      const o = doc.toJS() as Obj | null;
      if (o) out.push(o);
    }
  }
  return out;
}

const objs = load();
const one = (kind: string): Obj => {
  const found = objs.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as Obj;
};

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

describe('deploy/', () => {
  const ds = one('DaemonSet') as Any;
  const sa = one('ServiceAccount');
  const role = one('ClusterRole') as Any;
  const binding = one('ClusterRoleBinding') as Any;
  const cm = one('ConfigMap') as Any;
  const pod = ds.spec.template.spec;
  const container = pod.containers[0];

  it('the kustomization lists every manifest', () => {
    const k = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as { resources: string[] };
    expect(k.resources.sort()).toEqual(readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort());
  });

  it('the DaemonSet runs like kube-proxy: host network, node-critical, tolerates everything, NET_ADMIN', () => {
    expect(ds.apiVersion).toBe('apps/v1');
    expect(pod.hostNetwork).toBe(true);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toContainEqual({ operator: 'Exists' });
    const caps = container.securityContext.capabilities?.add ?? [];
    expect(container.securityContext.privileged === true || caps.includes('NET_ADMIN')).toBe(true);
    expect(ds.spec.selector.matchLabels).toEqual(pick(ds.spec.template.metadata.labels, Object.keys(ds.spec.selector.matchLabels)));
  });

  it('ServiceAccount, ClusterRole and binding agree', () => {
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.metadata.namespace).toBe(ds.metadata.namespace);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toContainEqual({ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace });
    const allows = (group: string, resource: string, verb: string): boolean =>
      role.rules.some((r: Any) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    for (const verb of ['list', 'watch', 'get']) {
      expect(allows('', 'services', verb), `services ${verb}`).toBe(true);
      expect(allows('', 'nodes', verb), `nodes ${verb}`).toBe(true);
      expect(allows('discovery.k8s.io', 'endpointslices', verb), `endpointslices ${verb}`).toBe(true);
    }
    expect(allows('', 'events', 'create') && allows('', 'events', 'patch')).toBe(true);
  });

  it('--config points at the ConfigMap key, which is a valid KubeProxyConfiguration', () => {
    const args: string[] = [...(container.command ?? []), ...(container.args ?? [])];
    const configArg = args.find((a) => a.startsWith('--config='));
    expect(configArg).toBeDefined();
    const path = String(configArg).slice('--config='.length);
    const vol = pod.volumes.find((v: Any) => v.configMap?.name === cm.metadata.name);
    expect(vol, 'a volume from the ConfigMap').toBeDefined();
    expect(cm.metadata.namespace).toBe(ds.metadata.namespace);
    const mount = container.volumeMounts.find((m: Any) => m.name === vol.name);
    const key = vol.configMap.items ? vol.configMap.items.find((i: Any) => `${mount.mountPath}/${i.path}` === path)?.key : path.slice(mount.mountPath.length + 1);
    expect(key, `${path} comes from a ConfigMap key`).toBeDefined();
    expect(Object.keys(cm.data)).toContain(key);
    const cfg = parseConfigFile(cm.data[key], 'configmap');
    expect(cfg.mode).toBe('nftables');
    // Every flag the DaemonSet passes exists.
    const known = new Set(runCommand().options.map((o) => o.long));
    for (const a of args.filter((x) => x.startsWith('--'))) expect(known, a).toContain(a.split('=')[0]);
  });

  it('the healthz port matches the probes and the configured bind address', () => {
    const cfg = parseConfigFile(cm.data['config.conf'], 'configmap');
    const port = Number(String(cfg.healthzBindAddress).split(':').pop());
    const named = container.ports.find((p: Any) => p.name === container.livenessProbe.httpGet.port);
    expect(named.containerPort).toBe(port);
    expect(container.livenessProbe.httpGet.path).toBe('/livez');
    expect(container.readinessProbe.httpGet.path).toBe('/healthz');
  });

  it('the Dockerfile builds on Node 20 with nftables and conntrack and runs `nftproxy run --config`', () => {
    const df = readFileSync(join(DIR, 'Dockerfile'), 'utf8');
    expect(df).toMatch(/^FROM node:20-bookworm-slim/m);
    expect(df).toMatch(/apt-get install[^\n]*nftables[^\n]*conntrack/);
    expect(df).toMatch(/npm ci/);
    expect(df).toMatch(/CMD \["run", "--config"/);
  });
});

function pick(o: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, o[k] as string]));
}
