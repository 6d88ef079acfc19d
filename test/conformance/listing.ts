/**
 * Listings across more than 1,000 keys, as S3's ListObjectsV2 defines them:
 * byte order, no key twice, `maxKeys` bounding keys plus prefixes per page,
 * common prefixes for a delimiter (a prefix that spans many pages of keys is
 * still listed once), and manual paging with small pages giving the same
 * result as the default. The 1,105 keys are written once and shared.
 */
import type { ListOptions } from '../../drivers/contract.js';
import { deleteKeys, expectedListing, forEachLimit, listAll, type Ctx, type Tap } from './helpers.js';

/** More than one default page in total and in the `a/` directory alone. */
const IN_A = 1020;
const DIRS = 30;
const FILES = 55;
const PAGE = 1000;
/** A page size that does not divide any group, so page ends fall everywhere. */
const SMALL_PAGE = 7;

function layout(base: string): string[] {
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  return [
    ...Array.from({ length: IN_A }, (_, i) => `${base}a/${pad(i, 4)}`),
    ...Array.from({ length: DIRS }, (_, i) => `${base}b${pad(i, 2)}/x`),
    ...Array.from({ length: FILES }, (_, i) => `${base}c${pad(i, 2)}`),
  ];
}

export async function listingTests(t: Tap, ctx: Ctx): Promise<void> {
  const base = `${ctx.root}list/`;
  const keys = layout(base);
  await forEachLimit(keys, 16, (key) => ctx.backend.put(ctx.bucket, key, Buffer.from(key.slice(base.length))));
  t.equal(keys.length, 1105, 'wrote 1,105 keys');

  await check(t, ctx, keys, { prefix: base }, 'all keys, default pages');
  await check(t, ctx, keys, { prefix: base, maxKeys: SMALL_PAGE }, `all keys, pages of ${SMALL_PAGE}`);
  await check(t, ctx, keys, { prefix: base, delimiter: '/' }, "delimiter '/', default pages");
  await check(t, ctx, keys, { prefix: base, delimiter: '/', maxKeys: SMALL_PAGE }, `delimiter '/', pages of ${SMALL_PAGE}`);
  await check(t, ctx, keys, { prefix: `${base}a/`, delimiter: '/' }, "the 1,020 keys of a/ with delimiter '/'");
  await check(t, ctx, keys, { prefix: `${base}b1` }, 'a prefix that is not a directory');
  await check(t, ctx, keys, { prefix: `${base}b`, delimiter: '/', maxKeys: 1 }, 'prefixes one per page');

  const empty = await ctx.backend.listPage(ctx.bucket, { prefix: `${base}nothing-here/` });
  t.same([empty.objects, empty.prefixes, empty.nextToken], [[], [], undefined], 'a prefix with no keys lists nothing and has no token');

  const sizes = (await listAll(t, ctx, { prefix: `${base}c` })).objects.map((o) => o.size);
  t.same(sizes, Array.from({ length: FILES }, () => 3), 'listed objects carry their sizes');

  await deleteKeys(ctx, keys);
  t.same(await listAll(t, ctx, { prefix: base }), { objects: [], prefixes: [], pageSizes: [0] },
    `deleteMany in batches of ${ctx.backend.limits.maxDeleteBatch} removed all 1,105 keys`);
}

async function check(t: Tap, ctx: Ctx, keys: string[], options: Omit<ListOptions, 'token'>, label: string): Promise<void> {
  const want = expectedListing(keys, options.prefix ?? '', options.delimiter);
  const got = await listAll(t, ctx, options);
  t.same(got.objects.map((o) => o.key), want.keys, `${label}: every key once, in byte order`);
  t.same(got.prefixes, want.prefixes, `${label}: every common prefix once, in byte order`);
  const limit = options.maxKeys ?? PAGE;
  const oversized = got.pageSizes.filter((n) => n > limit);
  t.same(oversized, [], `${label}: no page holds more than ${limit} keys and prefixes`);
  const total = want.keys.length + want.prefixes.length;
  if (total > limit) t.ok(got.pageSizes.length > 1, `${label}: ${total} entries took more than one page`);
  const emptyPages = got.pageSizes.slice(0, -1).filter((n) => n === 0).length;
  t.equal(emptyPages, 0, `${label}: no empty page before the last`);
}
