/**
 * Where the unchanged bytes of a pending file are in the bucket, for the
 * async write mode's uploads to copy them server-side instead of sending
 * them: the object the file was opened on (or the version of it that landed
 * last) and the ranges of it no write touched. Journaled with each row
 * (`baseKey`, `baseEtag`, `unchanged`); only an optimisation — a snapshot
 * file always holds every byte, and an upload finding the object changed
 * sends them all.
 */
import type { StagingFile } from '../../cache/staging.js';
import type { NewUpload, UploadRow, WritebackJournal } from '../../cache/writeback/journal.js';
import type { OpenFile } from './open-file.js';
import type { CopyAhead } from './writeback-ahead.js';
import type { AheadStarter } from './writeback-upload.js';

/** What this module needs of a snapshot (writeback.ts). */
interface SnapshotRow {
  row: UploadRow;
  file: OpenFile;
  staging: StagingFile;
}

/** The file's unchanged ranges of its base (only those long enough to be a part: shorter ones are always sent). */
export function unchangedOf(file: OpenFile): Pick<NewUpload, 'baseKey' | 'unchanged'> {
  const base = file.base;
  if (base === undefined || base.etag === '') return {};
  const { minPartSize } = file.ctx.target.backend.limits;
  const unchanged = file.changed.gaps(0, Math.min(file.baseLimit, file.size)).filter((span) => span.end - span.start >= minPartSize);
  return unchanged.length === 0 ? {} : { baseKey: base.key, unchanged };
}

/**
 * The copies ahead to keep for the file being acknowledged (writeback-ahead.ts):
 * `current` while it fits the file's unchanged bytes, else new ones when the
 * file is an append to a large object (`current` is then aborted).
 */
export function aheadFor(file: OpenFile, current: CopyAhead | undefined, start: AheadStarter | undefined): CopyAhead | undefined {
  const { baseKey, unchanged } = unchangedOf(file);
  const etag = file.base?.etag;
  if (start === undefined || baseKey === undefined || unchanged === undefined || etag === undefined) return current;
  const copy = { key: baseKey, etag, unchanged };
  if (current?.fits(file.key, copy) === true) return current;
  void current?.abort();
  return start(file.key, file.size, copy, file.fields());
}

/**
 * A snapshot landed while its file went on changing. If it changed only
 * past the snapshot's end — its staging file is still shared: any other
 * change would have copied it — the object that landed is a base for the
 * file and for the snapshots queued on the same staging file: their
 * unchanged bytes [0, size) can be copied from it, not sent again.
 */
export function advanceBase(journal: WritebackJournal, snapshot: SnapshotRow, etag: string, queued: SnapshotRow[]): void {
  const { row, file } = snapshot;
  if (file.staging !== snapshot.staging || file.key !== row.key || file.detached || file.size < row.size) return;
  file.base = { key: row.key, etag, size: row.size };
  file.baseLimit = row.size;
  file.generation++;
  file.changed.clear();
  if (file.size > row.size) file.changed.add(row.size, file.size);
  file.recount();
  for (const s of queued) {
    if (s.staging !== snapshot.staging || s.row.key !== row.key || s.row.inline) continue;
    s.row = journal.supersede(s.row.id, { ...s.row, baseKey: row.key, baseEtag: etag, unchanged: [{ start: 0, end: row.size }] }) ?? s.row;
  }
}
