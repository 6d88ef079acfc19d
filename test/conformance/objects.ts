/**
 * Single objects: etags (no quotes, the same from put, head, get and list),
 * user metadata and content type round trips, server-side copy keeping or
 * replacing metadata, stream bodies with a size, overwrites, concurrent
 * writers of one key (one whole body wins, never a mix), conditional writes,
 * and the idempotent deletes.
 */
import { Readable } from 'node:stream';
import { deleteKeys, expectError, expectUnsupported, getBody, lacks, listAll, randomBody, readAll, type Ctx, type Tap } from './helpers.js';

const METADATA = {
  'Mixed-Case-Name': 'Hello World',
  lower: 'v',
  punctuation: 'a,b;c=d (e) [f] +g/h?i',
  unicode: 'héllo wörld ✓',
};
const LOWERED = {
  'mixed-case-name': 'Hello World',
  lower: 'v',
  punctuation: 'a,b;c=d (e) [f] +g/h?i',
  unicode: 'héllo wörld ✓',
};
const CONTENT_TYPE = 'text/x-conformance; charset=utf-8';

export async function objectTests(t: Tap, ctx: Ctx): Promise<void> {
  await t.test('etags agree everywhere', (t) => etagTests(t, ctx));
  await t.test('metadata, content type and copy', (t) => metadataTests(t, ctx));
  await t.test('stream bodies and overwrites', (t) => streamTests(t, ctx));
  await t.test('concurrent writers of one key', (t) => concurrencyTests(t, ctx));
  await t.test('conditional writes', (t) => conditionalTests(t, ctx));
  await t.test('idempotent deletes', (t) => deleteTests(t, ctx));
}

async function etagTests(t: Tap, ctx: Ctx): Promise<void> {
  const key = `${ctx.root}objects/etag`;
  const put = await ctx.backend.put(ctx.bucket, key, randomBody(1000));
  t.ok(put.etag.length > 0, 'put returns an etag');
  t.notOk(put.etag.includes('"'), 'the etag has no quotes');
  const head = await ctx.backend.head(ctx.bucket, key);
  const got = await ctx.backend.get(ctx.bucket, key);
  await readAll(got.body);
  const [listed] = (await ctx.backend.listPage(ctx.bucket, { prefix: key })).objects;
  t.same([head.etag, got.info.etag, listed?.etag], [put.etag, put.etag, put.etag], 'head, get and list give the etag put returned');
  t.ok(head.lastModified instanceof Date && !Number.isNaN(+head.lastModified), 'head gives a valid lastModified');
  await ctx.backend.delete(ctx.bucket, key);
}

async function metadataTests(t: Tap, ctx: Ctx): Promise<void> {
  const key = `${ctx.root}objects/meta`;
  const kept = `${ctx.root}objects/meta-copy-kept`;
  const replaced = `${ctx.root}objects/meta-copy-replaced`;
  const data = randomBody(300);
  await ctx.backend.put(ctx.bucket, key, data, { metadata: METADATA, contentType: CONTENT_TYPE });
  const head = await ctx.backend.head(ctx.bucket, key);
  t.same(head.metadata, LOWERED, 'head returns the metadata with lower-cased names and exact values');
  t.equal(head.contentType, CONTENT_TYPE, 'head returns the content type');
  const got = await ctx.backend.get(ctx.bucket, key);
  t.ok((await readAll(got.body)).equals(data), 'get returns the body');
  t.same(got.info.metadata, LOWERED, 'get returns the same metadata');
  t.equal(got.info.contentType, CONTENT_TYPE, 'get returns the content type');

  await ctx.backend.copy({ bucket: ctx.bucket, key }, { bucket: ctx.bucket, key: kept });
  const keptInfo = await ctx.backend.head(ctx.bucket, kept);
  t.same([keptInfo.metadata, keptInfo.contentType], [LOWERED, CONTENT_TYPE], 'a copy keeps metadata and content type by default');
  t.ok((await getBody(ctx, kept)).equals(data), 'the copy holds the same bytes');

  await ctx.backend.copy({ bucket: ctx.bucket, key }, { bucket: ctx.bucket, key: replaced }, { metadata: { 'New-Name': 'new value' } });
  const replacedInfo = await ctx.backend.head(ctx.bucket, replaced);
  t.same(replacedInfo.metadata, { 'new-name': 'new value' }, 'a copy given metadata replaces it entirely');
  t.ok((await getBody(ctx, replaced)).equals(data), 'the copy with new metadata holds the same bytes');

  await ctx.backend.copy({ bucket: ctx.bucket, key: replaced }, { bucket: ctx.bucket, key: replaced }, { metadata: { self: 'yes' } });
  t.same((await ctx.backend.head(ctx.bucket, replaced)).metadata, { self: 'yes' }, 'an object copied onto itself with new metadata takes it');
  await deleteKeys(ctx, [key, kept, replaced]);
}

async function streamTests(t: Tap, ctx: Ctx): Promise<void> {
  const key = `${ctx.root}objects/stream`;
  const parts = [randomBody(70_000), randomBody(1), randomBody(100_000)];
  const whole = Buffer.concat(parts);
  await ctx.backend.put(ctx.bucket, key, Readable.from(parts), { size: whole.length });
  t.ok((await getBody(ctx, key)).equals(whole), 'a stream body with its size is stored exactly');
  await expectError(t, () => ctx.backend.put(ctx.bucket, `${key}-nosize`, Readable.from([Buffer.from('abc')])), { kind: 'Other' },
    'a stream body without a size is refused');
  const second = randomBody(10);
  await ctx.backend.put(ctx.bucket, key, second);
  t.ok((await getBody(ctx, key)).equals(second), 'an overwrite replaces the whole object');
  t.equal((await ctx.backend.head(ctx.bucket, key)).size, 10, 'the overwrite has the new size');
  const nosize = await ctx.backend.listPage(ctx.bucket, { prefix: `${key}-nosize` });
  t.same(nosize.objects, [], 'the refused stream stored nothing');
  await ctx.backend.delete(ctx.bucket, key);
}

async function concurrencyTests(t: Tap, ctx: Ctx): Promise<void> {
  const key = `${ctx.root}objects/contended`;
  if (lacks(t, ctx, 'atomicWrites')) return;
  // Different sizes and fill bytes, so a mix of two bodies or a wrong size cannot pass.
  const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(20_000 + i * 4099, i + 1));
  await Promise.all(bodies.map((body) => ctx.backend.put(ctx.bucket, key, body)));
  const got = await ctx.backend.get(ctx.bucket, key);
  const data = await readAll(got.body);
  const winner = bodies.findIndex((b) => b.equals(data));
  t.ok(winner >= 0, 'the object is exactly one of the bodies written');
  const head = await ctx.backend.head(ctx.bucket, key);
  t.same([head.size, head.etag], [data.length, got.info.etag], 'head agrees with the body that won');
  await ctx.backend.delete(ctx.bucket, key);
}

async function conditionalTests(t: Tap, ctx: Ctx): Promise<void> {
  const key = `${ctx.root}objects/conditional`;
  const { ifMatch, ifNoneMatch } = ctx.backend.capabilities.conditionalWrite;
  const first = await ctx.backend.put(ctx.bucket, key, Buffer.from('first'));
  const serverLacks = (ifMatch || ifNoneMatch) && lacks(t, ctx, 'conditionalWrite');
  if (!ifNoneMatch) {
    await expectUnsupported(t, () => ctx.backend.put(ctx.bucket, key, Buffer.from('x'), { ifNoneMatch: '*' }), 'ifNoneMatch');
  } else if (!serverLacks) {
    await expectError(t, () => ctx.backend.put(ctx.bucket, key, Buffer.from('x'), { ifNoneMatch: '*' }),
      { kind: 'PreconditionFailed' }, "ifNoneMatch '*' on an existing key fails");
    const fresh = `${key}-fresh`;
    await ctx.backend.put(ctx.bucket, fresh, Buffer.from('new'), { ifNoneMatch: '*' });
    t.equal((await getBody(ctx, fresh)).toString(), 'new', "ifNoneMatch '*' on a missing key writes");
    await ctx.backend.delete(ctx.bucket, fresh);
  }
  if (!ifMatch) {
    await expectUnsupported(t, () => ctx.backend.put(ctx.bucket, key, Buffer.from('x'), { ifMatch: first.etag }), 'ifMatch');
  } else if (!serverLacks) {
    await expectError(t, () => ctx.backend.put(ctx.bucket, key, Buffer.from('x'), { ifMatch: 'bad0bad0bad0bad0bad0bad0bad0bad0' }),
      { kind: 'PreconditionFailed' }, 'ifMatch with a wrong etag fails');
    await ctx.backend.put(ctx.bucket, key, Buffer.from('second'), { ifMatch: first.etag });
    t.equal((await getBody(ctx, key)).toString(), 'second', 'ifMatch with the current etag writes');
  }
  t.equal((await getBody(ctx, key)).toString(), ifMatch && !serverLacks ? 'second' : 'first', 'refused conditional writes changed nothing');
  await ctx.backend.delete(ctx.bucket, key);
}

async function deleteTests(t: Tap, ctx: Ctx): Promise<void> {
  const base = `${ctx.root}objects/del/`;
  const keys = [`${base}1`, `${base}2`];
  for (const key of keys) await ctx.backend.put(ctx.bucket, key, Buffer.from(key));
  const missing = `${base}never-written`;
  await ctx.backend.delete(ctx.bucket, missing);
  t.pass('deleting a missing key succeeds');
  if (lacks(t, ctx, 'batchDelete')) {
    await deleteKeys(ctx, keys);
  } else {
    const result = await ctx.backend.deleteMany(ctx.bucket, [...keys, missing]);
    t.same([[...result.deleted].sort(), result.errors], [[...keys, missing].sort(), []],
      'deleteMany deletes every key and counts a missing key as deleted');
  }
  t.same((await listAll(t, ctx, { prefix: base })).objects, [], 'nothing is left');
  await expectError(t, () => ctx.backend.head(ctx.bucket, keys[0]!), { kind: 'NotFound', reason: 'NoSuchKey' },
    'head of a deleted key is NotFound');
}
