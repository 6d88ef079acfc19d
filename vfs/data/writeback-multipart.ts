/**
 * Records every multipart upload the async write mode starts in the
 * write-back journal until it completes or is aborted, so an upload cut off
 * by a crash (kill -9, power loss) is aborted at the next start instead of
 * leaving an orphaned multipart upload (and its parts, billed) in the bucket.
 */
import type { Backend, CreateMultipartOptions, PartResult, WriteResult } from '../../drivers/contract.js';
import { ForwardingBackend } from '../../drivers/decorators/forwarding.js';
import type { WritebackJournal } from '../../cache/writeback/journal.js';

export class MultipartRecorder extends ForwardingBackend {
  constructor(inner: Backend, private readonly journal: WritebackJournal, private readonly now: () => number = Date.now) {
    super(inner);
  }

  override async createMultipart(bucket: string, key: string, options?: CreateMultipartOptions): Promise<string> {
    const uploadId = await super.createMultipart(bucket, key, options);
    this.journal.addMultipart(key, uploadId, this.now());
    return uploadId;
  }

  override async completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    const result = await super.completeMultipart(bucket, key, uploadId, parts);
    this.journal.removeMultipart(key, uploadId);
    return result;
  }

  override async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    await super.abortMultipart(bucket, key, uploadId);
    this.journal.removeMultipart(key, uploadId);
  }
}
