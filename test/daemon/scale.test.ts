// The targets, measured: network programming latency (API event → kernel) p50 at 10k
// services, and the daemon's RSS at 10k services × 10 endpoints. Minutes of CPU: runs only with
// NFTPROXY_SCALE=1 (e.g. `NFTPROXY_SCALE=1 npx vitest run test/daemon/scale.test.ts`) and
// prints the figures.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { podIp } from '../../bench/generate.js';
import { createNamespace, destroyNamespace, exec, spawnIn } from '../harness/index.js';
import type { RemoteFakeApi } from '../fake-apiserver/remote.js';
import { DaemonProc, startFakeApi } from './procs.js';
import { NODE, node } from './fixtures.js';

const BIN = fileURLToPath(new URL('../../bin/nftproxy.js', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/runtime/cli/main.js', import.meta.url));
const SERVICES = Number(process.env.NFTPROXY_SCALE_SERVICES ?? 10_000);
const ENDPOINTS = 10;
const SAMPLES = 21;
const MIN_SYNC_MS = 1000;

let ns: string | undefined;
let api: RemoteFakeApi | undefined;
let daemon: DaemonProc | undefined;

afterAll(async () => {
  await daemon?.stop('SIGKILL');
  api?.close();
  if (ns) await destroyNamespace(ns);
});

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

describe.skipIf(!process.env.NFTPROXY_SCALE)(`nftproxy run at ${SERVICES} services × ${ENDPOINTS} endpoints`, () => {
  it('programs the cluster, then each change within the latency target, in bounded memory', async () => {
    ns = await createNamespace('scale');
    const started = await startFakeApi(ns);
    api = started.api;
    await api.generate(SERVICES, ENDPOINTS, [NODE, 'node-b']);
    await api.apply(node(NODE, ['192.168.0.1']));
    // The built CLI (what production runs) when dist/ exists: tsx adds its own memory to the RSS.
    const built = existsSync(BUILT) && !process.env.NFTPROXY_SCALE_TSX;
    daemon = (built ? (a: string[]) => new DaemonProc(spawnIn(ns as string, [process.execPath, BIN, 'run', ...a])) : (a: string[]) => DaemonProc.start(ns as string, a))([
      '--kubeconfig', started.kubeconfig, '--hostname-override', NODE, '--table', 'nfps',
      '--healthz-bind-address', '127.0.0.1:10256', '--metrics-bind-address', '127.0.0.1:10249',
      '--min-sync-period', `${MIN_SYNC_MS}ms`,
      ...(process.env.NFTPROXY_SCALE_APPLIER ? ['--applier', process.env.NFTPROXY_SCALE_APPLIER] : []),
    ]);
    const t0 = Date.now();
    const first = await daemon.waitFor((l) => l.msg === 'sync', 600_000);
    const firstMs = Date.now() - t0;
    expect(first.servicePorts).toBe(SERVICES);
    const pid = daemon.child.pid as number;
    const rssAfterFirst = rssMb(pid);

    const latencies: number[] = [];
    const durations: number[] = [];
    const modelMs: number[] = [];
    const lowerMs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      await new Promise((r) => setTimeout(r, MIN_SYNC_MS + 200)); // idle: the next change goes at once
      const svc = `svc-${(i * 37) % SERVICES}`;
      const from = daemon.logs.length;
      const sent = Date.now();
      await api.apply({
        kind: 'EndpointSlice',
        apiVersion: 'discovery.k8s.io/v1',
        metadata: { namespace: 'bench', name: `${svc}-extra`, labels: { 'kubernetes.io/service-name': svc } },
        addressType: 'IPv4',
        ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
        endpoints: [{ addresses: [podIp(SERVICES * ENDPOINTS + i)], conditions: { ready: true }, nodeName: NODE }],
      });
      const line = await daemon.waitFor((l) => l.msg === 'sync' && l.time >= sent, 60_000, from);
      latencies.push(line.time - sent);
      durations.push(Number(line.durationMs));
      modelMs.push(Number(line.modelMs));
      lowerMs.push(Number(line.lowerMs));
    }
    const rssEnd = rssMb(pid);
    // One set is enough to check the kernel holds the cluster (`list table` takes seconds here).
    const clusterIps = (await exec(ns, ['nft', '-j', 'list', 'set', 'ip', 'nfps', 'cluster-ips'], { timeoutMs: 120_000 })).stdout;
    const report = {
      services: SERVICES,
      endpointsPerService: ENDPOINTS,
      runtime: built ? 'built' : 'tsx',
      firstSyncMs: firstMs,
      firstSyncDurationMs: first.durationMs,
      latencyP50Ms: median(latencies),
      latencyMaxMs: Math.max(...latencies),
      syncDurationP50Ms: median(durations),
      modelP50Ms: median(modelMs),
      lowerP50Ms: median(lowerMs),
      rssAfterFirstSyncMb: Math.round(rssAfterFirst),
      rssEndMb: Math.round(rssEnd),
      latencies,
      clusterIpsInKernel: (clusterIps.match(/"10\.\d+\.\d+\.\d+"/g) ?? []).length,
    };
    console.log(JSON.stringify(report, null, 2));
    expect(latencies).toHaveLength(SAMPLES);
    expect(report.clusterIpsInKernel).toBe(SERVICES);
    // Targets from the issue: p50 ≤ 50 ms beyond minSyncPeriod; RSS ≤ 200 MB.
    expect(report.latencyP50Ms).toBeLessThanOrEqual(MIN_SYNC_MS + 50);
    expect(report.rssEndMb).toBeLessThanOrEqual(200);
  }, 1_200_000);
});
