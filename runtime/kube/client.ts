// Connecting to the API server the way kube-proxy does: --kubeconfig, --master (overrides the
// kubeconfig's server, or alone: a plain server URL), else the in-cluster service account.

import http from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export interface ConnectionFlags {
  kubeconfig?: string;
  master?: string;
}

export function kubeConfigFrom(flags: ConnectionFlags): KubeConfig {
  const kc = new KubeConfig();
  if (flags.kubeconfig) {
    kc.loadFromFile(flags.kubeconfig);
    if (flags.master) {
      const cluster = kc.getCurrentCluster();
      const clusters = kc.clusters.map((c) => (c.name === cluster?.name ? { ...c, server: flags.master as string } : c));
      kc.loadFromOptions({ clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    }
  } else if (flags.master) {
    kc.loadFromClusterAndUser({ name: 'master', server: flags.master, skipTLSVerify: false }, { name: 'anonymous' });
  } else {
    kc.loadFromCluster();
  }
  if (!kc.getCurrentCluster()) throw new Error('no API server configured: give --kubeconfig or --master, or run in a cluster');
  return kc;
}

export function serverOf(kc: KubeConfig): string {
  const c = kc.getCurrentCluster();
  if (!c) throw new Error('no current cluster in the kubeconfig');
  return c.server;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RawList {
  metadata?: { resourceVersion?: string };
  items: unknown[];
}

/**
 * GET a list as raw JSON. Not the generated API client: it turns objects into model classes and
 * drops fields it does not know, while the compiler wants exactly what the API server sent.
 */
export async function rawGet(kc: KubeConfig, path: string, timeoutMs = 30_000): Promise<unknown> {
  const url = new URL(serverOf(kc) + path);
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { ...opts, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          reject(new ApiError(`GET ${url.pathname}${url.search}: HTTP ${status} ${body.slice(0, 200)}`, status));
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(new Error(`GET ${url.pathname}: invalid JSON (${(err as Error).message})`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function rawList(kc: KubeConfig, path: string): Promise<RawList> {
  const body = (await rawGet(kc, path)) as Partial<RawList> | null;
  if (!body || !Array.isArray(body.items)) throw new Error(`GET ${path}: expected a list with items`);
  return { metadata: body.metadata, items: body.items };
}
