/**
 * Per-operation counters and latency histograms of the FUSE adapter, kept
 * in process for the daemon's status and its stop log (the Prometheus
 * metrics are fed separately, through the adapter's observe hook).
 */
/** Latency histogram bounds, in ms: cache hits are sub-ms, a HEAD ~1–100 ms, uploads seconds. */
export const LATENCY_BOUNDS_MS = [0.1, 1, 10, 100, 1_000, 10_000] as const;

export interface OperationCounter {
  count: number;
  errors: number;
  totalMs: number;
  maxMs: number;
  /** Bytes moved (read and write only). */
  bytes: number;
  /** Counts per LATENCY_BOUNDS_MS bucket, plus one for slower calls. */
  buckets: number[];
}

/** Per-operation counters and latency histograms, for the daemon's status and metrics. */
export class OperationStats {
  private readonly counters = new Map<string, OperationCounter>();

  record(op: string, startedNs: bigint, failed: boolean, bytes = 0): void {
    const ms = Number(process.hrtime.bigint() - startedNs) / 1e6;
    let c = this.counters.get(op);
    if (c === undefined) {
      c = { count: 0, errors: 0, totalMs: 0, maxMs: 0, bytes: 0, buckets: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0) };
      this.counters.set(op, c);
    }
    c.count++;
    if (failed) c.errors++;
    c.totalMs += ms;
    c.maxMs = Math.max(c.maxMs, ms);
    c.bytes += bytes;
    const bucket = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
    c.buckets[bucket === -1 ? LATENCY_BOUNDS_MS.length : bucket]! += 1;
  }

  snapshot(): Record<string, OperationCounter> {
    return Object.fromEntries([...this.counters].map(([op, c]) => [op, { ...c, buckets: [...c.buckets] }]));
  }
}
