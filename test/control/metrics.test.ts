/**
 * The metrics of one mount, in process: FUSE observations, object-store
 * requests seen through the observing decorator (real memory backend with
 * injected faults, real retry decorator), data-path readings taken at scrape
 * time, and an exposition that parses. The end-to-end scrape of a real mount
 * is in status.test.ts.
 */
import t from 'tap';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import { ObservingBackend, type ObservedRequest } from '../../drivers/decorators/observe.js';
import { RetryingBackend } from '../../drivers/decorators/retry.js';
import { MemoryBackend } from '../../drivers/memory.js';
import { MountMetrics } from '../../daemon/metrics/mount-metrics.js';
import { MetricsListener, parseMetricsAddress } from '../../daemon/metrics/listener.js';
import type { DataPathStats } from '../../vfs/control.js';
import { parsePrometheus, total } from './prometheus.js';

function stats(over: Partial<DataPathStats['cache']> = {}): DataPathStats {
  return {
    writeMode: 'async',
    cache: { bytes: 4096, limitBytes: 1 << 30, dirtyBytes: 1024, chunks: 2, hits: 7, misses: 3, evictions: 1, ...over },
    memory: { bufferedBytes: 10, limitBytes: 100 },
    bytesDownloaded: 5000,
    bytesUploaded: 6000,
    uploads: { pending: [{ path: '/a', key: 'a', bytes: 1024, attempts: 2, since: Date.now(), lastError: 'connection refused' }], inFlight: 1, completed: 4, failed: 0, retries: 2 },
    openFiles: 3,
    errors: [],
  };
}

t.test('FUSE observations: counts by op and result, latency histogram, bytes', async (t) => {
  const metrics = new MountMetrics();
  for (let i = 0; i < 10; i++) metrics.observeFuse({ op: 'read', seconds: 0.0002, bytes: 4096 });
  metrics.observeFuse({ op: 'getattr', seconds: 0.00004, bytes: 0, errno: 'ENOENT' });
  metrics.observeFuse({ op: 'write', seconds: 12, bytes: 100 });
  const { samples, types } = parsePrometheus(await metrics.text());
  t.equal(types.get('bucketfs_fuse_operation_seconds'), 'histogram');
  t.equal(total(samples, 'bucketfs_fuse_operations_total', { op: 'read', result: 'ok' }), 10);
  t.equal(total(samples, 'bucketfs_fuse_operations_total', { op: 'getattr', result: 'ENOENT' }), 1);
  t.equal(total(samples, 'bucketfs_fuse_bytes_total', { direction: 'read' }), 40960);
  t.equal(total(samples, 'bucketfs_fuse_bytes_total', { direction: 'write' }), 100);
  t.equal(total(samples, 'bucketfs_fuse_operation_seconds_bucket', { op: 'getattr', le: '0.00005' }), 1, 'the smallest bucket is 50 µs');
  t.equal(total(samples, 'bucketfs_fuse_operation_seconds_bucket', { op: 'write', le: '10' }), 0, 'the largest finite bucket is 10 s');
  t.equal(total(samples, 'bucketfs_fuse_operation_seconds_bucket', { op: 'write', le: '+Inf' }), 1);
});

t.test('data-path readings are taken at scrape time, zero before the file system exists', async (t) => {
  const metrics = new MountMetrics();
  const before = parsePrometheus(await metrics.text()).samples;
  t.equal(total(before, 'bucketfs_cache_bytes'), 0, 'zero without a source');
  let current = stats();
  metrics.readFrom(() => current);
  let { samples } = parsePrometheus(await metrics.text());
  t.equal(total(samples, 'bucketfs_cache_dirty_bytes'), 1024);
  t.equal(total(samples, 'bucketfs_upload_queue_length'), 1);
  t.equal(total(samples, 'bucketfs_cache_hits_total'), 7);
  t.equal(total(samples, 'bucketfs_cache_evictions_total'), 1);
  t.equal(total(samples, 'bucketfs_uploads_in_flight'), 1);
  current = stats({ hits: 9 });
  ({ samples } = parsePrometheus(await metrics.text()));
  t.equal(total(samples, 'bucketfs_cache_hits_total'), 9, 'the counter follows the data path');
  t.ok(samples.some((s) => s.name === 'bucketfs_process_resident_memory_bytes'), 'process metrics, prefixed');
  metrics.readFrom(() => {
    throw new Error('closed');
  });
  t.ok(parsePrometheus(await metrics.text()), 'a source that throws does not break the scrape');
});

t.test('object-store requests: one observation per attempt, retries counted, bytes', async (t) => {
  const metrics = new MountMetrics();
  const seen: ObservedRequest[] = [];
  const faults = new FaultBackend(new MemoryBackend());
  const backend = new RetryingBackend(new ObservingBackend(faults, (r) => {
    seen.push(r);
    metrics.observeRequest(r);
  }), { baseDelayMs: 1, onRetry: (op) => metrics.onRetry(op) });
  await backend.createBucket('bucket');
  await backend.put('bucket', 'k', Buffer.from('hello'));
  faults.inject({ op: 'get', error: 'Transient', times: 2 });
  const body = await backend.get('bucket', 'k');
  body.body.resume();
  await t.rejects(backend.head('bucket', 'missing'), { name: 'NotFoundError' });
  const gets = seen.filter((r) => r.op === 'get');
  t.same(gets.map((r) => r.outcome), ['Transient', 'Transient', 'ok'], 'each attempt observed');
  t.match(gets[2], { bucket: 'bucket', key: 'k', bytesIn: 5 });
  t.match(seen.find((r) => r.op === 'put'), { key: 'k', bytesOut: 5, outcome: 'ok' });
  const { samples } = parsePrometheus(await metrics.text());
  t.equal(total(samples, 'bucketfs_requests_total', { op: 'get' }), 3);
  t.equal(total(samples, 'bucketfs_requests_total', { op: 'head', outcome: 'NotFound' }), 1);
  t.equal(total(samples, 'bucketfs_request_retries_total', { op: 'get' }), 2);
  t.equal(total(samples, 'bucketfs_request_bytes_total', { direction: 'out' }), 5);
  t.equal(total(samples, 'bucketfs_request_seconds_bucket', { op: 'put', le: '60' }), 1, 'request buckets reach 60 s');
  const counts = await metrics.requestCounts();
  t.match(counts, { total: 6, failed: 3, retries: 2, byOperation: { get: { count: 3, failed: 2 } } });
});

t.test('the TCP endpoint: loopback by default, /metrics only', async (t) => {
  t.same(parseMetricsAddress('9100'), { host: '127.0.0.1', port: 9100 });
  t.same(parseMetricsAddress(':0'), { host: '127.0.0.1', port: 0 });
  t.same(parseMetricsAddress('[::1]:9100'), { host: '::1', port: 9100 });
  t.same(parseMetricsAddress('0.0.0.0:9100'), { host: '0.0.0.0', port: 9100 });
  t.throws(() => parseMetricsAddress('localhost'), /invalid metrics address 'localhost'/);
  t.throws(() => parseMetricsAddress('1.2.3.4:99999'), /invalid metrics address/);
  const metrics = new MountMetrics();
  metrics.observeFuse({ op: 'read', seconds: 0.001, bytes: 1 });
  const listener = await MetricsListener.start({ host: '127.0.0.1', port: 0 }, metrics);
  t.teardown(() => listener.close());
  t.match(listener.address, /^127\.0\.0\.1:\d+$/);
  const res = await fetch(`http://${listener.address}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  t.equal(total(parsePrometheus(await res.text()).samples, 'bucketfs_fuse_operations_total'), 1);
  t.equal((await fetch(`http://${listener.address}/status`)).status, 404, 'status stays on the owner-only socket');
});
