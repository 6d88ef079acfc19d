/**
 * The Prometheus metrics of one mount, in a registry of its own (never
 * prom-client's global one: tests run several mounts in one process, and a
 * library must not collide with its host's metrics):
 * - FUSE requests: count by operation and result (ok or errno name), latency
 *   histogram by operation, bytes read and written;
 * - object-store requests (every attempt): count by operation and outcome,
 *   latency histogram by operation, bytes in and out, retries;
 * - the data path (cache, dirty bytes, upload queue, failures) read from
 *   MountControl.stats() at scrape time, so nothing is kept twice;
 * - the process (memory, CPU, event loop) from prom-client's defaults.
 * Fed by hooks (fuse-adapter's observe, the observing backend, retry's
 * onRetry); reads nothing itself between scrapes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ObservedRequest } from '../../drivers/decorators/observe.js';
import type { Operation } from '../../drivers/decorators/forwarding.js';
import type { DataPathStats } from '../../vfs/control.js';
import type { ObservedOperation } from '../../vfs/fuse-adapter.js';
import type { RequestCounts } from '../control/protocol.js';

/** FUSE replies: a cached getattr answers in ~50 µs, an upload on close can take seconds. */
const FUSE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Object-store requests: ~1 ms on loopback, up to a minute for a large part on a slow link. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type StatsSource = () => DataPathStats | undefined;

/** A value read from the data path at scrape time: gauges and monotonic counters alike. */
type Reading = [name: string, help: string, read: (s: DataPathStats) => number];

const GAUGES: Reading[] = [
  ['bucketfs_cache_bytes', 'Bytes in the disk cache (clean chunks plus dirty data)', (s) => s.cache.bytes],
  ['bucketfs_cache_limit_bytes', 'Bound on the disk cache', (s) => s.cache.limitBytes],
  ['bucketfs_cache_dirty_bytes', 'Bytes written but not yet in the bucket', (s) => s.cache.dirtyBytes],
  ['bucketfs_cache_chunks', 'Chunks in the disk cache', (s) => s.cache.chunks],
  ['bucketfs_memory_buffered_bytes', 'Bytes of file data buffered in memory', (s) => s.memory.bufferedBytes],
  ['bucketfs_upload_queue_length', 'Files acknowledged to writers and not yet in the bucket', (s) => s.uploads.pending.length],
  ['bucketfs_upload_queue_bytes', 'Bytes the pending uploads still have to send', (s) => s.uploads.pending.reduce((n, p) => n + p.bytes, 0)],
  ['bucketfs_uploads_in_flight', 'Uploads running now', (s) => s.uploads.inFlight],
  ['bucketfs_open_files', 'Files open through the mount', (s) => s.openFiles],
];

const COUNTERS: Reading[] = [
  ['bucketfs_cache_hits_total', 'Reads served from the disk cache', (s) => s.cache.hits],
  ['bucketfs_cache_misses_total', 'Reads that had to fetch from the bucket', (s) => s.cache.misses],
  ['bucketfs_cache_evictions_total', 'Chunks evicted from the disk cache', (s) => s.cache.evictions],
  ['bucketfs_data_downloaded_bytes_total', 'File data fetched from the bucket', (s) => s.bytesDownloaded],
  ['bucketfs_data_uploaded_bytes_total', 'File data sent to the bucket', (s) => s.bytesUploaded],
  ['bucketfs_uploads_completed_total', 'File uploads that completed', (s) => s.uploads.completed],
  ['bucketfs_uploads_failed_total', 'File uploads that failed for good', (s) => s.uploads.failed],
  ['bucketfs_upload_retries_total', 'File upload attempts that were retried', (s) => s.uploads.retries],
];

export class MountMetrics {
  readonly registry = new Registry();
  private readonly fuseOps: Counter<'op' | 'result'>;
  private readonly fuseSeconds: Histogram<'op'>;
  private readonly fuseBytes: Counter<'direction'>;
  private readonly requests: Counter<'op' | 'outcome'>;
  private readonly requestSeconds: Histogram<'op'>;
  private readonly requestBytes: Counter<'direction'>;
  private readonly retries: Counter<'op'>;

  /** Set once the file system exists (the request hooks are installed before it). */
  private stats: StatsSource = () => undefined;

  constructor() {
    const registers = [this.registry];
    this.fuseOps = new Counter({ name: 'bucketfs_fuse_operations_total', help: 'FUSE requests answered, by operation and result (ok or errno)', labelNames: ['op', 'result'], registers });
    this.fuseSeconds = new Histogram({ name: 'bucketfs_fuse_operation_seconds', help: 'FUSE request latency', labelNames: ['op'], buckets: FUSE_BUCKETS, registers });
    this.fuseBytes = new Counter({ name: 'bucketfs_fuse_bytes_total', help: 'Bytes read and written through the mount', labelNames: ['direction'], registers });
    this.requests = new Counter({ name: 'bucketfs_requests_total', help: 'Object-store requests (each attempt), by operation and outcome', labelNames: ['op', 'outcome'], registers });
    this.requestSeconds = new Histogram({ name: 'bucketfs_request_seconds', help: 'Object-store request latency (get: to the response headers)', labelNames: ['op'], buckets: REQUEST_BUCKETS, registers });
    this.requestBytes = new Counter({ name: 'bucketfs_request_bytes_total', help: 'Bytes sent to (out) and announced by (in) the object store', labelNames: ['direction'], registers });
    this.retries = new Counter({ name: 'bucketfs_request_retries_total', help: 'Object-store requests retried after a transient failure', labelNames: ['op'], registers });
    for (const reading of GAUGES) this.gaugeFromStats(reading);
    for (const reading of COUNTERS) this.counterFromStats(reading);
    collectDefaultMetrics({ register: this.registry, prefix: 'bucketfs_' });
  }

  /** Where the data-path readings come from; a source that throws reads as absent. */
  readFrom(source: () => DataPathStats): void {
    this.stats = () => {
      try {
        return source();
      } catch {
        return undefined;
      }
    };
  }

  observeFuse(o: ObservedOperation): void {
    this.fuseOps.inc({ op: o.op, result: o.errno ?? 'ok' });
    this.fuseSeconds.observe({ op: o.op }, o.seconds);
    if (o.bytes > 0) this.fuseBytes.inc({ direction: o.op === 'write' ? 'write' : 'read' }, o.bytes);
  }

  observeRequest(r: ObservedRequest): void {
    this.requests.inc({ op: r.op, outcome: r.outcome });
    this.requestSeconds.observe({ op: r.op }, r.seconds);
    if (r.bytesIn !== undefined && r.outcome === 'ok') this.requestBytes.inc({ direction: 'in' }, r.bytesIn);
    if (r.bytesOut !== undefined && r.outcome === 'ok') this.requestBytes.inc({ direction: 'out' }, r.bytesOut);
  }

  onRetry(op: Operation): void {
    this.retries.inc({ op });
  }

  /** Object-store request totals for `bucketfs status`, read back from the counters. */
  async requestCounts(): Promise<RequestCounts> {
    const counts: RequestCounts = { total: 0, failed: 0, retries: 0, byOperation: {} };
    for (const { labels, value } of (await this.requests.get()).values) {
      const op = String(labels.op);
      const failed = labels.outcome === 'ok' ? 0 : value;
      const row = (counts.byOperation[op] ??= { count: 0, failed: 0 });
      row.count += value;
      row.failed += failed;
      counts.total += value;
      counts.failed += failed;
    }
    for (const { value } of (await this.retries.get()).values) counts.retries += value;
    return counts;
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gaugeFromStats([name, help, read]: Reading): void {
    const stats = () => this.stats();
    new Gauge({ name, help, registers: [this.registry], collect() {
      const s = stats();
      if (s !== undefined) this.set(read(s));
    } });
  }

  /** A counter whose running total lives in the data path: the scrape copies it. */
  private counterFromStats([name, help, read]: Reading): void {
    const stats = () => this.stats();
    new Counter({ name, help, registers: [this.registry], collect() {
      const s = stats();
      if (s === undefined) return;
      this.reset();
      this.inc(read(s));
    } });
  }
}
