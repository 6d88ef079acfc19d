/**
 * Multipart rules of S3, for the in-memory backend: part numbers 1..10,000,
 * uploads found by id *and* key, and CompleteMultipartUpload's checks (parts
 * listed in ascending order, each uploaded with the etag given, every part but
 * the last at least the minimum part size) before the object is assembled.
 */
import type { PartResult } from '../contract.js';
import { sameEtag } from '../checks.js';
import { NotFoundError, OtherError } from '../errors.js';
import { where } from './checks.js';
import { multipartEtag, type MemoryBucket, type Upload } from './store.js';

export function findUpload(bucket: MemoryBucket, key: string, uploadId: string): Upload {
  const upload = bucket.uploads.get(uploadId);
  if (upload === undefined || upload.key !== key) {
    throw new NotFoundError(`no multipart upload '${uploadId}' for ${where(bucket.name, key)}`, {
      reason: 'NoSuchUpload',
    });
  }
  return upload;
}

/** Checks the part list of a CompleteMultipartUpload and returns the object's bytes and etag. */
export function assemble(upload: Upload, parts: PartResult[], minPartSize: number, what: string): { data: Buffer; etag: string } {
  if (parts.length === 0) {
    throw new OtherError(`completing an upload needs at least one part (${what})`, { reason: 'MalformedXML' });
  }
  // S3 checks the order of the whole list before it looks at any part.
  if (parts.some((given, i) => i > 0 && given.partNumber <= parts[i - 1]!.partNumber)) {
    throw new OtherError(`parts must be listed in ascending order of part number (${what})`, { reason: 'InvalidPartOrder' });
  }
  const chunks: Buffer[] = [];
  const etags: string[] = [];
  parts.forEach((given, i) => {
    const part = upload.parts.get(given.partNumber);
    if (part === undefined || !sameEtag(part.etag, given.etag)) {
      throw new OtherError(`part ${given.partNumber} was not uploaded with etag ${given.etag} (${what})`, {
        reason: 'InvalidPart',
      });
    }
    if (i < parts.length - 1 && part.data.length < minPartSize) {
      throw new OtherError(
        `part ${given.partNumber} is ${part.data.length} bytes; every part but the last must be at least ${minPartSize} bytes (${what})`,
        { reason: 'EntityTooSmall' },
      );
    }
    chunks.push(part.data);
    etags.push(part.etag);
  });
  return { data: Buffer.concat(chunks), etag: multipartEtag(etags) };
}
