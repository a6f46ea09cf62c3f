// When to sync: kube-proxy's BoundedFrequencyRunner in small. The first change after an idle
// period is applied at once; a burst after that is coalesced into at most one sync per
// minSyncPeriod; every syncPeriod a full sync happens even without changes; a failed sync is
// retried with exponential backoff (a newer change does not bypass the backoff: the failure is
// most likely the kernel's or the applier's, not the input's).

export interface SyncLoopOptions {
  minSyncPeriodMs: number;
  syncPeriodMs: number;
  /** Runs one sync; rejects on failure. `full` asks for a full (atomic replace) sync. */
  run: (full: boolean) => Promise<void>;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => number;
  onError?: (err: unknown, retryInMs: number) => void;
}

export class SyncLoop {
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private periodic: NodeJS.Timeout | null = null;
  private pending = false;
  private pendingFull = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private failures = 0;
  private retryAt = 0;
  private stopped = true;
  private readonly now: () => number;

  constructor(private readonly opts: SyncLoopOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.periodic = setInterval(() => this.requestFull(), this.opts.syncPeriodMs);
    this.periodic.unref();
  }

  /** Something changed: sync as soon as the rate limit allows. */
  request(): void {
    this.pending = true;
    this.schedule();
  }

  requestFull(): void {
    this.pendingFull = true;
    this.request();
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Stops scheduling and waits for a sync in progress (its transaction is atomic either way). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pending = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.periodic) clearInterval(this.periodic);
    this.timer = this.periodic = null;
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped || this.running || this.timer || !this.pending) return;
    const earliest = Math.max(this.lastStart + this.opts.minSyncPeriodMs, this.retryAt);
    const wait = Math.max(0, earliest - this.now());
    // Even "now" goes through a timer: the events of one watch chunk arrive in the same tick.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fire();
    }, wait);
  }

  private fire(): void {
    if (this.stopped || this.running) return;
    const full = this.pendingFull;
    this.pending = this.pendingFull = false;
    this.lastStart = this.now();
    this.running = this.opts.run(full).then(
      () => {
        this.failures = 0;
        this.retryAt = 0;
      },
      (err: unknown) => {
        const delay = Math.min(this.opts.maxBackoffMs ?? 30_000, (this.opts.initialBackoffMs ?? 1000) * 2 ** this.failures);
        this.failures++;
        this.retryAt = this.now() + delay;
        this.pending = true;
        this.pendingFull ||= full;
        this.opts.onError?.(err, delay);
      },
    );
    void this.running.finally(() => {
      this.running = null;
      this.schedule();
    });
  }
}
