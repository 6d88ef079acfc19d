/**
 * Optional features on single objects: tags, canned ACLs, append, restore of
 * archived objects, bandwidth limits. Each is exercised where the backend's
 * capabilities claim it (a server that lacks it is reported as SKIPPED), and
 * must be refused as Unsupported, saying so, where they do not.
 */
import { expectError, expectUnsupported, getBody, lacks, type Ctx, type Tap } from './helpers.js';

export async function featureTests(t: Tap, ctx: Ctx): Promise<void> {
  await t.test('tags', (t) => tagTests(t, ctx));
  await t.test('canned ACLs', (t) => aclTests(t, ctx));
  await t.test('append', (t) => appendTests(t, ctx));
  await t.test('restore of archived objects', (t) => restoreTests(t, ctx));
  await t.test('bandwidth limits', (t) => bandwidthTests(t, ctx));
}

async function tagTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}features/tagged`;
  await backend.put(bucket, key, Buffer.from('tagged'));
  if (!backend.capabilities.tagging) {
    await expectUnsupported(t, () => backend.getTags(bucket, key), 'getTags');
    await expectUnsupported(t, () => backend.putTags(bucket, key, { a: '1' }), 'putTags');
    await expectUnsupported(t, () => backend.deleteTags(bucket, key), 'deleteTags');
  } else {
    const tags = { project: 'bucketfs', 'team name': 'storage drivers' };
    await backend.putTags(bucket, key, tags);
    t.same(await backend.getTags(bucket, key), tags, 'getTags returns the tags put');
    if (!lacks(t, ctx, 'tagsOnPut')) {
      const withTags = `${key}-at-put`;
      await backend.put(bucket, withTags, Buffer.from('x'), { tags: { stage: 'put' } });
      t.same(await backend.getTags(bucket, withTags), { stage: 'put' }, 'tags given to put are stored');
      await backend.delete(bucket, withTags);
    }
    if (!lacks(t, ctx, 'deleteTags')) {
      await backend.deleteTags(bucket, key);
      t.same(await backend.getTags(bucket, key), {}, 'deleteTags removes every tag');
    }
    await expectError(t, () => backend.getTags(bucket, `${key}-missing`), { kind: 'NotFound' }, 'getTags of a missing key');
  }
  await backend.delete(bucket, key);
}

async function aclTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}features/acl`;
  await backend.put(bucket, key, Buffer.from('acl'));
  const acls = backend.capabilities.acls;
  if (acls.length === 0) {
    await expectUnsupported(t, () => backend.getAcl(bucket, key), 'getAcl');
    await expectUnsupported(t, () => backend.putAcl(bucket, key, 'private'), 'putAcl');
  } else if (!lacks(t, ctx, 'acls')) {
    for (const acl of acls.filter((a) => a === 'public-read' || a === 'private' || a === acls[0])) {
      await backend.putAcl(bucket, key, acl);
      t.equal(await backend.getAcl(bucket, key), acl, `putAcl '${acl}' then getAcl returns it`);
    }
    await expectError(t, () => backend.putAcl(bucket, key, 'no-such-acl'),
      { kind: 'Other', mentions: `not supported by ${backend.kind}` }, "putAcl 'no-such-acl' is refused, naming the backend");
    await expectError(t, () => backend.put(bucket, `${key}-bad`, Buffer.from('x'), { acl: 'no-such-acl' }),
      { kind: 'Other', mentions: `not supported by ${backend.kind}` }, "put with acl 'no-such-acl' is refused");
    const withAcl = `${key}-at-put`;
    await backend.put(bucket, withAcl, Buffer.from('x'), { acl: acls[0]! });
    t.equal(await backend.getAcl(bucket, withAcl), acls[0], 'an ACL given to put is applied');
    await backend.delete(bucket, withAcl);
  }
  await backend.delete(bucket, key);
}

async function appendTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}features/appended`;
  if (!backend.capabilities.append) {
    await expectUnsupported(t, () => backend.append(bucket, key, 0, Buffer.from('abc')), 'append');
    return;
  }
  const first = await backend.append(bucket, key, 0, Buffer.from('abc'));
  t.equal(first.nextPosition, 3, 'append at 0 creates the object and gives the next position');
  const second = await backend.append(bucket, key, first.nextPosition, Buffer.from('defg'));
  t.equal(second.nextPosition, 7, 'append at the size extends it');
  t.equal((await getBody(ctx, key)).toString(), 'abcdefg', 'the object holds both appends');
  await expectError(t, () => backend.append(bucket, key, 2, Buffer.from('x')),
    { kind: 'PreconditionFailed', reason: 'PositionNotEqualToLength' }, 'append at a wrong position');
  t.equal((await backend.head(bucket, key)).size, 7, 'the refused append changed nothing');
  await backend.delete(bucket, key);
}

async function restoreTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}features/archived`;
  if (!backend.capabilities.restore) {
    await backend.put(bucket, key, Buffer.from('cold'));
    await expectUnsupported(t, () => backend.restore(bucket, key, { days: 1 }), 'restore');
  } else if (!lacks(t, ctx, 'restore')) {
    await backend.put(bucket, key, Buffer.from('cold'), { storageClass: 'GLACIER' });
    t.equal((await backend.head(bucket, key)).size, 4, 'an archived object can be headed');
    await expectError(t, () => backend.get(bucket, key), { kind: 'Other', reason: 'InvalidObjectState' },
      'an archived object cannot be read before a restore');
    await backend.restore(bucket, key, { days: 1 });
    t.equal((await getBody(ctx, key)).toString(), 'cold', 'after restore the object can be read');
  }
  await backend.delete(bucket, key);
}

async function bandwidthTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend } = ctx;
  if (!backend.capabilities.bandwidthLimits) {
    await expectUnsupported(t, () => backend.setBandwidthLimits({ upload: 1_000_000 }), 'setBandwidthLimits');
    return;
  }
  backend.setBandwidthLimits({ upload: 0, download: 0 });
  t.pass('setBandwidthLimits to unlimited is accepted');
}
