// The benchmark's cluster shapes: the realistic distribution is seeded and heavy-tailed as the
// issue specifies, and the big-service scenario puts every change inside the big Service.
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/model/build.js';
import { benchCompileOptions, ClusterState, endpointCounts, generateObjects, planChanges, probeServices, realisticShape, serviceCount, totalEndpointCount } from '../../bench/scenario.js';

describe('realistic distribution', () => {
  const shape = realisticShape(10000, 6);
  const band = (lo: number, hi: number) => shape.endpoints.filter((n) => n >= lo && n <= hi).length / 10000;

  it('draws 60% 1–2, 30% 3–20, 9% 21–200, 1% 201–5,000 endpoints (within sampling noise)', () => {
    expect(band(1, 2)).toBeCloseTo(0.6, 1);
    expect(band(3, 20)).toBeCloseTo(0.3, 1);
    expect(Math.abs(band(21, 200) - 0.09)).toBeLessThan(0.015);
    expect(Math.abs(band(201, 5000) - 0.01)).toBeLessThan(0.005);
    expect(band(1, 5000)).toBe(1);
  });

  it('is log-uniform within a band: as many services in 21–64 as in 65–200', () => {
    const low = shape.endpoints.filter((n) => n >= 21 && n <= 64).length;
    const high = shape.endpoints.filter((n) => n >= 65 && n <= 200).length;
    expect(Math.abs(low - high) / (low + high)).toBeLessThan(0.15);
  });

  it('is seeded, and has multi-port and NodePort services', () => {
    expect(realisticShape(10000, 6)).toEqual(shape);
    expect(realisticShape(10000, 7).endpoints).not.toEqual(shape.endpoints);
    expect(shape.ports.filter((p) => p > 1).length / 10000).toBeCloseTo(0.15, 1);
    expect(shape.nodePort.filter(Boolean).length / 10000).toBeCloseTo(0.1, 1);
  });

  it('generates valid objects with those counts', () => {
    const spec = { services: 300, endpointsPerService: 0, distribution: 'realistic' as const, seed: 3 };
    const model = buildModel(generateObjects(spec), benchCompileOptions());
    expect(model.problems).toEqual([]);
    const counts = endpointCounts(spec);
    for (const sp of model.servicePorts) expect(sp.endpoints.length).toBe(counts[Number(sp.name.replace(/^.*svc-/, ''))]);
    expect(new Set(model.servicePorts.map((sp) => sp.name)).size).toBe(300);
    expect(model.servicePorts.length).toBeGreaterThan(300);
    expect(model.servicePorts.some((sp) => sp.nodePort !== undefined)).toBe(true);
  });
});

describe('big-service scenario', () => {
  const spec = { services: 3, endpointsPerService: 1, bigService: 5000 };

  it('adds one service with the big count at index 1, away from the probed services', () => {
    expect(serviceCount(spec)).toBe(4);
    expect(endpointCounts(spec)).toEqual([1, 5000, 1, 1]);
    expect(totalEndpointCount(spec)).toBe(5003);
    expect(Object.values(probeServices(4))).not.toContain(1);
  });

  it('plans every change inside the big service, and they apply', () => {
    const changes = planChanges(spec, 10, 1, totalEndpointCount(spec) + 1, new Set([0, 2, 3]));
    expect(changes.every((c) => c.service === 1 && c.slot >= 0 && c.slot < 5000)).toBe(true);
    const state = new ClusterState(spec);
    const { before, after } = state.apply(changes[0]!);
    expect(before[0]!.endpoints.length).toBe(5000);
    expect(after[0]!.endpoints.map((e) => e.ip)).toContain(changes[0]!.ip);
  });
});
