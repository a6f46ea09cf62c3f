// The sync loop's timing: first change after idle at once, bursts coalesced to one sync per
// minSyncPeriod, periodic full syncs, exponential backoff after failures.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncLoop } from '../../runtime/daemon/loop.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function recorder(fail: (n: number) => boolean = () => false) {
  const calls: { at: number; full: boolean }[] = [];
  const run = async (full: boolean): Promise<void> => {
    calls.push({ at: Date.now(), full });
    if (fail(calls.length)) throw new Error('kernel said no');
  };
  return { calls, run };
}

describe('SyncLoop', () => {
  it('applies the first change after idle at once and coalesces a burst into one sync per minSyncPeriod', async () => {
    const r = recorder();
    const loop = new SyncLoop({ minSyncPeriodMs: 1000, syncPeriodMs: 3_600_000, run: r.run, now: () => Date.now() });
    loop.start();
    const t0 = Date.now();
    loop.request();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.calls.map((c) => c.at - t0)).toEqual([0]);
    for (let i = 0; i < 50; i++) {
      loop.request();
      await vi.advanceTimersByTimeAsync(10);
    }
    await vi.advanceTimersByTimeAsync(2000);
    // 50 requests over 500 ms after the first sync: exactly one more, at minSyncPeriod.
    expect(r.calls.map((c) => c.at - t0)).toEqual([0, 1000]);
    await vi.advanceTimersByTimeAsync(5000);
    loop.request();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.calls).toHaveLength(3);
    expect(r.calls[2]?.at).toBe(t0 + 7500 + 10 * 0);
    await loop.stop();
  });

  it('runs a full sync every syncPeriod', async () => {
    const r = recorder();
    const loop = new SyncLoop({ minSyncPeriodMs: 100, syncPeriodMs: 10_000, run: r.run, now: () => Date.now() });
    loop.start();
    await vi.advanceTimersByTimeAsync(30_500);
    expect(r.calls.map((c) => c.full)).toEqual([true, true, true]);
    await loop.stop();
  });

  it('backs off exponentially after failures and keeps the full flag until a sync succeeds', async () => {
    const r = recorder((n) => n <= 3);
    const errors: number[] = [];
    const loop = new SyncLoop({ minSyncPeriodMs: 10, syncPeriodMs: 3_600_000, run: r.run, initialBackoffMs: 1000, maxBackoffMs: 3000, now: () => Date.now(), onError: (_e, d) => errors.push(d) });
    loop.start();
    const t0 = Date.now();
    loop.requestFull();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(errors).toEqual([1000, 2000, 3000]);
    expect(r.calls.map((c) => c.at - t0)).toEqual([0, 1000, 3000, 6000]);
    expect(r.calls.every((c) => c.full)).toBe(true);
    expect(loop.consecutiveFailures).toBe(0);
    await loop.stop();
  });

  it('does nothing after stop', async () => {
    const r = recorder();
    const loop = new SyncLoop({ minSyncPeriodMs: 10, syncPeriodMs: 100, run: r.run, now: () => Date.now() });
    loop.start();
    await loop.stop();
    loop.request();
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.calls).toHaveLength(0);
  });
});
