/**
 * A listing fetched as key ranges side by side (vfs/namespace/split-listing.ts)
 * gives exactly the sequential listing: the same objects and common prefixes,
 * in the same order, none missed or doubled, for any key set (hostile keys
 * included) and any cut of the key space: boundaries equal to a key, to a
 * common prefix, inside a common prefix, outside the directory, non-ASCII.
 * On the memory backend (random key sets) and on Ceph RGW.
 */
import fc from 'fast-check';
import t from 'tap';
import type { ListPage } from '../../drivers/contract.js';
import type { Container } from '../../drivers/storage.js';
import { guessBoundaries, listSplit, type SplitListingOptions } from '../../vfs/namespace/split-listing.js';
import { compareNames } from '../../cache/metadata/paths.js';
import { freshBucket, seed } from './namespace-harness.js';

const DIR = 'd/';

interface Listing {
  objects: string[];
  prefixes: string[];
  /** Every entry's position (key or prefix) in the order delivered. */
  order: string[];
}

function collect(pages: ListPage[]): Listing {
  const listing: Listing = { objects: [], prefixes: [], order: [] };
  for (const page of pages) {
    listing.objects.push(...page.objects.map((o) => o.key));
    listing.prefixes.push(...page.prefixes);
    listing.order.push(...[...page.objects.map((o) => o.key), ...page.prefixes].sort(compareNames));
  }
  return listing;
}

async function sequential(container: Container, pageSize: number): Promise<Listing> {
  const pages: ListPage[] = [];
  for await (const page of container.pages({ prefix: DIR, delimiter: '/', pageSize })) pages.push(page);
  return collect(pages);
}

async function split(container: Container, options: SplitListingOptions): Promise<{ listing: Listing; requests: number }> {
  let requests = 0;
  const counting = Object.create(container) as Container;
  counting.listPage = (o) => {
    requests++;
    return container.listPage(o);
  };
  const pages: ListPage[] = [];
  for await (const page of listSplit(counting, DIR, options)) pages.push(page);
  return { listing: collect(pages), requests };
}

function isAscending(list: string[]): boolean {
  return list.every((p, i) => i === 0 || compareNames(list[i - 1]!, p) < 0);
}

t.test('boundaries guessed from the first page', async (t) => {
  t.same(guessBoundaries('d/f00000', 'd/f00999', 'd/', 15), ['d/f01', 'd/f02', 'd/f03', 'd/f04', 'd/f05', 'd/f06', 'd/f07', 'd/f08', 'd/f09']);
  t.same(guessBoundaries('d/0a13', 'd/0fe2', 'd/', 20).slice(0, 10), ['d/1', 'd/2', 'd/3', 'd/4', 'd/5', 'd/6', 'd/7', 'd/8', 'd/9', 'd/a'], 'hex names step in hex');
  t.same(guessBoundaries('d/img_1.jpg', 'd/img_10897.jpg', 'd/', 30).slice(0, 3), ['d/img_11', 'd/img_12', 'd/img_13']);
  for (const [first, last] of [['d/a', 'd/\u{1F600}'], ['d/ ', 'd/~~~'], ['d/x', 'd/x/'], ['d/', 'd/%+#?\\'], ['d/a', 'd/z']]) {
    const bounds = guessBoundaries(first!, last!, 'd/', 15);
    t.ok(bounds.length <= 15 && isAscending(bounds), `${JSON.stringify(last)}: ascending, at most 15`);
    t.ok(bounds.every((b) => b.startsWith('d/') && compareNames(b, last!) > 0 && !b.slice(2).includes('/')), `${JSON.stringify(last)}: after the last entry, inside the directory`);
  }
});

// Characters that sort before, inside and after ASCII, '/' (the delimiter), URL-special ones, a surrogate pair and U+E000 (UTF-16 and UTF-8 orders differ there).
const CHARS = ['a', 'b', 'z', '0', '9', '/', ' ', '%', '+', '\n', '\u00e9', '\u{1F600}', '\ue000', '~', '.'];
const name = fc.array(fc.constantFrom(...CHARS), { minLength: 1, maxLength: 5 }).map((cs) => cs.join(''));

t.test('memory backend: any key set, any cut, the sequential listing', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(name, { minLength: 0, maxLength: 40 }),
      fc.array(fc.oneof(name.map((n) => DIR + n), name, fc.constant(DIR)), { maxLength: 8 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 4 }),
      fc.boolean(),
      async (names, cuts, pageSize, concurrency, guess) => {
        const keys = names.map((n) => DIR + n);
        const container = bucket.container;
        for await (const page of container.pages({})) await container.deleteMany(page.objects.map((o) => o.key));
        await seed(container, Object.fromEntries([...keys, 'c', 'e/x'].map((k) => [k, ''])));
        const expected = await sequential(container, pageSize);
        const options: SplitListingOptions = { pageSize, concurrency, ...(!guess && { boundaries: () => cuts }) };
        const { listing, requests } = await split(container, options);
        runs++;
        // The first page, then per range its full pages, one last page and at most one 1-entry probe.
        const ranges = guess ? 10 : cuts.length + 1;
        const bound = 1 + Math.floor(expected.order.length / pageSize) + 2 * ranges;
        return JSON.stringify(listing.objects) === JSON.stringify(expected.objects) &&
          JSON.stringify(listing.prefixes) === JSON.stringify(expected.prefixes) && isAscending(listing.order) && requests <= bound;
      },
    ),
    { numRuns: 300 },
  );
  t.equal(runs, 300, '300 random key sets and cuts listed exactly, within the bound on requests');
});

t.test('memory backend: requests of a directory of numbered names', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  const names = Array.from({ length: 10_000 }, (_, i) => `${DIR}f${String(i).padStart(5, '0')}`);
  await seed(bucket.container, Object.fromEntries(names.map((k) => [k, ''])));
  const { listing, requests } = await split(bucket.container, {});
  t.same(listing.objects, names);
  // The first page, then 10 ranges: (f00999, f01] is empty (one 1-entry request); each of f01…f08 holds one full page and
  // needs a 1-entry probe to see that the next entry lies beyond it; the last one ends the listing.
  t.equal(requests, 1 + 1 + 8 * 2 + 1, `${requests} requests for 10 pages`);
  const small = await split(bucket.container, { boundaries: () => [] });
  t.equal(small.requests, 10, 'no boundaries: the pages one after the other');
});

t.test('stopping early abandons the ranges not yet read', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`${DIR}k${String(i).padStart(3, '0')}`, ''])));
  let requests = 0;
  const counting = Object.create(bucket.container) as Container;
  counting.listPage = (o) => {
    requests++;
    return bucket.container.listPage(o);
  };
  let read = 0;
  for await (const page of listSplit(counting, DIR, { pageSize: 10, concurrency: 2 })) {
    read += page.objects.length;
    if (read >= 20) break;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(requests < 20, `${requests} requests for 30 pages: the rest were never made`);
});

t.test('a failing range fails the listing', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`${DIR}k${String(i).padStart(3, '0')}`, ''])));
  let calls = 0;
  const failing = Object.create(bucket.container) as Container;
  failing.listPage = (o) => (++calls === 3 ? Promise.reject(new Error('connection reset')) : bucket.container.listPage(o));
  await t.rejects(async () => {
    for await (const page of listSplit(failing, DIR, { pageSize: 10 })) void page;
  }, /connection reset/);
});

t.test('Ceph RGW: hostile keys, guessed and arbitrary cuts', async (t) => {
  const bucket = await freshBucket(t, 'rgw');
  if (bucket === undefined) return;
  const hostile = ['a b', 'a%20b', 'a+b', 'a#b', 'a?b', 'a\\b', 'tab\there', 'nl\nx', '\u00e9t\u00e9', 'e\u0301te', '\u{1F600}', '\ue000x', '~x', '.x', '-x'];
  const names = [...hostile, ...Array.from({ length: 60 }, (_, i) => `f${String(i).padStart(3, '0')}`), 'sub/a', 'sub/b', 'sub0/x', 'f030/y', 'f030/z'];
  await seed(bucket.container, Object.fromEntries([...names.map((n) => DIR + n), `${DIR}`, 'c', 'e/x'].map((k) => [k, ''])));
  const expected = await sequential(bucket.container, 7);
  t.ok(expected.objects.length > 60 && expected.prefixes.length === 3, 'the sequential listing');
  const cuts: string[][] = [
    [],
    [`${DIR}f010`, `${DIR}f030`, `${DIR}f030/`, `${DIR}f030/y`, `${DIR}sub`, `${DIR}sub/`, `${DIR}sub/a`],
    [`${DIR}a`, `${DIR}\u00e9`, `${DIR}\u{1F600}`, `${DIR}\ue000`, 'e', 'zzz', `${DIR}~`],
    names.map((n) => DIR + n),
  ];
  for (const [i, bounds] of cuts.entries()) {
    const { listing } = await split(bucket.container, { pageSize: 7, concurrency: 3, boundaries: () => bounds });
    t.same(listing.objects, expected.objects, `cut ${i}: the same objects in the same order`);
    t.same(listing.prefixes, expected.prefixes, `cut ${i}: the same prefixes`);
    t.ok(isAscending(listing.order), `cut ${i}: pages in order`);
  }
  const guessed = await split(bucket.container, { pageSize: 7 });
  t.same(guessed.listing.objects, expected.objects, 'guessed cuts: the same objects');
  t.same(guessed.listing.prefixes, expected.prefixes, 'guessed cuts: the same prefixes');
});
