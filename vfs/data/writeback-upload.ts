/**
 * Uploads one snapshot of the async write mode: exactly the first `size`
 * bytes of its file — a writer may be appending past them meanwhile (the
 * acknowledged bytes of a shared snapshot file are never rewritten:
 * writeback.ts) — as one PUT below the multipart threshold, parts in
 * parallel above.
 *
 * Copy or send. A large snapshot whose row names the object it was opened
 * on and ranges of it left unchanged gets those ranges by UploadPartCopy
 * (after a HEAD shows that object still at its etag: RGW ignores
 * x-amz-copy-source-if-match), and only the rest is read from the snapshot
 * file and sent. Measured on loopback RGW, 100 MiB: four parallel part
 * copies ~300 ms, sending the same bytes from memory ~290 ms — a tie
 * there; anywhere the network is slower than the server's disks, copying
 * wins by far, and it holds no part buffers in the daemon. So unchanged
 * ranges of at least a part are copied; when the object changed, or the
 * ranges are too short, every byte is sent from the snapshot (which always
 * holds all of them).
 *
 * Appends: the copies of an appended object's unchanged bytes may have been
 * started ahead, when the append was acknowledged (writeback-ahead.ts); an
 * upload that fits them only sends its new bytes and completes.
 *
 * A snapshot superseded by a newer acknowledged version while it uploads is
 * cancelled between requests: no further request starts (not even the
 * CompleteMultipartUpload), the multipart upload is aborted and the upload
 * rejects with `Superseded`. So the older version never lands after the
 * newer one, and the newer one is the only one completed. A request already
 * on the wire runs to its end (the contract has no abort signal).
 */
import { open, type FileHandle } from 'node:fs/promises';
import pLimit from 'p-limit';
import type { Backend, Metadata, ObjectRef, PartResult, WriteResult } from '../../drivers/contract.js';
import { ForwardingBackend, type Operation } from '../../drivers/decorators/forwarding.js';
import { isStorageError, OtherError } from '../../drivers/errors.js';
import { choosePartSize, copyObject, multipartUpload, uploadObject } from '../../drivers/transfer.js';
import { planAppend, planParts, sameFields, type ObjectFields, type PlannedPart } from './multipart.js';
import { CopyAhead, type AheadParts, type CopySource } from './writeback-ahead.js';
import { LendingBackend, type BufferLender } from './file-upload.js';

/** The upload stopped because a newer version of its file was acknowledged. */
export class Superseded extends Error {
  constructor(key: string) {
    super(`the upload to ${key} was superseded by a newer version`);
    this.name = 'Superseded';
  }
}

export interface SnapshotUpload {
  metadata: Metadata;
  contentType?: string;
  /** Polled before every request: true stops the upload (see above). */
  cancelled: () => boolean;
  copy?: CopySource;
  /** Copies started ahead for the file (used when they fit `copy`). */
  ahead?: CopyAhead | undefined;
  /** Resolves once the file has had no newer acknowledgement for a moment (a run of appends has paused). */
  quiet?: () => Promise<void>;
}

export type SnapshotUploader = (source: string, size: number, key: string, upload: SnapshotUpload) => Promise<{ etag: string }>;

/** Starts the copies of an append ahead of its upload; undefined when the upload would not copy that way. */
export type AheadStarter = (key: string, size: number, copy: CopySource, fields: ObjectFields) => CopyAhead | undefined;

export interface SnapshotTuning {
  multipartThreshold: number;
  partSize: number;
  partConcurrency: number;
  copyConcurrency: number;
  maxCopyPart: number;
  /** Memory bound: part buffers lent by the data path's budget (reused), given back when each part's request ends; without it each part gets a fresh Buffer. */
  buffers?: BufferLender;
}

/** Copies ahead for an append of `size` bytes whose unchanged bytes are `copy` (the same plan `copyPlan` makes). */
export function aheadStarter(backend: Backend, bucket: string, tuning: SnapshotTuning): AheadStarter {
  return (key, size, copy, fields) => {
    const [first, ...others] = copy.unchanged;
    const { minPartSize } = backend.limits;
    const usable = backend.capabilities.multipart && backend.capabilities.uploadPartCopy && size >= tuning.multipartThreshold && copy.etag !== '';
    if (!usable || first === undefined || first.start !== 0 || others.length > 0 || first.end < minPartSize || first.end >= size) return undefined;
    const partSize = choosePartSize(backend, size, tuning.partSize);
    const copies = planAppend(size, first.end, { partSize, minPartSize, maxCopyPart: tuning.maxCopyPart }).filter((part) => part.kind === 'copy');
    return new CopyAhead(backend, bucket, key, copy, fields, copies, tuning.copyConcurrency);
  };
}

/** The uploader the queue uses: `backend` is the journal-recording one (writeback-multipart.ts). */
export function snapshotUploader(backend: Backend, bucket: string, tuning: SnapshotTuning): SnapshotUploader {
  return async (source, size, key, { cancelled, copy, ahead, quiet, ...fields }) => {
    const cancellable = new CancellableBackend(backend, key, cancelled);
    const guarded = tuning.buffers === undefined ? cancellable : new LendingBackend(cancellable, tuning.buffers);
    const options = { ...fields, concurrency: tuning.partConcurrency, multipartThreshold: tuning.multipartThreshold, partSize: tuning.partSize };
    const handle = await open(source, 'r');
    try {
      const read = (start: number, end: number) => readExactly(handle, source, start, end - start, tuning.buffers);
      if (size < tuning.multipartThreshold || !backend.capabilities.multipart) {
        return await uploadObject(guarded, bucket, key, await readExactly(handle, source, 0, size), options);
      }
      const partSize = choosePartSize(backend, size, tuning.partSize);
      const prepared = ahead !== undefined && ahead.fits(key, copy) ? await ahead.ready : undefined;
      if (ahead !== undefined && prepared !== undefined && !ahead.ended) {
        // In a run of appends the next one is likely moments away: wait for a pause, so that one completes instead of this one.
        await quiet?.();
        return await completeAhead(guarded, { bucket, key }, ahead, prepared, { size, partSize, read, fields, tuning });
      }
      const plan = copy === undefined ? undefined : await copyPlan(guarded, bucket, size, partSize, copy, tuning);
      if (plan !== undefined) return await runPlan(guarded, { bucket, key }, { bucket, key: (copy as CopySource).key }, plan, read, fields, tuning);
      return await multipartUpload(guarded, bucket, key, async (n) => {
        const start = (n - 1) * partSize;
        if (start >= size) return undefined;
        if (cancelled()) throw new Superseded(key);
        return read(start, Math.min(size, start + partSize));
      }, options);
    } finally {
      await handle.close();
    }
  };
}

/**
 * The parts when some are copies: an append (one unchanged range from 0,
 * changed after it) copies the range and sends only the new bytes; anything
 * else copies the part-grid blocks that are wholly unchanged. Undefined when
 * nothing would be copied or the object is no longer at the etag.
 */
async function copyPlan(backend: Backend, bucket: string, size: number, partSize: number, copy: CopySource, tuning: SnapshotTuning): Promise<PlannedPart[] | undefined> {
  if (!backend.capabilities.uploadPartCopy || copy.etag === '') return undefined;
  const { minPartSize } = backend.limits;
  const { maxCopyPart } = tuning;
  const [first, ...others] = copy.unchanged;
  const plan = first !== undefined && first.start === 0 && others.length === 0 && first.end >= minPartSize && first.end < size
    ? planAppend(size, first.end, { partSize, minPartSize, maxCopyPart })
    : planParts(size, partSize, {
      reusable: () => false,
      copyable: (start, end) => copy.unchanged.some((span) => span.start <= start && end <= span.end),
    }, maxCopyPart);
  if (!plan.some((part) => part.kind === 'copy')) return undefined;
  const current = await backend.head(bucket, copy.key).catch((error: unknown) => {
    if (isStorageError(error, 'NotFound')) return undefined;
    throw error;
  });
  return current?.etag === copy.etag ? plan : undefined;
}

/** One multipart upload of `plan`: copies and sends in parallel (each bounded); aborted on any failure. */
async function runPlan(
  backend: Backend, dest: ObjectRef, source: ObjectRef, plan: PlannedPart[],
  read: (start: number, end: number) => Promise<Buffer>, fields: { metadata: Metadata; contentType?: string }, tuning: SnapshotTuning,
): Promise<WriteResult> {
  const { bucket, key } = dest;
  const uploadId = await backend.createMultipart(bucket, key, fields);
  const copies = pLimit(tuning.copyConcurrency);
  const sends = pLimit(tuning.partConcurrency);
  const run = ({ block, start, end, kind }: PlannedPart): Promise<PartResult> => kind === 'copy'
    ? copies(() => backend.uploadPartCopy(bucket, key, uploadId, block + 1, source, { start, end }))
    : sends(async () => backend.uploadPart(bucket, key, uploadId, block + 1, await read(start, end)));
  try {
    const results = await Promise.allSettled(plan.map(run));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return await backend.completeMultipart(bucket, key, uploadId, results.map((r) => (r as PromiseFulfilledResult<PartResult>).value));
  } catch (error) {
    await backend.abortMultipart(bucket, key, uploadId).catch(() => undefined);
    throw error;
  }
}

interface AheadUpload {
  size: number;
  partSize: number;
  read: (start: number, end: number) => Promise<Buffer>;
  fields: ObjectFields | { metadata: Metadata; contentType?: string };
  tuning: SnapshotTuning;
}

/**
 * Completes the multipart upload started ahead with this version's new bytes
 * (numbered after the copies), then stores this version's metadata if it
 * differs from the one the upload was created with. A cancelled attempt
 * leaves it for the next version; any other failure aborts it.
 */
async function completeAhead(backend: Backend, dest: ObjectRef, ahead: CopyAhead, prepared: AheadParts, upload: AheadUpload): Promise<WriteResult> {
  const { bucket, key } = dest;
  const { size, partSize, read, tuning } = upload;
  const tail = ahead.copy.unchanged[0]?.end ?? size;
  const pieces: PlannedPart[] = [];
  for (let start = tail; start < size; start += partSize) {
    pieces.push({ block: prepared.parts.length + pieces.length, start, end: Math.min(size, start + partSize), kind: 'send' });
  }
  const sends = pLimit(tuning.partConcurrency);
  try {
    const results = await Promise.allSettled(pieces.map(({ block, start, end }) =>
      sends(async () => backend.uploadPart(bucket, key, prepared.uploadId, block + 1, await read(start, end)))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const sent = results.map((r) => (r as PromiseFulfilledResult<PartResult>).value);
    const result = await backend.completeMultipart(bucket, key, prepared.uploadId, [...prepared.parts, ...sent]);
    ahead.ended = true;
    const fields = { metadata: upload.fields.metadata, contentType: upload.fields.contentType };
    if (sameFields(ahead.fields, fields)) return result;
    // Created with the metadata of the first append: this version's (a newer mtime) is stored by a self-copy.
    const { metadata, contentType } = fields;
    return await copyObject(backend, dest, dest, { metadata, ...(contentType !== undefined && { contentType }), ifMatch: result.etag });
  } catch (error) {
    if (!(error instanceof Superseded)) await ahead.abort();
    throw error;
  }
}

async function readExactly(handle: FileHandle, path: string, position: number, length: number, buffers?: BufferLender): Promise<Buffer> {
  const body = buffers?.borrow(length) ?? Buffer.allocUnsafe(length);
  for (let done = 0; done < length; ) {
    const { bytesRead } = await handle.read(body, done, length - done, position + done);
    if (bytesRead === 0) {
      buffers?.giveBack(body);
      throw new OtherError(`${path}: the snapshot is shorter than acknowledged`, { reason: 'SourceChanged' });
    }
    done += bytesRead;
  }
  return body;
}

/** Refuses every request but an abort once `cancelled()` holds. */
class CancellableBackend extends ForwardingBackend {
  constructor(inner: Backend, private readonly key: string, private readonly cancelled: () => boolean) {
    super(inner);
  }

  protected override around<T>(op: Operation, call: () => Promise<T>): Promise<T> {
    if (op !== 'abortMultipart' && this.cancelled()) return Promise.reject(new Superseded(this.key));
    return call();
  }
}
