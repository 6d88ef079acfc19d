/**
 * The data path's counters for `bucketfs status` and metrics: bytes moved,
 * uploads completed/failed/in flight, dirty bytes, and the last errors worth
 * telling the operator. Cheap to update on every request; a snapshot is
 * assembled by the data path (data-path.ts) together with the cache numbers.
 */
import type { RecentError } from '../control.js';

/** Errors kept for `bucketfs status`, newest last. */
export const RECENT_ERRORS = 20;

export class DataCounters {
  bytesUploaded = 0;
  /** Objects (whole files) uploaded, and uploads that failed. */
  completed = 0;
  failed = 0;
  /** File uploads running now. */
  inFlight = 0;
  /** Bytes written through the mount and not yet in the bucket (all files). */
  dirtyBytes = 0;
  /** Streamed parts being sent in the background (all files). */
  partsInFlight = 0;
  /** Files being written uploaded early because the cache bound was reached (stream.ts `relieve`). */
  checkpoints = 0;
  private readonly recent: RecentError[] = [];

  error(message: string, path?: string): void {
    this.recent.push({ at: Date.now(), message, ...(path !== undefined && { path }) });
    if (this.recent.length > RECENT_ERRORS) this.recent.splice(0, this.recent.length - RECENT_ERRORS);
  }

  get errors(): RecentError[] {
    return this.recent.map((e) => ({ ...e }));
  }
}
