// Compile-time micro-benchmarks. benchmark.js for operations that are fast enough for it to
// take many samples; operations that take over a second per call (the baselines at 10k) are
// timed directly `samples` times — benchmark.js would only add calibration runs of 10+ s each.

import Benchmark from 'benchmark';
import { median } from './stats.js';

export interface MicroResult {
  /** Median milliseconds per call. */
  p50: number;
  samples: number;
  method: 'benchmark.js' | 'direct';
}

export function microBench(name: string, fn: () => unknown, opts: { samples: number; maxTimeS: number }): MicroResult {
  const t0 = performance.now();
  fn();
  const first = performance.now() - t0;
  if (first > 1000) {
    const times = [first];
    for (let i = 1; i < opts.samples; i++) {
      const s = performance.now();
      fn();
      times.push(performance.now() - s);
    }
    return { p50: median(times), samples: times.length, method: 'direct' };
  }
  const bench = new Benchmark(name, fn, { minSamples: Math.max(2, opts.samples), maxTime: opts.maxTimeS, initCount: 1 });
  bench.run();
  if (bench.error) throw new Error(`micro-benchmark ${name} failed: ${String(bench.error)}`);
  const sample = bench.stats.sample.map((s) => s * 1000);
  return { p50: median(sample), samples: sample.length, method: 'benchmark.js' };
}

export function timeOnce<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}
