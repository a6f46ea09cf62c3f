// The benchmark computes each baseline's per-change artefact from the changed service alone; these
// tests hold those shortcuts to the whole-cluster functions (compileIptablesPartial, diffRulesets
// over compileKubeProxyNft) on both sides of kube-proxy's large-cluster threshold.

import { describe, expect, it } from 'vitest';
import { compileIptables, compileIptablesPartial } from '../../compiler/iptables/restore.js';
import { IptablesPartials, LARGE_CLUSTER_ENDPOINTS, totalEndpoints, verifyBaselineUpdates } from '../../bench/baseline-updates.js';
import { benchCompileOptions, ClusterState, planChanges, probeServices } from '../../bench/scenario.js';

describe('baseline update shortcuts', () => {
  for (const spec of [
    { services: 40, endpointsPerService: 3 }, // 120 endpoints: comments on every chain
    { services: 110, endpointsPerService: 10 }, // 1100 endpoints: kube-proxy's large-cluster mode
  ]) {
    it(`equal the whole-cluster renders at ${spec.services} × ${spec.endpointsPerService}`, () => {
      const p = probeServices(spec.services);
      const changes = planChanges(spec, 5, 11, spec.services * spec.endpointsPerService + 1, new Set([p.first, p.middle, p.last]));
      expect(() => verifyBaselineUpdates(spec, changes, benchCompileOptions())).not.toThrow();
    });
  }

  it('a partial rendered in the wrong comment mode is caught', () => {
    const spec = { services: 110, endpointsPerService: 10 };
    const state = new ClusterState(spec);
    const whole = state.model.servicePorts;
    expect(totalEndpoints(whole)).toBeGreaterThan(LARGE_CLUSTER_ENDPOINTS);
    const wrong = new IptablesPartials(compileIptables(whole, state.opts), state.opts, 10);
    const { before, after } = state.apply({ service: 7, slot: 2, ip: '10.200.0.9' });
    expect(wrong.partial(before, after)).not.toBe(compileIptablesPartial(whole, state.model.servicePorts, state.opts));
  });

  it('changes are deterministic, fresh and never touch the probed services', () => {
    const spec = { services: 30, endpointsPerService: 2 };
    const exclude = new Set([0, 15, 29]);
    const a = planChanges(spec, 50, 3, 61, exclude);
    expect(planChanges(spec, 50, 3, 61, exclude)).toEqual(a);
    expect(a.some((c) => exclude.has(c.service))).toBe(false);
    expect(new Set(a.map((c) => c.ip)).size).toBe(50);
  });

  it('the incremental model equals a full rebuild after changes', () => {
    const spec = { services: 30, endpointsPerService: 2 };
    const state = new ClusterState(spec);
    const { before, after } = state.apply({ service: 4, slot: 1, ip: '10.200.0.1' });
    expect(before[0]?.endpoints.map((e) => e.ip)).not.toContain('10.200.0.1');
    expect(after[0]?.endpoints.map((e) => e.ip)).toContain('10.200.0.1');
    expect(new ClusterState(spec, state.opts, state.objects).model.servicePorts).toEqual(state.model.servicePorts);
  });
});
