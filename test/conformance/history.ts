/**
 * Optional features that reach beyond one request: versions (on a fresh
 * bucket, since versioning cannot be turned off and the contract cannot
 * delete versions, that bucket is left behind), change notifications, and
 * signed URLs fetched with plain `fetch`. Where the capabilities deny a
 * feature, its calls must fail as Unsupported.
 */
import { deleteKeys, expectError, expectUnsupported, getBody, lacks, readAll, type Ctx, type Tap } from './helpers.js';
import type { ChangeEvent } from '../../drivers/contract.js';

const EVENT_TIMEOUT_MS = 5000;

export async function historyTests(t: Tap, ctx: Ctx): Promise<void> {
  await t.test('versions', (t) => versionTests(t, ctx));
  await t.test('notifications', (t) => notificationTests(t, ctx));
  await t.test('signed URLs', (t) => signedUrlTests(t, ctx));
}

async function versionTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend } = ctx;
  if (!backend.capabilities.versions) {
    await expectUnsupported(t, () => backend.listVersions(ctx.bucket), 'listVersions');
    await expectUnsupported(t, () => backend.enableVersioning(ctx.bucket), 'enableVersioning');
    return;
  }
  if (lacks(t, ctx, 'versions')) return;
  const bucket = ctx.target.freshBucketName();
  const key = 'versioned';
  await backend.createBucket(bucket);
  await backend.enableVersioning(bucket);
  const one = await backend.put(bucket, key, Buffer.from('one'));
  const two = await backend.put(bucket, key, Buffer.from('two'));
  t.ok(one.versionId && two.versionId && one.versionId !== two.versionId, 'each put returns its own version id');

  const versions = await backend.listVersions(bucket, { prefix: key });
  t.same(versions.map((v) => [v.versionId, v.isLatest, v.isDeleteMarker, v.size]),
    [[two.versionId, true, false, 3], [one.versionId, false, false, 3]], 'listVersions lists both, newest first and latest');
  for (const [version, body] of [[one, 'one'], [two, 'two']] as const) {
    const got = await backend.get(bucket, key, { versionId: version.versionId! });
    t.equal((await readAll(got.body)).toString(), body, `get by version id returns '${body}'`);
    t.equal((await backend.head(bucket, key, { versionId: version.versionId! })).versionId, version.versionId, 'head by version id');
  }

  await backend.delete(bucket, key);
  const after = await backend.listVersions(bucket, { prefix: key });
  const latest = after.find((v) => v.isLatest);
  t.same([after.length, latest?.isDeleteMarker], [3, true], 'a delete adds a delete marker as the latest version');
  await expectError(t, () => backend.head(bucket, key), { kind: 'NotFound', reason: 'NoSuchKey' }, 'the deleted key is not found');
  const old = await backend.get(bucket, key, { versionId: one.versionId! });
  t.equal((await readAll(old.body)).toString(), 'one', 'older versions stay readable after the delete');
  t.comment(`the versioned bucket ${bucket} is left in place: the contract cannot delete versions`);
}

/** Resolves when `events` holds one that `match` accepts; false after the timeout. */
async function waitForEvent(events: ChangeEvent[], match: (e: ChangeEvent) => boolean): Promise<boolean> {
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (events.some(match)) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

async function notificationTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const prefix = `${ctx.root}watched/`;
  if (!backend.capabilities.notifications) {
    await expectUnsupported(t, () => backend.watch(bucket, { prefix }, () => {}), 'watch');
    return;
  }
  if (lacks(t, ctx, 'notifications')) return;
  const events: ChangeEvent[] = [];
  const watcher = await backend.watch(bucket, { prefix }, (e) => events.push(e));
  const key = `${prefix}file`;
  const outside = `${ctx.root}unwatched`;
  try {
    await backend.put(bucket, outside, Buffer.from('no event'));
    const { etag } = await backend.put(bucket, key, Buffer.from('event'));
    t.ok(await waitForEvent(events, (e) => e.type === 'put' && e.key === key), 'a put under the prefix raises a put event');
    t.equal(events.find((e) => e.key === key)?.etag, etag, 'the event carries the etag');
    await backend.delete(bucket, key);
    t.ok(await waitForEvent(events, (e) => e.type === 'delete' && e.key === key), 'a delete raises a delete event');
    t.notOk(events.some((e) => e.key === outside), 'a key outside the prefix raises nothing');
  } finally {
    await watcher.close();
    await backend.delete(bucket, outside);
  }
}

async function signedUrlTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}signed/get me`;
  const uploaded = `${ctx.root}signed/put me`;
  if (!backend.capabilities.signedUrls) {
    await expectUnsupported(t, () => backend.signedUrl(bucket, key, { method: 'GET', expiresIn: 60 }), 'signedUrl');
    return;
  }
  if (lacks(t, ctx, 'signedUrls')) return;
  await backend.put(bucket, key, Buffer.from('fetched through a signed URL'));
  const getUrl = await backend.signedUrl(bucket, key, { method: 'GET', expiresIn: 60 });
  const response = await fetch(getUrl);
  t.equal(response.status, 200, 'a signed GET URL answers 200');
  t.equal(await response.text(), 'fetched through a signed URL', 'a signed GET URL serves the object');

  const putUrl = await backend.signedUrl(bucket, uploaded, { method: 'PUT', expiresIn: 60 });
  const put = await fetch(putUrl, { method: 'PUT', body: Buffer.from('uploaded through a signed URL') });
  await put.arrayBuffer();
  t.ok(put.ok, `a signed PUT URL accepts the upload (status ${put.status})`);
  t.equal((await getBody(ctx, uploaded)).toString(), 'uploaded through a signed URL', 'the backend reads what was PUT');
  await deleteKeys(ctx, [key, uploaded]);
}
