/**
 * Error mapping at the backend's edge: a missing key and a missing bucket are
 * both NotFound but told apart by reason (NoSuchKey / NoSuchBucket); wrong
 * credentials are AccessDenied; a failing server (5xx, refused or reset
 * connections) is Transient. Errors that come from a failed request carry
 * the original error as `cause`.
 */
import type { Backend } from '../../drivers/contract.js';
import { expectError, type Ctx, type Tap } from './helpers.js';

export async function errorTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}errors/missing key`;
  const noKey = { kind: 'NotFound', reason: 'NoSuchKey', mentions: key } as const;
  await expectError(t, () => backend.head(bucket, key), noKey, 'head of a missing key');
  await expectError(t, () => backend.get(bucket, key), noKey, 'get of a missing key');
  await expectError(t, () => backend.get(bucket, key, { range: { start: 0, end: 10 } }), noKey, 'ranged get of a missing key');
  await expectError(t, () => backend.copy({ bucket, key }, { bucket, key: `${key} copy` }), { kind: 'NotFound', reason: 'NoSuchKey' },
    'copy of a missing key');

  const missing = ctx.target.freshBucketName();
  const noBucket = { kind: 'NotFound', reason: 'NoSuchBucket' } as const;
  await expectError(t, () => backend.head(missing, 'k'), noBucket, 'head in a missing bucket');
  await expectError(t, () => backend.get(missing, 'k'), noBucket, 'get in a missing bucket');
  await expectError(t, () => backend.put(missing, 'k', Buffer.from('x')), noBucket, 'put in a missing bucket');
  await expectError(t, () => backend.listPage(missing), noBucket, 'listPage of a missing bucket');

  if (ctx.target.denied) await deniedTests(t, ctx, ctx.target.denied);
  else t.comment(`${ctx.target.name}: no wrong-credentials target (this backend has no credentials)`);
  if (ctx.target.failing) await failingTests(t, ctx, ctx.target.failing);
  else t.comment(`${ctx.target.name}: no failing-server target`);
}

async function deniedTests(t: Tap, ctx: Ctx, denied: Backend): Promise<void> {
  const want = { kind: 'AccessDenied', cause: true } as const;
  const key = `${ctx.root}errors/denied`;
  await expectError(t, () => denied.head(ctx.bucket, key), want, 'head with wrong credentials');
  await expectError(t, () => denied.put(ctx.bucket, key, Buffer.from('x')), want, 'put with wrong credentials');
  await expectError(t, () => denied.listPage(ctx.bucket), want, 'listPage with wrong credentials');
}

async function failingTests(t: Tap, ctx: Ctx, failing: Backend): Promise<void> {
  const want = { kind: 'Transient', cause: true } as const;
  const key = `${ctx.root}errors/failing`;
  await expectError(t, () => failing.head(ctx.bucket, key), want, 'head against a failing server');
  await expectError(t, async () => {
    const { body } = await failing.get(ctx.bucket, key);
    body.resume();
  }, want, 'get against a failing server');
  await expectError(t, () => failing.put(ctx.bucket, key, Buffer.from('x')), want, 'put against a failing server');
}
