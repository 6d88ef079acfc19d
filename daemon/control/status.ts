/**
 * The status document of a running mount (what `bucketfs status` shows):
 * identity and uptime, the data path's snapshot (MountControl.stats()),
 * process memory, object-store request counts (from the metrics, not kept
 * twice) and FUSE operation totals.
 */
import type { DataPathStats, MountControl } from '../../vfs/control.js';
import type { OperationCounter } from '../../vfs/fuse-adapter.js';
import type { MountMetrics } from '../metrics/mount-metrics.js';
import type { MountRecord } from './paths.js';
import type { StatusDocument } from './protocol.js';

/** Everything the control socket serves from. */
export interface ControlTarget {
  record: MountRecord;
  readOnly: boolean;
  control: MountControl;
  metrics: MountMetrics;
  /** The FUSE adapter's per-operation counters. */
  fuseStats(): Record<string, OperationCounter>;
  metricsAddress?: string;
}

function fuseTotals(ops: Record<string, OperationCounter>): StatusDocument['fuse'] {
  let operations = 0;
  let errors = 0;
  for (const c of Object.values(ops)) {
    operations += c.count;
    errors += c.errors;
  }
  return { operations, errors };
}

function memory(stats: DataPathStats): StatusDocument['memory'] {
  const usage = process.memoryUsage();
  return { ...stats.memory, rssBytes: usage.rss, heapUsedBytes: usage.heapUsed };
}

export async function buildStatus(target: ControlTarget): Promise<StatusDocument> {
  const { record } = target;
  const stats = target.control.stats();
  const doc: StatusDocument = {
    mountpoint: record.mountpoint,
    remote: record.remote,
    pid: record.pid,
    startedAt: new Date(record.startedAt).toISOString(),
    uptimeSeconds: Math.round((Date.now() - record.startedAt) / 100) / 10,
    cacheDir: record.cacheDir,
    readOnly: target.readOnly,
    writeMode: stats.writeMode,
    cache: stats.cache,
    memory: memory(stats),
    uploads: stats.uploads,
    bytesDownloaded: stats.bytesDownloaded,
    bytesUploaded: stats.bytesUploaded,
    openFiles: stats.openFiles,
    errors: stats.errors,
    requests: await target.metrics.requestCounts(),
    fuse: fuseTotals(target.fuseStats()),
  };
  if (target.metricsAddress !== undefined) doc.metricsAddress = target.metricsAddress;
  return doc;
}
