// Objects that are not ours, by kube-proxy's rule: its informers list Services and
// EndpointSlices with the label selector `!service.kubernetes.io/headless,
// !service.kubernetes.io/service-proxy-name` (cmd/kube-proxy/app/server.go). A Service labelled
// with a service-proxy-name belongs to another proxy; headless slices carry no proxied traffic.
// The daemon asks the API server for exactly that selector; a cluster dump is filtered here, and
// each skipped Service is reported (its slices go with it silently, as do headless slices).

import type { Problem } from './types.js';

export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

/** kube-proxy's label selector for Services and EndpointSlices (requirements sorted by key, as labels.Selector prints them). */
export const PROXY_LABEL_SELECTOR = `!${HEADLESS_LABEL},!${SERVICE_PROXY_NAME_LABEL}`;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function labelsOf(obj: Record<string, unknown>): Record<string, unknown> {
  const md = obj['metadata'];
  const labels = isRecord(md) ? md['labels'] : undefined;
  return isRecord(labels) ? labels : {};
}

/** True when kube-proxy's label selector excludes the object (a label key present, whatever its value). */
export function excludedByProxySelector(obj: unknown): boolean {
  if (!isRecord(obj)) return false;
  const labels = labelsOf(obj);
  const has = (key: string): boolean => labels[key] !== undefined && labels[key] !== null;
  return has(SERVICE_PROXY_NAME_LABEL) || has(HEADLESS_LABEL);
}

/** The Services and EndpointSlices to leave out, and one Problem per Service of another proxy. */
export function objectsOfOtherProxies(objects: readonly unknown[]): { skip: Set<unknown>; problems: Problem[] } {
  const skip = new Set<unknown>();
  const problems: Problem[] = [];
  for (const obj of objects) {
    if (!isRecord(obj) || (obj['kind'] !== 'Service' && obj['kind'] !== 'EndpointSlice') || !excludedByProxySelector(obj)) continue;
    skip.add(obj);
    const proxyName = labelsOf(obj)[SERVICE_PROXY_NAME_LABEL];
    if (obj['kind'] !== 'Service' || proxyName === undefined || proxyName === null) continue;
    const md = isRecord(obj['metadata']) ? obj['metadata'] : {};
    problems.push({
      kind: 'Service',
      namespace: typeof md['namespace'] === 'string' ? md['namespace'] : 'default',
      ...(typeof md['name'] === 'string' ? { name: md['name'] } : {}),
      field: `metadata.labels["${SERVICE_PROXY_NAME_LABEL}"]`,
      message: `belongs to the service proxy ${JSON.stringify(String(proxyName))}, not to nftproxy (kube-proxy skips it too)`,
    });
  }
  return { skip, problems };
}
