/**
 * Uploading a local file (a staging file) as one object in buffers lent by
 * the data path's memory budget, instead of a fresh Buffer per part: a freed
 * Buffer's memory returns only at the next garbage collection, and the
 * daemon grew by hundreds of MiB while uploading 1 GiB that way (measured:
 * the async write mode's 1 GiB write peaked at 399 MiB RSS).
 *
 * One PUT below the multipart threshold (the whole file in one lent buffer),
 * parallel multipart above (drivers/transfer.ts `multipartUpload`), each part
 * in a lent buffer that goes back once its request has ended.
 */
import { open, stat } from 'node:fs/promises';
import type { Backend, PartResult, WriteResult } from '../../drivers/contract.js';
import { ForwardingBackend } from '../../drivers/decorators/forwarding.js';
import { OtherError } from '../../drivers/errors.js';
import { choosePartSize, multipartUpload, uploadObject, type UploadOptions } from '../../drivers/transfer.js';
import type { ByteBudget } from './budget.js';

/** What `uploadFile` needs of the budget: a part size and parts in flight, known from the upload options. */
export interface FileUploadOptions extends UploadOptions {
  multipartThreshold: number;
  partSize: number;
  concurrency: number;
}

/** The bytes of the budget an upload of a `size`-byte file holds: the whole file for one PUT, a part per part in flight. */
export function uploadMemory(backend: Backend, size: number, options: FileUploadOptions): number {
  if (size < options.multipartThreshold || !backend.capabilities.multipart) return size;
  return Math.min(size, choosePartSize(backend, size, options.partSize) * options.concurrency);
}

/**
 * Uploads the file at `path` as `key`. `reserve`: take `uploadMemory` bytes of
 * the budget for the upload's duration; false when the caller already holds them.
 */
export async function uploadFile(
  backend: Backend, bucket: string, key: string, path: string, options: FileUploadOptions, budget: ByteBudget, reserve: boolean,
): Promise<WriteResult> {
  const { size } = await stat(path);
  const run = () => send(backend, bucket, key, path, size, options, budget);
  return reserve ? budget.with(uploadMemory(backend, size, options), run) : run();
}

async function send(
  backend: Backend, bucket: string, key: string, path: string, size: number, options: FileUploadOptions, budget: ByteBudget,
): Promise<WriteResult> {
  const handle = await open(path, 'r');
  try {
    if (size < options.multipartThreshold || !backend.capabilities.multipart) {
      const body = budget.borrow(size);
      try {
        await readExactly(handle, body, 0, path);
        return await uploadObject(backend, bucket, key, body, options);
      } finally {
        budget.giveBack(body);
      }
    }
    const partSize = choosePartSize(backend, size, options.partSize);
    const read = async (n: number): Promise<Buffer | undefined> => {
      const start = (n - 1) * partSize;
      if (start >= size) return undefined;
      const body = budget.borrow(Math.min(partSize, size - start));
      try {
        await readExactly(handle, body, start, path);
      } catch (error) {
        budget.giveBack(body);
        throw error;
      }
      return body;
    };
    return await multipartUpload(new LendingBackend(backend, budget), bucket, key, read, options);
  } finally {
    await handle.close();
  }
}

async function readExactly(handle: Awaited<ReturnType<typeof open>>, into: Buffer, position: number, path: string): Promise<void> {
  for (let done = 0; done < into.length; ) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new OtherError(`${path}: file shrank while uploading`, { reason: 'SourceChanged' });
    done += bytesRead;
  }
}

/** Lends buffers of a budget whose bytes the borrower already holds (ByteBudget `borrow`/`giveBack`). */
export interface BufferLender {
  borrow(bytes: number): Buffer;
  giveBack(buffer: Buffer): void;
}

/** Gives each part's buffer back to the lender once its request has ended (sent or failed). */
export class LendingBackend extends ForwardingBackend {
  constructor(inner: Backend, private readonly budget: BufferLender) {
    super(inner);
  }

  override async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    try {
      return await super.uploadPart(bucket, key, uploadId, partNumber, body);
    } finally {
      this.budget.giveBack(body);
    }
  }
}
