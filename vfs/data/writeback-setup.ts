/**
 * Builds the async write mode's queue for a data path: its journal in the
 * cache directory, uploads with the data path's part size and concurrency
 * inside its memory budget, and every multipart upload id recorded until the
 * upload ends.
 */
import { WritebackJournal } from '../../cache/writeback/journal.js';
import type { FileContext } from './open-file.js';
import { fillStaging } from './upload.js';
import { Writeback } from './writeback.js';
import { MultipartRecorder } from './writeback-multipart.js';
import { aheadStarter, snapshotUploader } from './writeback-upload.js';
import type { WritebackTuning } from './writeback-policy.js';

export function createWriteback(ctx: FileContext, cacheDir: string, tuning: WritebackTuning = {}): Writeback {
  const journal = WritebackJournal.open(cacheDir);
  const { backend, bucket } = ctx.target;
  const recorded = new MultipartRecorder(backend, journal);
  const { multipartThreshold, partSize, partConcurrency, copyConcurrency, maxCopyPart } = ctx.tuning;
  const sizes = { partConcurrency, multipartThreshold, partSize, copyConcurrency, maxCopyPart };
  return new Writeback({
    ...tuning,
    journal,
    staging: ctx.staging,
    hooks: ctx.hooks,
    log: ctx.log,
    counters: ctx.counters,
    room: ctx.room,
    remove: (key) => ctx.remove(key),
    fill: fillStaging,
    budget: ctx.budget,
    // A single PUT reads the whole file; a multipart upload holds a part per part in flight.
    memoryFor: (size) => (size < multipartThreshold ? size : partSize * partConcurrency),
    // Memory bound: part buffers lent by the budget the upload holds (`memoryFor`), reused.
    upload: snapshotUploader(recorded, bucket, { ...sizes, buffers: ctx.budget }),
    startAhead: aheadStarter(recorded, bucket, sizes),
  });
}
