/**
 * Test cleanup of a whole bucket on any backend: aborts pending multipart
 * uploads, deletes every object page by page, then the bucket. A bucket that
 * is already gone is fine. Servers without a working batch delete (s3rver)
 * get one delete per key.
 */
import type { Backend } from '../../drivers/contract.js';
import { isStorageError } from '../../drivers/errors.js';

export async function removeBucket(backend: Backend, bucket: string, options: { batchDelete?: boolean } = {}): Promise<void> {
  try {
    const uploads = await backend.listMultipartUploads(bucket).catch(() => []);
    for (const u of uploads) await backend.abortMultipart(bucket, u.key, u.uploadId).catch(() => undefined);
    for (;;) {
      const keys = (await backend.listPage(bucket)).objects.map((o) => o.key);
      if (keys.length === 0) break;
      if (options.batchDelete === false) {
        for (const key of keys) await backend.delete(bucket, key);
        continue;
      }
      const { errors } = await backend.deleteMany(bucket, keys);
      if (errors.length > 0) throw errors[0]!.error;
    }
    await backend.deleteBucket(bucket);
  } catch (e) {
    if (!isStorageError(e, 'NotFound')) throw e;
  }
}
