/**
 * How the background uploads of the async write mode run and react to failures:
 * which errors are worth retrying soon (network trouble, throttling, a server
 * error) and which are not (access denied, no such bucket, a snapshot file
 * gone from the cache disk), and the capped exponential backoff with jitter
 * between attempts. Retries go on for as long as the mount runs: the data
 * was acknowledged, so giving up would lose it.
 */
import { isStorageError } from '../../drivers/errors.js';

export interface BackoffPolicy {
  /** Delay after the first failure (ms). */
  baseMs: number;
  /** Cap on the delay between transient failures (ms). */
  maxMs: number;
  /** Delay after a permanent failure: retried rarely, never in a tight loop (ms). */
  permanentMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000, permanentMs: 5 * 60_000 };

/** Files uploading at once by default: many small files go in parallel; memory is bounded by the data path's budget. */
export const DEFAULT_WRITEBACK_CONCURRENCY = 16;

/**
 * How long a file's newer versions may keep cancelling (or holding back) the
 * upload of an older one: a file closed again and again (a log appended to
 * every 100 ms) still reaches the bucket every few seconds.
 */
export const DEFAULT_MAX_DEFER_MS = 2_000;

/** What a mount may tune about the queue. */
export interface WritebackTuning {
  /** Files uploading at once (default DEFAULT_WRITEBACK_CONCURRENCY). */
  concurrency?: number;
  backoff?: BackoffPolicy;
  /** Default DEFAULT_MAX_DEFER_MS. */
  maxDeferMs?: number;
}

/** Errors that retrying soon cannot fix: the operator has to act (credentials, bucket, cache disk). */
export function isPermanent(error: unknown): boolean {
  if (isStorageError(error)) return error.kind === 'AccessDenied' || error.kind === 'NotFound' || error.kind === 'Unsupported';
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'EACCES';
}

/** The delay before attempt `attempts + 1`: doubling from baseMs up to maxMs, with jitter in [½, 1]. */
export function retryDelay(policy: BackoffPolicy, attempts: number, permanent: boolean, random: () => number = Math.random): number {
  if (permanent) return policy.permanentMs;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
