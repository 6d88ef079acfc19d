/**
 * The async write mode: flush, fsync and last release of a dirty file
 * acknowledge it locally (a complete snapshot of the file, fsynced, and a
 * journal row committed with synchronous=FULL: cache/writeback/journal.ts)
 * and return; a pool of workers uploads the snapshots in the background with
 * the data path's upload function, retrying with capped exponential backoff.
 * Replay after a restart is in writeback-replay.ts.
 *
 * Snapshots (copy-on-write). The first `row.size` bytes of the staging
 * file of a file acknowledged are frozen: the journal row and the upload
 * read them (writeback-upload.ts reads exactly that many). A later write or
 * truncate that reaches below the end of a snapshot still owed first copies
 * the file to a fresh staging file (`beforeWrite`; a reflink where the file
 * system has them) and changes the copy; one that only appends (or writes or
 * truncates at or past that end) changes the shared file in place, past the
 * frozen bytes. So a writer never waits for an upload, neither the common
 * case (write, close, done) nor a run of appends copies anything, and an
 * upload always sends exactly the bytes acknowledged. After a crash, replay
 * cuts the file back to its row's size (writeback-replay.ts): appended bytes
 * never acknowledged are dropped, the acknowledged ones were fsynced.
 *
 * Copies. Each row also names where its unchanged bytes still are in the
 * bucket (writeback-base.ts), so a large upload copies them server-side and
 * sends only what changed; for appends the copies start ahead, when the
 * append is acknowledged (writeback-ahead.ts), and an upload that lands
 * while its file is only appended to becomes the base of the next one.
 *
 * Per file, at most one snapshot is uploading and at most one is queued: a
 * newer acknowledgement supersedes the queued one (same row, same barrier
 * sequence) and cancels the one uploading (its multipart upload is aborted
 * before it can complete: writeback-upload.ts), so only the newest version
 * is completed. Uploads of one file run in acknowledgement order, never two
 * at once, so an older version never lands after a newer one. A snapshot is
 * self-contained (every byte is local), so it never depends on the object
 * the file was opened on, before or after a crash.
 *
 * While a file has rows it stays dirty and in the data path's file table
 * (refs 0 once closed): reads and later opens see its local bytes, never the
 * bucket's older version. When its last snapshot lands and nothing changed
 * since, it becomes clean, its staging file is the clean local copy, and the
 * data path may forget it.
 *
 * Concurrency: acknowledge and beforeWrite run under the file's mutex (the
 * data path calls them from its mutex-held code); restate, drop and the
 * workers' bookkeeping are synchronous steps (journal calls are synchronous),
 * so the tables here never change across an `await` of someone else.
 */
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogFn } from '../../cache/chunks.js';
import type { StagingArea, StagingFile } from '../../cache/staging.js';
import type { NewUpload, UploadRow, WritebackJournal } from '../../cache/writeback/journal.js';
import type { PendingUpload } from '../control.js';
import type { DataPathHooks } from '../data-contract.js';
import { vfsError } from '../types.js';
import type { ByteBudget } from './budget.js';
import type { FileContext, OpenFile, WritebackPort } from './open-file.js';
import type { DataCounters } from './stats.js';
import type { Signal } from './stream.js';
import { DEFAULT_BACKOFF, DEFAULT_MAX_DEFER_MS, DEFAULT_WRITEBACK_CONCURRENCY, isPermanent, messageOf, retryDelay, type BackoffPolicy, type WritebackTuning } from './writeback-policy.js';
import { copySnapshot, obsoleteKeys, saveSnapshot } from './writeback-snapshot.js';
import type { CopyAhead } from './writeback-ahead.js';
import { advanceBase, aheadFor, unchangedOf } from './writeback-base.js';
import type { AheadStarter, SnapshotUploader } from './writeback-upload.js';

/**
 * How long a file's appends must pause before an upload completes the copies
 * made ahead for them: a shell loop of `>>` acknowledges every few
 * milliseconds, and a completion (tens of ms on the wire, never cancelled)
 * that lands between two appends makes the next version copy everything again.
 */
const QUIET_MS = 50;

/**
 * How long the upload of a version acknowledged by a flush or fsync of a
 * file still open waits for the file's last close: the version that close
 * acknowledges supersedes it, so the bucket gets one upload, not two. The
 * common case is a shell's `> file`, which closes the file once before
 * writing anything (the descriptor is duplicated first) and once after.
 * The wait ends at the last close, at a barrier, and at unmount.
 */
export const OPEN_HOLD_MS = 100;

export interface WritebackOptions extends WritebackTuning {
  journal: WritebackJournal;
  staging: StagingArea;
  hooks: DataPathHooks;
  log: LogFn;
  /** Uploads the first `size` bytes of a snapshot file (writeback-upload.ts). */
  upload: SnapshotUploader;
  /** Starts the copies of an append ahead of its upload (writeback-upload.ts). */
  startAhead?: AheadStarter;
  remove: FileContext['remove'];
  /** Completes a file's staging file (the bytes still only in its base object): upload.ts. */
  fill: (file: OpenFile) => Promise<StagingFile>;
  /** The data path's counters (uploads in flight, bytes sent, errors). */
  counters: DataCounters;
  /** Notified when an upload ends (writers waiting for room under the cache bound). */
  room: Signal;
  /** The data path's memory budget for upload buffers, and what an upload of `size` bytes holds of it. */
  budget?: ByteBudget;
  memoryFor?: (size: number) => number;
  now?: () => number;
}

/** One acknowledged version of a file, journaled, not yet in the bucket. */
export interface Snapshot {
  row: UploadRow;
  file: OpenFile;
  staging: StagingFile;
  /** The file's version when acknowledged. */
  version: number;
  inFlight: boolean;
  /** Unlinked while uploading: what lands is deleted again. */
  dropped: boolean;
  /** A newer version was acknowledged while this one uploads: the upload is cancelled. */
  superseded?: boolean;
  /** Not started before this time (ms since the epoch) while its file is open: OPEN_HOLD_MS. */
  holdUntil?: number | undefined;
}

interface FileState {
  snapshots: Snapshot[];
  /** The file version the newest snapshot carries. */
  ackedVersion: number;
  /** Copies of an appended object's unchanged bytes, started when an append was acknowledged. */
  ahead?: CopyAhead | undefined;
  /** When the newest snapshot was acknowledged (ms since the epoch: real time, it paces real waits). */
  ackedAt: number;
  /** Since when the file has had an acknowledged version not yet in the bucket (ms since the epoch). */
  pendingSince: number;
}

export class Writeback implements WritebackPort {
  /** Failed attempts that were retried (or will be). */
  retries = 0;
  /** Uploads cancelled because a newer version of their file was acknowledged. */
  cancelled = 0;
  /** Uploads of this queue running now. */
  private inFlight = 0;
  private readonly files = new Map<OpenFile, FileState>();
  private readonly listeners = new Set<() => void>();
  private readonly concurrency: number;
  private readonly backoff: BackoffPolicy;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Called when a file's last snapshot landed and it may be forgotten (set by data-path.ts). */
  onSettled: (file: OpenFile) => Promise<void> = () => Promise.resolve();

  constructor(readonly options: WritebackOptions) {
    this.concurrency = options.concurrency ?? DEFAULT_WRITEBACK_CONCURRENCY;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.now = options.now ?? Date.now;
  }

  get journal(): WritebackJournal {
    return this.options.journal;
  }

  /**
   * Acknowledges the file's current content: completes and fsyncs the staging
   * file, then commits its journal row. Runs under the file's mutex.
   */
  async acknowledge(file: OpenFile): Promise<void> {
    if (!file.dirty || file.detached) return;
    if (this.files.get(file)?.ackedVersion === file.version) {
      // Nothing new; but a last close ends the hold on the upload (OPEN_HOLD_MS).
      if (file.refs === 0) this.pump();
      return;
    }
    const version = file.version;
    await file.dropSession();
    const state = this.stateOf(file);
    // Appends to a large object: the copies of its unchanged bytes start now, beside the fill.
    state.ahead = aheadFor(file, state.ahead, this.options.startAhead);
    const started = Date.now();
    let staging: StagingFile;
    let content: Buffer | undefined;
    try {
      staging = await this.options.fill(file);
      content = await saveSnapshot(file, staging, this.options.staging.dir);
    } catch (error) {
      if (state.snapshots.length === 0) this.forget(file, state);
      throw error;
    }
    this.options.log('debug', 'acknowledged', { path: file.path, size: file.size, ms: Date.now() - started });
    const queued = state.snapshots.find((s) => !s.inFlight);
    const upload: NewUpload = {
      path: file.path,
      key: file.key,
      staging: basename(staging.path),
      size: file.size,
      metadata: { ...file.metadata },
      contentType: file.contentType,
      baseEtag: file.base?.etag,
      ...unchangedOf(file),
      obsoleteKeys: obsoleteKeys(state.snapshots.map((s) => s.row), file.key),
      acknowledgedAt: this.now(),
      content,
    };
    if (queued === undefined) {
      // The one uploading now is outdated once the new row is committed: it is cancelled (the new row names its key
      // as obsolete if it differs) and the new row carries its barrier sequence, so a barrier waiting for it waits for
      // this one — unless the file has been deferred that way for too long: then it lands.
      const uploading = state.snapshots.at(-1);
      if (uploading === undefined) state.pendingSince = Date.now();
      const cancel = uploading !== undefined && !this.deferredTooLong(state);
      const row = this.journal.insert(cancel ? { ...upload, ackSeq: uploading.row.ackSeq } : upload);
      if (cancel) uploading.superseded = true;
      state.snapshots.push({ row, file, staging, version, inFlight: false, dropped: false, holdUntil: this.holdFor(file, state) });
    } else {
      const replaced = queued.staging;
      queued.row = this.journal.supersede(queued.row.id, { ...upload, ackSeq: queued.row.ackSeq }) ?? queued.row;
      queued.staging = staging;
      queued.version = version;
      queued.holdUntil = this.holdFor(file, state);
      await this.releaseStaging(replaced, file);
    }
    state.ackedVersion = version;
    state.ackedAt = Date.now();
    this.options.hooks.pending?.({ path: file.path, key: file.key, size: file.size, metadata: { ...file.metadata }, contentType: file.contentType });
    this.pump();
  }

  /**
   * Before a write or truncate that changes bytes from offset `from` on: a
   * staging file a snapshot still needs is copied first (copy-on-write),
   * unless the change is past every byte the snapshots sharing it froze.
   */
  async beforeWrite(file: OpenFile, from: number): Promise<void> {
    const current = file.staging;
    if (current === undefined || from >= this.frozenEnd(file, current)) return;
    file.staging = await copySnapshot(current, this.options.staging, file.size);
  }

  /**
   * A pending file was renamed or its metadata changed (no handle will flush
   * it again): its newest snapshot is journaled under the new name and
   * metadata right away. Returns false when the file has nothing pending.
   */
  restate(file: OpenFile): boolean {
    const state = this.files.get(file);
    const latest = state?.snapshots.at(-1);
    if (state === undefined || latest === undefined) return false;
    const upToDate = state.ackedVersion === file.version;
    file.touch();
    if (upToDate) state.ackedVersion = file.version;
    const upload: NewUpload = {
      ...latest.row,
      path: file.path,
      key: file.key,
      metadata: { ...file.metadata },
      contentType: file.contentType,
      obsoleteKeys: obsoleteKeys(state.snapshots.map((s) => s.row), file.key),
      content: latest.row.inline ? this.journal.content(latest.row.id) : undefined,
    };
    if (!latest.inFlight) {
      latest.row = this.journal.supersede(latest.row.id, upload) ?? latest.row;
    } else {
      const row = this.journal.insert(upload);
      state.snapshots.push({ row, file, staging: latest.staging, version: latest.version, inFlight: false, dropped: false });
    }
    this.pump();
    return true;
  }

  /** The file was unlinked or replaced: nothing of it is uploaded any more (an upload in flight is deleted when it lands). */
  drop(file: OpenFile): void {
    const state = this.files.get(file);
    if (state === undefined) return;
    this.forget(file, state);
    this.journal.drop(state.snapshots.map((s) => s.row.id));
    for (const snapshot of state.snapshots) {
      snapshot.dropped = true;
      if (!snapshot.inFlight) void this.releaseStaging(snapshot.staging, file);
    }
    this.notify();
  }

  /** Registers a file replayed from the journal (writeback-replay.ts). */
  adopt(file: OpenFile, row: UploadRow, staging: StagingFile): void {
    this.files.set(file, { snapshots: [{ row, file, staging, version: file.version, inFlight: false, dropped: false }], ackedVersion: file.version, ackedAt: 0, pendingSince: Date.now() });
  }

  /** Starts uploads as slots free up and their backoff ends. */
  pump(): void {
    if (this.stopped) return;
    for (const snapshot of this.due()) {
      if (this.inFlight >= this.concurrency) break;
      void this.run(snapshot);
    }
    this.schedule();
  }

  /** Pending uploads for `bucketfs status`, oldest acknowledgement first. */
  pending(): PendingUpload[] {
    return this.snapshots()
      .sort((a, b) => a.row.ackSeq - b.row.ackSeq)
      .map(({ row }) => ({
        path: row.path,
        key: row.key,
        bytes: row.size,
        attempts: row.attempts,
        since: row.acknowledgedAt,
        ...(row.lastError !== undefined && { lastError: row.lastError }),
        ...(row.nextAttemptAt !== undefined && { nextAttemptAt: row.nextAttemptAt }),
      }));
  }

  /**
   * The barrier: resolves once every upload acknowledged before the call is
   * in the bucket. Uploads backing off are retried now. Rejects when every
   * upload still owed failed permanently, naming them.
   */
  async flushAll(progress?: (done: number, total: number) => void): Promise<void> {
    const seq = this.journal.lastSeq();
    const total = this.journal.countUpTo(seq);
    if (total === 0) return;
    for (const snapshot of this.snapshots()) this.startNow(snapshot);
    this.pump();
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        const owed = this.snapshots().filter((s) => s.row.ackSeq <= seq);
        progress?.(total - owed.length, total);
        const stuck = owed.length > 0 && owed.every((s) => !s.inFlight && s.row.state === 'failed');
        if (owed.length > 0 && !stuck && !this.stopped) return;
        this.listeners.delete(check);
        if (owed.length === 0) resolve();
        else reject(vfsError('EIO', `${owed.length} file(s) could not be uploaded: ${owed.map((s) => `${s.row.path} (${s.row.lastError ?? 'not uploaded'})`).join(', ')}`));
      };
      this.listeners.add(check);
      check();
    });
  }

  /**
   * Stops at unmount: waits until the queue is drained, or until every upload
   * still owed has failed again since the stop began (the server is
   * unreachable). What stays pending stays in the journal for the next
   * mount; returns the paths.
   */
  async close(): Promise<string[]> {
    const failures = new Map<Snapshot, number>();
    await new Promise<void>((resolve) => {
      const check = () => {
        const owed = this.snapshots();
        const hopeless = owed.every((s) => !s.inFlight && (failures.get(s) ?? 0) < s.row.attempts && s.row.lastError !== undefined);
        if (owed.length > 0 && !hopeless) return;
        this.listeners.delete(check);
        resolve();
      };
      for (const snapshot of this.snapshots()) {
        failures.set(snapshot, snapshot.row.attempts);
        this.startNow(snapshot);
      }
      this.listeners.add(check);
      this.pump();
      check();
    });
    this.stopped = true;
    clearTimeout(this.timer);
    const left = this.snapshots().map((s) => s.row.path);
    await Promise.all([...this.files.values()].map((state) => state.ahead?.abort()));
    this.journal.close();
    return left;
  }

  private async run(snapshot: Snapshot): Promise<void> {
    snapshot.inFlight = true;
    this.inFlight++;
    this.options.counters.inFlight++;
    const { row } = snapshot;
    const { budget, memoryFor } = this.options;
    const send = () => this.options.upload(this.stagingPath(row), row.size, row.key, {
      metadata: row.metadata,
      ...(row.contentType !== undefined && { contentType: row.contentType }),
      cancelled: () => snapshot.superseded === true || snapshot.dropped,
      ahead: this.files.get(snapshot.file)?.ahead,
      quiet: () => this.quiet(snapshot.file),
      ...(!row.inline && row.baseKey !== undefined && row.baseEtag !== undefined && row.unchanged.length > 0 && {
        copy: { key: row.baseKey, etag: row.baseEtag, unchanged: row.unchanged },
      }),
    });
    try {
      const { etag } = budget === undefined || memoryFor === undefined ? await send() : await budget.with(memoryFor(row.size), send);
      snapshot.inFlight = false;
      await this.landed(snapshot, etag);
    } catch (error) {
      snapshot.inFlight = false;
      // Superseded: whatever stopped it, the newer row carries the file now.
      if (snapshot.superseded === true && !snapshot.dropped) await this.discard(snapshot);
      else this.failed(snapshot, error);
    } finally {
      const state = this.files.get(snapshot.file);
      if (state?.ahead?.ended === true) state.ahead = undefined;
      this.inFlight--;
      this.options.counters.inFlight--;
      this.options.room.notify();
      this.notify();
      this.pump();
    }
  }

  /** An upload succeeded: obsolete names go, the row goes, the file may become clean. */
  private async landed(snapshot: Snapshot, etag: string): Promise<void> {
    const { row, file } = snapshot;
    this.options.counters.completed++;
    this.options.counters.bytesUploaded += row.size;
    const state = this.files.get(file);
    const renamedSince = file.key !== row.key && !state?.snapshots.some((s) => s !== snapshot && s.row.key === row.key);
    if (snapshot.dropped || file.detached || renamedSince) {
      // Unlinked or renamed while uploading: the object must not stay under the old name.
      await this.deleteKey(row.key);
    }
    if (snapshot.dropped) {
      await this.releaseStaging(snapshot.staging, file);
      return;
    }
    for (const key of row.obsoleteKeys) await this.deleteKey(key);
    this.journal.remove(row.id);
    if (state === undefined) return;
    state.snapshots = state.snapshots.filter((s) => s !== snapshot);
    if (state.snapshots.length > 0) state.pendingSince = Date.now();
    const unchangedSince = file.version === snapshot.version && file.staging === snapshot.staging;
    if (!unchangedSince) advanceBase(this.journal, snapshot, etag, state.snapshots);
    if (state.snapshots.length > 0 || renamedSince || file.detached) {
      await this.releaseStaging(snapshot.staging, snapshot.file);
      return;
    }
    this.forget(file, state);
    this.options.hooks.uploaded({ path: row.path, key: row.key, size: row.size, etag, metadata: row.metadata });
    if (unchangedSince) {
      // The snapshot is now the object: it becomes the base, its file the clean local copy.
      file.base = { key: row.key, etag, size: row.size };
      file.baseLimit = row.size;
      file.generation++;
      file.dirty = false;
      file.uploadedAll();
      this.options.log('debug', 'uploaded in the background', { path: row.path, key: row.key, size: row.size, etag });
      await this.onSettled(file);
    } else {
      // Changed since (an open handle wrote): it stays dirty, and its next flush acknowledges again.
      await this.releaseStaging(snapshot.staging, file);
    }
  }

  /** A cancelled upload: its row goes (a newer row of the file is journaled), nothing was stored. */
  private async discard(snapshot: Snapshot): Promise<void> {
    this.cancelled++;
    this.journal.remove(snapshot.row.id);
    const state = this.files.get(snapshot.file);
    if (state !== undefined) state.snapshots = state.snapshots.filter((s) => s !== snapshot);
    this.options.log('debug', 'a background upload was superseded by a newer version and cancelled', { path: snapshot.row.path, key: snapshot.row.key });
    await this.releaseStaging(snapshot.staging, snapshot.file);
  }

  private failed(snapshot: Snapshot, error: unknown): void {
    if (snapshot.dropped) {
      void this.releaseStaging(snapshot.staging, snapshot.file);
      return;
    }
    const permanent = isPermanent(error);
    const attempts = snapshot.row.attempts + 1;
    const result = {
      state: permanent ? ('failed' as const) : ('queued' as const),
      attempts,
      lastError: messageOf(error),
      nextAttemptAt: this.now() + retryDelay(this.backoff, attempts, permanent),
    };
    this.journal.recordAttempt(snapshot.row.id, result);
    snapshot.row = { ...snapshot.row, ...result };
    this.options.counters.failed++;
    this.options.counters.error(`${snapshot.row.path}: background upload to ${snapshot.row.key} failed: ${result.lastError}`, snapshot.row.path);
    this.retries++;
    this.options.log(permanent ? 'error' : 'warn', 'background upload failed; it is retried', {
      path: snapshot.row.path, key: snapshot.row.key, attempts, permanent, error: result.lastError, retryInMs: result.nextAttemptAt - this.now(),
    });
  }

  /** Snapshots ready to upload: not backing off, not held, and no other upload of the same file running. */
  private due(): Snapshot[] {
    const now = this.now();
    const ready: Snapshot[] = [];
    for (const state of this.files.values()) {
      if (state.snapshots.some((s) => s.inFlight)) continue;
      const next = state.snapshots[0];
      if (next !== undefined && this.startsAt(next) <= now) ready.push(next);
    }
    return ready.sort((a, b) => a.row.ackSeq - b.row.ackSeq);
  }

  /** When a queued snapshot may start: after its backoff, and after its hold while its file is open. */
  private startsAt(snapshot: Snapshot): number {
    const held = snapshot.file.refs > 0 && snapshot.holdUntil !== undefined ? snapshot.holdUntil - Date.now() + this.now() : 0;
    return Math.max(snapshot.row.nextAttemptAt ?? 0, held);
  }

  /**
   * The hold for a version just acknowledged: only while a handle still has
   * the file open, and not once the file has waited maxDeferMs (a file kept
   * open and fsynced more often than the hold still lands).
   */
  private holdFor(file: OpenFile, state: FileState): number | undefined {
    return file.refs > 0 && !this.deferredTooLong(state) ? Date.now() + OPEN_HOLD_MS : undefined;
  }

  /** A barrier or the stop: no backoff, no hold. */
  private startNow(snapshot: Snapshot): void {
    snapshot.row = { ...snapshot.row, nextAttemptAt: undefined };
    snapshot.holdUntil = undefined;
  }

  /** Wakes the pump when the earliest backoff or hold ends. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.inFlight >= this.concurrency) return;
    const now = this.now();
    const waits = this.snapshots().filter((s) => !s.inFlight).map((s) => this.startsAt(s)).filter((at) => at > now);
    if (waits.length === 0) return;
    this.timer = setTimeout(() => this.pump(), Math.min(...waits) - now);
  }

  private snapshots(): Snapshot[] {
    return [...this.files.values()].flatMap((state) => state.snapshots);
  }

  /** Resolves once `file` was last acknowledged QUIET_MS ago (or is no longer tracked, or was deferred too long). */
  private async quiet(file: OpenFile): Promise<void> {
    for (;;) {
      const state = this.files.get(file);
      const wait = state === undefined ? 0 : state.ackedAt + QUIET_MS - Date.now();
      if (wait <= 0 || this.stopped || state === undefined || this.deferredTooLong(state)) return;
      await sleep(wait);
    }
  }

  /** True when the file's oldest version not in the bucket was acknowledged maxDeferMs ago or more. */
  private deferredTooLong(state: FileState): boolean {
    return Date.now() - state.pendingSince >= (this.options.maxDeferMs ?? DEFAULT_MAX_DEFER_MS);
  }

  /** The file has nothing pending any more: its table entry and copies ahead go. */
  private forget(file: OpenFile, state: FileState): void {
    this.files.delete(file);
    void state.ahead?.abort();
  }

  /** The end of the bytes of `staging` that snapshots still owed read (0 when none does). */
  private frozenEnd(file: OpenFile, staging: StagingFile): number {
    let end = 0;
    for (const s of this.files.get(file)?.snapshots ?? []) if (s.staging === staging) end = Math.max(end, s.row.size);
    return end;
  }

  /** A staging file only ever belongs to one open file: its snapshots, or the file itself. */
  private isSnapshotOf(file: OpenFile, staging: StagingFile): boolean {
    return this.files.get(file)?.snapshots.some((s) => s.staging === staging) ?? false;
  }

  /** Deletes a snapshot's file once no snapshot of its file and not the file itself uses it. */
  private async releaseStaging(staging: StagingFile, file: OpenFile): Promise<void> {
    if (file.staging === staging || this.isSnapshotOf(file, staging)) return;
    await staging.remove();
  }

  private stagingPath(row: UploadRow): string {
    return `${this.options.staging.dir}/${row.staging}`;
  }

  private async deleteKey(key: string): Promise<void> {
    if (this.snapshots().some((s) => !s.dropped && s.row.key === key)) return;
    await this.options.remove(key).catch((error: unknown) => {
      this.options.log('warn', 'could not delete an object uploaded under a name its file lost', { key, error: messageOf(error) });
    });
  }

  private stateOf(file: OpenFile): FileState {
    let state = this.files.get(file);
    if (state === undefined) {
      state = { snapshots: [], ackedVersion: -1, ackedAt: 0, pendingSince: Date.now() };
      this.files.set(file, state);
    }
    return state;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

