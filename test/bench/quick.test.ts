// Runs the real benchmark (`bench/main.ts`) at a tiny size — kernel phases in private network
// namespaces it creates — and checks what it wrote: results.json against the schema,
// the report and the charts. Timings are never asserted (shared, noisy machine); counts and
// structure are, since they must not depend on the machine.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot, isRoot, NEEDS_ROOT } from '../harness/privileges.js';
import { listOurNamespaces } from '../harness/index.js';
import { benchResultsSchema, type BenchResults } from '../../bench/schema.js';

const SERVICES = 200;
const ENDPOINTS = 3;
const UPDATES = 5;

let out = '';
let results: BenchResults;
let stderr = '';

function runBench(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bench/main.ts', ...args], { cwd: join(import.meta.dirname, '../..'), maxBuffer: 1 << 26 }, (err, _stdout, se) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr: se });
    });
  });
}

beforeAll(async () => {
  if (!isRoot) return; // see describeAsRoot below
  out = mkdtempSync(join(tmpdir(), 'nftproxy-bench-test-'));
  const r = await runBench([
    '--quick', '--services', String(SERVICES), '--endpoints', String(ENDPOINTS), '--updates', String(UPDATES),
    '--out', out, '--connects', '20', '--connect-warmup', '3', '--load-reps', '2', '--bench-max-time', '1', '--rpc-sample', '20',
  ]);
  stderr = r.stderr;
  if (r.code !== 0) throw new Error(`bench failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
  results = benchResultsSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
}, 600_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describeAsRoot(NEEDS_ROOT.bigTransactions)('npm run bench --quick at 200 services × 3 endpoints', () => {
  it('writes results.json in the shape of the issue, for the scenario asked', () => {
    expect(results.scenario).toMatchObject({ services: SERVICES, endpointsPerService: ENDPOINTS, updates: UPDATES });
    expect(Object.keys(results.systems)).toEqual(expect.arrayContaining(['nftproxy', 'kube-proxy-iptables', 'kube-proxy-nftables']));
    expect(stderr).toContain('results in');
  });

  it('measured every kernel number for the three systems (nothing silently missing)', () => {
    for (const name of ['nftproxy', 'kube-proxy-iptables', 'kube-proxy-nftables'] as const) {
      const s = results.systems[name];
      expect(s.objects.source, name).toBe('kernel');
      expect(s.fullLoadMs, name).not.toBeNull();
      expect(s.updateMs.p50, name).not.toBeNull();
      expect(s.updateMs.p99, name).not.toBeNull();
      expect(s.updateMs.n, name).toBe(UPDATES);
      for (const pos of ['first', 'middle', 'last'] as const) expect(s.connectUs[pos], `${name} ${pos}`).not.toBeNull();
    }
    expect(results.systems.nftproxy.rssMb).not.toBeNull();
    const byApplier = (results.systems.nftproxy as { updateMsByApplier?: { cli: { n: number }; lib: { n: number } } }).updateMsByApplier;
    expect(byApplier?.cli.n).toBe(UPDATES);
    expect(byApplier?.lib.n).toBe(UPDATES);
  });

  it('counts what the layouts imply: nftproxy static, iptables linear in services', () => {
    const n = results.systems.nftproxy;
    const ipt = results.systems['kube-proxy-iptables'];
    const kp = results.systems['kube-proxy-nftables'];
    // kube-proxy: a KUBE-SVC chain per service and a KUBE-SEP chain per endpoint.
    expect(ipt.objects.chains).toBeGreaterThanOrEqual(SERVICES * (1 + ENDPOINTS));
    expect(kp.objects.chains).toBeGreaterThanOrEqual(SERVICES * (1 + ENDPOINTS));
    expect(n.objects.chains).toBeLessThan(100);
    expect(n.objects.elements).toBeGreaterThanOrEqual(SERVICES * ENDPOINTS);
    // The linear scan: the last service is behind every other service's KUBE-SERVICES rule.
    expect(ipt.rulesPerNewConnection.worst).toBeGreaterThan(SERVICES);
    expect(n.rulesPerNewConnection.worst).toBeLessThanOrEqual(10);
  });

  it('writes the report and the three charts', () => {
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain(`${SERVICES} services × ${ENDPOINTS} endpoints`);
    expect(md).toMatch(/\| update p50 \(ms\) \|/);
    for (const f of ['update-latency.svg', 'full-load.svg', 'connect-latency.svg']) {
      const svg = readFileSync(join(out, f), 'utf8');
      expect(svg.startsWith('<svg'), f).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>'), f).toBe(true);
      expect(svg).toContain('<rect');
    }
  });

  it('leaves no namespace behind', () => {
    expect(listOurNamespaces().filter((ns) => /-(nfp|kp-[a-z-]+)-(node|client|backend)$/.test(ns))).toEqual([]);
  });
});
