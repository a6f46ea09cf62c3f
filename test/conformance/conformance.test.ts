// Conformance with kube-proxy's nftables mode (issue 12), every case of the table through `trace`.
// kernel.test.ts runs the cases marked `kernel` with real traffic and checks the kernel agrees.
import { describe, expect, it } from 'vitest';
import { compileObjects } from '../../compiler/index.js';
import type { Ruleset } from '../../ir/types.js';
import { base as baseOptions, LEAVES, namelessProblem, node, scenarios, services } from './cluster.js';
import { runFlow } from './flow.js';

for (const sc of scenarios) {
  describe(sc.name, () => {
    const compiled = compileObjects(sc.objects, sc.options);
    it('compiles with only the nameless slice port reported', () => {
      expect(compiled.model.problems).toMatchObject([namelessProblem]);
    });
    it.each(sc.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const r = runFlow(compiled.ruleset, c);
      expect({ output: r.output, masq: r.masq }).toEqual({ output: c.output, masq: c.masq ?? false });
    });
  });
}

describe('structure kube-proxy relies on', () => {
  const { ruleset } = compileObjects(scenarios[0]!.objects, scenarios[0]!.options);
  const chain = (rs: Ruleset, name: string) => rs.tables.find((t) => t.family === 'ip')?.chains.find((c) => c.name === name);

  it('firewall-check runs only for new connections (changing source ranges keeps established ones)', () => {
    for (const name of ['filter-prerouting', 'filter-output-pre-dnat']) {
      const rules = chain(ruleset, name)?.rules ?? [];
      expect(rules).toHaveLength(1);
      expect(rules[0]?.stmts[0]).toMatchObject({ kind: 'match', left: { kind: 'ct', key: 'state' }, right: { value: 'new' } });
    }
  });

  it('cluster-ips-check runs after DNAT on forwarded and locally sent traffic, not on input (kube-proxy)', () => {
    const jumpsTo = (c: string) => (chain(ruleset, c)?.rules ?? []).some((r) => r.stmts.some((s) => s.kind === 'verdict' && 'target' in s.verdict && s.verdict.target === 'cluster-ips-check'));
    expect([jumpsTo('filter-forward'), jumpsTo('filter-output'), jumpsTo('filter-input')]).toEqual([true, true, false]);
    expect(chain(ruleset, 'filter-output')?.base?.prio).toBeGreaterThan(-100);
  });

  it('session affinity: the ETP Local path and the cluster path share the client memory of an endpoint', () => {
    const viaLB = runFlow(ruleset, { name: 'lb', from: 'client', dst: '192.168.99.3', port: 80, output: '' });
    const viaClusterIP = runFlow(ruleset, { name: 'cip', from: 'p', dst: '10.96.1.11', port: 80, output: '' });
    const setFor = (r: ReturnType<typeof runFlow>, ip: string) => r.outcomes.find((o) => o.dst.addr === ip)?.remembered[0]?.set;
    const a = LEAVES.a.v4;
    expect(setFor(viaLB, a)).toBeDefined();
    expect(setFor(viaLB, a)).toBe(setFor(viaClusterIP, a));
    // ...and the kernel gets one set per endpoint, not one per path.
    const affinitySets = ruleset.tables.find((t) => t.family === 'ip')?.sets.filter((s) => s.name.startsWith('affinity-')) ?? [];
    expect(affinitySets).toHaveLength(2);
  });

  it('a ServiceCIDR object that is invalid is reported and skipped; the rest compiles', () => {
    const bad = { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'bad' }, spec: { cidrs: ['10.96.0.0/33'] } };
    const m = compileObjects([node, bad, ...services], baseOptions);
    expect(m.model.problems).toContainEqual(expect.objectContaining({ kind: 'ServiceCIDR', name: 'bad', field: 'spec.cidrs[0]' }));
    expect(m.model.serviceCIDRs).toEqual([]);
    expect(runFlow(m.ruleset, { name: 'x', from: 'p', dst: '10.96.200.5', port: 80, output: '' }).output).toBe('');
  });
});
