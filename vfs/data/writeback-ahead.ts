/**
 * Copies ahead, for appends in the async write mode. When a large object is
 * appended to, the server-side copies of its unchanged bytes [0, old size)
 * do not depend on the appended bytes: they start as soon as the first
 * append is acknowledged — beside the filling of its snapshot, before its
 * upload is due — in a multipart upload of the file's key.
 *
 * The upload of that version, or of any later one with the same unchanged
 * prefix (a run of appends: a cancelled upload leaves it to the next),
 * completes it with its own new bytes (writeback-upload.ts). It is never
 * completed otherwise: aborted when the file is dropped or settles without
 * it, when a version no longer fits it, at unmount, or — after a crash — at
 * the next start through the journal, which records its id like any
 * multipart upload. Nothing here decides what the object holds: the parts
 * copied are the base's bytes (its etag checked first), the same for every
 * version that fits.
 */
import pLimit from 'p-limit';
import type { Backend, PartResult } from '../../drivers/contract.js';
import { isStorageError } from '../../drivers/errors.js';
import type { Span } from '../../cache/staging.js';
import type { ObjectFields, PlannedPart } from './multipart.js';

/** Where a snapshot's unchanged bytes still are: `key` at `etag`, the ranges `unchanged` (same offsets). */
export interface CopySource {
  key: string;
  etag: string;
  unchanged: Span[];
}

export interface AheadParts {
  uploadId: string;
  /** The copy parts, numbered 1…n in order. */
  parts: PartResult[];
}

export class CopyAhead {
  /** The upload id and copied parts, or undefined when they could not be made (the upload then goes without). */
  readonly ready: Promise<AheadParts | undefined>;
  /** Completed or aborted: of no further use. */
  ended = false;
  private uploadId: string | undefined;
  private copying: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly backend: Backend,
    private readonly bucket: string,
    readonly key: string,
    readonly copy: CopySource,
    readonly fields: ObjectFields,
    copies: PlannedPart[],
    copyConcurrency: number,
  ) {
    this.ready = this.start(copies, copyConcurrency).catch(async () => {
      await this.abort();
      return undefined;
    });
  }

  /** True when an upload of `key` whose unchanged bytes are `copy` can complete this one. */
  fits(key: string, copy: CopySource | undefined): boolean {
    const mine = this.copy.unchanged[0];
    const theirs = copy?.unchanged[0];
    return !this.ended && key === this.key && copy !== undefined && copy.key === this.copy.key && copy.etag === this.copy.etag
      && copy.unchanged.length === 1 && mine !== undefined && theirs !== undefined && mine.start === theirs.start && mine.end === theirs.end;
  }

  /** Aborts the multipart upload once its copies settled (an abort racing a part can leave that part stored). */
  async abort(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.copying;
    if (this.uploadId !== undefined) await this.backend.abortMultipart(this.bucket, this.key, this.uploadId).catch(() => undefined);
  }

  private async start(copies: PlannedPart[], copyConcurrency: number): Promise<AheadParts | undefined> {
    const current = await this.backend.head(this.bucket, this.copy.key).catch((error: unknown) => {
      if (isStorageError(error, 'NotFound')) return undefined;
      throw error;
    });
    if (current?.etag !== this.copy.etag || this.ended) return undefined;
    const { metadata, contentType } = this.fields;
    const uploadId = await this.backend.createMultipart(this.bucket, this.key, { metadata, ...(contentType !== undefined && { contentType }) });
    this.uploadId = uploadId;
    if (this.ended) {
      await this.backend.abortMultipart(this.bucket, this.key, uploadId).catch(() => undefined);
      return undefined;
    }
    const limit = pLimit(copyConcurrency);
    const source = { bucket: this.bucket, key: this.copy.key };
    const copying = Promise.allSettled(copies.map(({ block, start, end }) =>
      limit(() => this.backend.uploadPartCopy(this.bucket, this.key, uploadId, block + 1, source, { start, end }))));
    this.copying = copying;
    const results = await copying;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return { uploadId, parts: results.map((r) => (r as PromiseFulfilledResult<PartResult>).value) };
  }
}
