// report.md and the SVG charts, from a validated results.json.

import type { BenchResults, SystemResult } from './schema.js';
import { barChart, formatValue, PALETTE } from './svg.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memGb: number;
}

export const NOT_RUN = 'not run (--systems)';

const ORDER = ['nftproxy', 'kube-proxy-iptables', 'kube-proxy-iptables-nft', 'kube-proxy-nftables'] as const;

function systemsOf(r: BenchResults): [string, SystemResult][] {
  // Systems left out with --systems are not shown at all (their numbers are placeholders).
  return ORDER.flatMap((name): [string, SystemResult][] => {
    const s = r.systems[name];
    return s && !s.notes.includes(NOT_RUN) ? [[name, s]] : [];
  });
}

const fmt = (v: number | null | undefined, unit = ''): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${formatValue(v)}${unit}`);

function ratio(v: number | null | undefined, ref: number | null | undefined): string {
  if (v === null || v === undefined || ref === null || ref === undefined || !(ref > 0) || !Number.isFinite(v)) return '';
  const x = v / ref;
  return ` (${x >= 10 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 1 ? 1 : 2)}×)`;
}

interface Row {
  label: string;
  get: (s: SystemResult) => number | null | undefined;
  unit?: string;
  /** Show the ratio against nftproxy. */
  ratio?: boolean;
}

function libUpdate(s: SystemResult, key: 'p50' | 'p99'): number | null | undefined {
  return s.updateMsByApplier?.lib[key];
}

const ROWS: Row[] = [
  { label: 'chains', get: (s) => s.objects.chains, ratio: true },
  { label: 'rules', get: (s) => s.objects.rules, ratio: true },
  { label: 'sets / maps', get: () => null },
  { label: 'set/map elements', get: (s) => s.objects.elements },
  { label: 'rules per new connection, worst', get: (s) => s.rulesPerNewConnection.worst, ratio: true },
  { label: 'rules per new connection, median', get: (s) => s.rulesPerNewConnection.median, ratio: true },
  { label: 'full compile (ms)', get: (s) => s.compileMs.full, ratio: true },
  { label: 'one-change diff p50 (ms)', get: (s) => s.compileMs.diffP50, ratio: true },
  { label: 'full load (ms, median)', get: (s) => s.fullLoadMs, ratio: true },
  { label: 'update p50 (ms)', get: (s) => s.updateMs.p50, ratio: true },
  { label: 'update p99 (ms)', get: (s) => s.updateMs.p99, ratio: true },
  { label: 'update p50, libnftables (ms)', get: (s) => libUpdate(s, 'p50') },
  { label: 'update p99, libnftables (ms)', get: (s) => libUpdate(s, 'p99') },
  { label: 'connect, first service (µs)', get: (s) => s.connectUs.first, ratio: true },
  { label: 'connect, middle service (µs)', get: (s) => s.connectUs.middle, ratio: true },
  { label: 'connect, last service (µs)', get: (s) => s.connectUs.last, ratio: true },
  { label: 'RSS holding the cluster (MB)', get: (s) => s.rssMb },
];

export function reportMarkdown(r: BenchResults, machine: MachineInfo): string {
  const systems = systemsOf(r);
  const ref = r.systems.nftproxy;
  const sc = r.scenario;
  const lines: string[] = [];
  lines.push(`# nftproxy benchmark: ${shapeTitle(sc)}`);
  lines.push('');
  lines.push(`${sc.date} · ${machine.cpu}, ${machine.cores} cores, ${machine.memGb} GB · kernel ${sc.kernel} · ${sc.nft} · ${sc.iptables} · ${sc.updates} random single-endpoint changes per system`);
  lines.push('');
  lines.push('Ratios in parentheses are relative to nftproxy (higher = worse than nftproxy). Medians and percentiles on a shared 2-core machine: read them as orders of magnitude.');
  lines.push('');
  lines.push(`| | ${systems.map(([n]) => n).join(' | ')} |`);
  lines.push(`|---|${systems.map(() => '---:').join('|')}|`);
  for (const row of ROWS) {
    if (row.label === 'sets / maps') {
      lines.push(`| sets / maps | ${systems.map(([, s]) => `${s.objects.sets} / ${s.objects.maps}`).join(' | ')} |`);
      continue;
    }
    const cells = systems.map(([name, s]) => {
      const v = row.get(s);
      const dnf = s.fullLoadTimedOutMs;
      if (row.label.startsWith('full load') && v === null && dnf !== undefined) return `did not finish in ${Math.round(dnf / 1000)} s`;
      return `${fmt(v)}${row.ratio && name !== 'nftproxy' ? ratio(v, row.get(ref)) : ''}`;
    });
    if (cells.every((c) => c === 'n/a')) continue;
    lines.push(`| ${row.label} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('![update latency](update-latency.svg) ![full load](full-load.svg) ![connect latency](connect-latency.svg)');
  lines.push('');
  lines.push('## How each number was measured');
  lines.push('- **objects**: counted in the kernel after the full load (`nft -j list ruleset`, `iptables-*-save`) where the column says `kernel`; otherwise from the emitted artefact.');
  lines.push(`- **objects source**: ${systems.map(([n, s]) => `${n}: ${s.objects.source}`).join('; ')}.`);
  lines.push('- **rules per new connection**: walked in the emitted ruleset (bench/accounting.ts: the IR interpreter for the nft layouts, a restore-text walker for iptables) for a pod→clusterIP connection, over evenly spaced services including the first and the last.');
  lines.push('- **full compile**: Kubernetes objects → the artefact the system loads (model build + lowering; nft JSON encoding is listed separately as `encodeMs` in results.json). **one-change diff**: nftproxy `diffRulesets`; kube-proxy-iptables its partial restore render (`compileIptablesPartial`, the whole KUBE-SERVICES is always rewritten); kube-proxy-nftables `diffRulesets` on its IR.');
  lines.push('- **full load**: one `nft -j -f FILE` / `iptables-*-restore --noflush FILE` into an empty private namespace; median of the repetitions that fit the budget.');
  lines.push('- **update**: end to end per change. nftproxy: as the daemon does it — the incremental recompile of the IR (one LowerCache), then the SyncEngine (diff against its mirror + one atomic transaction) — with the nft CLI applier, and separately with libnftables in-process (lower rows); the recompile alone is `recompileMs` in results.json. kube-proxy-iptables: its partial `iptables-restore --noflush` on stdin; kube-proxy-nftables: its transaction through `nft -j -f`. The baselines\' own userspace work (rendering the restore, diffing) is **not** included: that favours them.');
  lines.push('- **connect**: TCP connect() → established from a client namespace to the clusterIP of the first, middle and last service, DNATed to a real echo server in a backend namespace; median.');
  lines.push('- **RSS**: the nftproxy worker process after its first full sync, holding objects, model, ruleset and the sync mirror (node + tsx runtime included).');
  lines.push('');
  const notes = systems.flatMap(([n, s]) => s.notes.map((t) => `- ${n}: ${t}`));
  if (notes.length > 0) {
    lines.push('## Notes');
    lines.push(...notes);
    lines.push('');
  }
  return lines.join('\n');
}

export function charts(r: BenchResults): Record<string, string> {
  const systems = systemsOf(r);
  const names = systems.map(([n]) => n);
  const lib = { p50: libUpdate(r.systems.nftproxy, 'p50') ?? null, p99: libUpdate(r.systems.nftproxy, 'p99') ?? null };
  const updateGroups = systems.map(([n, s]) => ({ label: n === 'nftproxy' ? 'nftproxy (nft CLI)' : n, values: [s.updateMs.p50, s.updateMs.p99] }));
  if (lib.p50 !== null) updateGroups.splice(1, 0, { label: 'nftproxy (libnftables)', values: [lib.p50, lib.p99] });
  const title = shapeTitle(r.scenario);
  return {
    'update-latency.svg': barChart({
      title: `Update latency, one endpoint change — ${title}`,
      unit: 'ms',
      log: true,
      series: [
        { name: 'p50', color: PALETTE[0] as string },
        { name: 'p99', color: PALETTE[1] as string },
      ],
      groups: updateGroups,
    }),
    'full-load.svg': barChart({
      title: `Full load into an empty namespace — ${title}`,
      unit: 'ms',
      log: true,
      series: [{ name: 'full load (median)', color: PALETTE[2] as string }],
      groups: systems.map(([n, s]) => ({ label: n, values: [s.fullLoadMs] })),
    }),
    'connect-latency.svg': barChart({
      title: `TCP connect latency by service position — ${title}`,
      unit: 'µs (median)',
      series: names.map((n, i) => ({ name: n, color: PALETTE[i] as string })),
      groups: (['first', 'middle', 'last'] as const).map((pos) => ({ label: `${pos} service`, values: systems.map(([, s]) => s.connectUs[pos]) })),
    }),
  };
}

export function sweepMarkdown(runs: { services: number; results: BenchResults }[]): string {
  const lines = ['# nftproxy benchmark sweep', '', '| services | system | rules/conn worst | full load ms | update p50 ms | update p99 ms | connect last µs |', '|---:|---|---:|---:|---:|---:|---:|'];
  for (const { services, results } of runs) {
    for (const [n, s] of systemsOf(results)) {
      lines.push(`| ${services} | ${n} | ${fmt(s.rulesPerNewConnection.worst)} | ${fmt(s.fullLoadMs)} | ${fmt(s.updateMs.p50)} | ${fmt(s.updateMs.p99)} | ${fmt(s.connectUs.last)} |`);
    }
  }
  return lines.join('\n') + '\n';
}

export function sweepChart(runs: { services: number; results: BenchResults }[]): string {
  const names = ORDER.filter((n) => runs.some((r) => r.results.systems[n] !== undefined));
  return barChart({
    title: 'Update latency p50 by cluster size',
    unit: 'ms',
    log: true,
    series: names.map((n, i) => ({ name: n, color: PALETTE[i] as string })),
    groups: runs.map(({ services, results }) => ({
      label: `${services.toLocaleString('en-US')} services`,
      values: names.map((n) => results.systems[n]?.updateMs.p50 ?? null),
    })),
  });
}

/** The cluster shape in words: uniform or realistic, and the big service when there is one. */
export function shapeTitle(sc: { services: number; endpointsPerService: number; distribution?: unknown; bigService?: unknown; totalEndpoints?: unknown }): string {
  const n = sc.services.toLocaleString('en-US');
  const base =
    sc.distribution === 'realistic'
      ? `${n} services, realistic endpoint counts (${typeof sc.totalEndpoints === 'number' ? sc.totalEndpoints.toLocaleString('en-US') : '?'} endpoints)`
      : `${n} services × ${sc.endpointsPerService} endpoints`;
  return typeof sc.bigService === 'number' ? `${base} + one Service with ${sc.bigService.toLocaleString('en-US')} endpoints (updates inside it)` : base;
}
