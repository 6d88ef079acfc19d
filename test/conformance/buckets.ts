/**
 * Buckets: createBucket is idempotent for our own bucket, a missing bucket is
 * NotFound with reason NoSuchBucket, a bucket holding objects refuses to be
 * deleted (NotEmpty), and a fresh bucket can be created, listed, found and
 * deleted.
 */
import { expectError, type Ctx, type Tap } from './helpers.js';

export async function bucketTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  await backend.createBucket(bucket);
  await backend.createBucket(bucket);
  t.pass('createBucket of our own existing bucket succeeds, twice');
  t.equal((await backend.headBucket(bucket)).name, bucket, 'headBucket names the bucket');

  const missing = ctx.target.freshBucketName();
  await expectError(t, () => backend.headBucket(missing), { kind: 'NotFound', reason: 'NoSuchBucket' }, 'headBucket of a missing bucket');
  await expectError(t, () => backend.deleteBucket(missing), { kind: 'NotFound', reason: 'NoSuchBucket' }, 'deleteBucket of a missing bucket');

  const key = `${ctx.root}buckets/keeps-the-bucket-busy`;
  await backend.put(bucket, key, Buffer.from('x'));
  await expectError(t, () => backend.deleteBucket(bucket), { kind: 'NotEmpty' }, 'deleteBucket of a bucket with objects');
  t.equal((await backend.head(bucket, key)).size, 1, 'the object survived the refused delete');
  await backend.delete(bucket, key);

  const fresh = ctx.target.freshBucketName();
  const created = await backend.createBucket(fresh);
  t.equal(created.name, fresh, 'createBucket returns the new bucket');
  await backend.createBucket(fresh);
  t.ok((await backend.listBuckets()).some((b) => b.name === fresh), 'listBuckets includes the fresh bucket');
  t.equal((await backend.headBucket(fresh)).name, fresh, 'headBucket finds the fresh bucket');
  await backend.put(fresh, 'k', Buffer.from('v'));
  t.equal((await backend.head(fresh, 'k')).size, 1, 'the fresh bucket stores objects');
  await backend.delete(fresh, 'k');
  await backend.deleteBucket(fresh);
  await expectError(t, () => backend.headBucket(fresh), { kind: 'NotFound', reason: 'NoSuchBucket' }, 'the deleted bucket is gone');
  t.notOk((await backend.listBuckets()).some((b) => b.name === fresh), 'listBuckets no longer includes it');
}
