/**
 * Request economy of the namespace, counted on the memory backend: a listing
 * fills every child's attributes (LISTs only, no HEAD: one for up to 1,000
 * entries, a bigger directory in key ranges side by side), the cache answers
 * within its TTLs (attributes, listings, negative entries), a lookup the cache
 * cannot answer costs one HEAD (plus one LIST to find a directory), every
 * open revalidates with one HEAD, and a remount starts warm.
 */
import t from 'tap';
import { MISSES_BEFORE_LISTING } from '../../vfs/namespace/lookup.js';
import { O_RDONLY } from '../../vfs/types.js';
import { freshBucket, rig, seed, OPTIONS } from './namespace-harness.js';

const N = 2500;
const names = Array.from({ length: N }, (_, i) => `file-${String(i).padStart(5, '0')}`);
/**
 * LIST requests of a readdir of these names, fetched as ranges side by side
 * (split-listing.ts): the first page (file-00000…file-00999), then ranges cut
 * at file-01 … file-09: (file-00999, file-01] is empty (a 1-entry request),
 * (file-01, file-02] is one full page plus a 1-entry probe past it,
 * (file-02, file-03] one page that ends the listing, and the 7 ranges guessed
 * past the end one empty request each. No HEAD.
 */
const LISTS = 1 + 1 + 2 + 1 + 7;

t.test('readdir of 2,500 children: LISTs only, no HEAD; then the cache answers', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, Object.fromEntries(names.map((n, i) => [n, 'x'.repeat(i % 7)])));
  const r = await rig(t, bucket);
  r.resetRequests();
  const listing = await r.vfs.readdir('/');
  t.same(r.requests(), { listPage: LISTS }, `exactly ${LISTS} listPage calls and nothing else`);
  t.same(listing.names, names, 'every name, sorted');
  t.equal(listing.attrs[8]!.size, 1, 'sizes come from the listing');
  t.equal(listing.attrs[0]!.mode, 0o100644, 'default file mode');
  t.equal(listing.attrs[0]!.uid, OPTIONS.uid);
  t.equal(new Set(listing.attrs.map((a) => a.ino)).size, N, 'distinct inode numbers');

  r.resetRequests();
  r.clock.advance(OPTIONS.dirTtlMs - 1);
  t.same((await r.vfs.readdir('/')).names.length, N);
  for (const name of names.slice(0, 100)) await r.vfs.getattr(`/${name}`);
  t.same(r.requests(), {}, 'a second readdir and getattrs within the TTLs cost nothing');

  r.clock.advance(2);
  await r.vfs.readdir('/');
  t.same(r.requests(), { listPage: LISTS }, 'after --dir-ttl the directory is listed again');
});

t.test('readdir hands out each page as it is merged, before the listing ends', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, Object.fromEntries(names.map((n, i) => [n, 'x'.repeat(i % 7)])));
  const r = await rig(t, bucket);
  const pages: { names: string[]; sizes: number[]; current: boolean[] | undefined }[] = [];
  let settled = false;
  const listed = r.vfs.readdir('/', (page) => {
    t.notOk(settled, 'pages come before the listing resolves');
    pages.push({ names: page.names, sizes: page.attrs.map((a) => a.size), current: page.current });
  });
  const listing = await listed;
  settled = true;
  t.ok(pages.length >= 3, `one call per page: ${pages.length}`);
  const given = pages.flatMap((p) => p.names);
  // The last page's last file waits for the end: a directory of its name could still follow.
  t.same(given, listing.names.slice(0, N - 1), 'the pages together: the listing, in its order, but for its last file');
  t.same(pages.flatMap((p) => p.sizes), listing.attrs.slice(0, N - 1).map((a) => a.size), '... with its attributes');
  t.ok(pages.every((p) => p.current?.length === p.names.length && p.current.every(Boolean)), 'each marked current');

  pages.length = 0;
  await r.vfs.readdir('/', (page) => pages.push({ names: page.names, sizes: [], current: undefined }));
  t.same(pages, [], 'a listing the cache answers comes whole');
});

t.test('readdir pages: a file a directory of its name hides on the next page is never handed out', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  const first = names.slice(0, 1000);
  await seed(bucket.container, { ...Object.fromEntries(first.map((n) => [n, 'x'])), 'file-00999/inner': 'y', 'file-01000': 'z' });
  const r = await rig(t, bucket);
  const given: [string, number][] = [];
  const listing = await r.vfs.readdir('/', (page) => page.names.forEach((name, i) => given.push([name, page.attrs[i]!.mode & 0o170000])));
  t.same(given.filter(([name]) => name === 'file-00999'), [['file-00999', 0o040000]], 'given once, as the directory');
  t.equal(new Set(given.map(([name]) => name)).size, given.length, 'each name once');
  t.equal(listing.attrs[listing.names.indexOf('file-00999')]!.mode & 0o170000, 0o040000);
});

t.test('lookups the cache cannot answer', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, { 'd/file': 'abc', 'd/sub/x': '1', 'm/': '', 'm/y': '2' });
  const r = await rig(t, bucket);
  r.resetRequests();
  t.equal((await r.vfs.getattr('/d/file')).size, 3);
  t.same(r.requests(), { head: 1 }, 'an unlisted file: one HEAD');

  r.resetRequests();
  t.equal((await r.vfs.getattr('/d/sub')).mode, 0o40755);
  t.same(r.requests(), { head: 1, listPage: 1 }, 'an implicit directory: one HEAD and one LIST');

  // In another directory: a third miss in /d would list it (MISSES_BEFORE_LISTING).
  r.resetRequests();
  await t.rejects(r.vfs.getattr('/e/none'), { code: 'ENOENT' });
  t.same(r.requests(), { head: 1, listPage: 1 }, 'an absent name: one HEAD and one LIST');
  r.resetRequests();
  await t.rejects(r.vfs.getattr('/e/none'), { code: 'ENOENT' });
  t.same(r.requests(), {}, 'then cached as absent');
  r.clock.advance(OPTIONS.negativeTtlMs);
  await t.rejects(r.vfs.getattr('/e/none'), { code: 'ENOENT' });
  t.same(r.requests(), { head: 1, listPage: 1 }, 'until --negative-ttl passes');

  r.resetRequests();
  await t.rejects(r.vfs.getattr(`/d/${'n'.repeat(256)}`), { code: 'ENOENT' });
  t.same(r.requests(), {}, 'a name no listing could show costs nothing');

  // s3fs's legacy `name_$folder$` objects are recognised by listings, at no extra cost to lookups.
  await seed(bucket.container, { 'old/legacy_$folder$': '' });
  await r.vfs.readdir('/old');
  r.resetRequests();
  t.equal((await r.vfs.getattr('/old/legacy')).mode, 0o40755, "s3fs's legacy folder object is a directory");
  t.same(r.requests(), {}, 'known from the listing');

  r.resetRequests();
  await r.vfs.getattr('/m');
  t.same(r.requests(), { head: 2, listPage: 1 }, 'a directory with a marker: its marker is HEADed for exact attributes');
  r.clock.advance(OPTIONS.attrTtlMs);
  r.resetRequests();
  await r.vfs.getattr('/m');
  t.same(r.requests(), { head: 1 }, 'a known directory revalidates with one HEAD of its marker');

  await r.vfs.readdir('/d');
  r.resetRequests();
  await t.rejects(r.vfs.getattr('/d/other'), { code: 'ENOENT' });
  t.same(r.requests(), {}, 'a name missing from a fresh listing costs nothing');

  r.clock.advance(OPTIONS.attrTtlMs);
  r.resetRequests();
  await r.vfs.getattr('/d/file');
  t.same(r.requests(), { head: 1 }, 'after --attr-ttl a lookup asks again');
});

t.test('open revalidates with one HEAD, even right after a listing', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, { f: 'hello' });
  const r = await rig(t, bucket);
  await r.vfs.readdir('/');
  r.resetRequests();
  const fh = await r.vfs.open('/f', O_RDONLY);
  t.same(r.requests(), { head: 1 });
  await r.vfs.release('/f', fh);
});

t.test('a remount on the same cache directory starts warm', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, { a: '1', b: '22', 'c/d': '333' });
  const r = await rig(t, bucket);
  await r.vfs.readdir('/');
  await r.vfs.getattr('/c/d');
  const before = await r.vfs.getattr('/b');
  await r.vfs.close();
  r.resetRequests();
  const again = await r.remount();
  t.same(await again.getattr('/b'), before, 'same attributes, same inode');
  await again.getattr('/c/d');
  t.same((await again.readdir('/')).names, ['a', 'b', 'c']);
  t.same(r.requests(), {}, 'no request within the TTLs');
});

t.test('--exact-attrs: readdir also HEADs what the listing left to defaults', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, { plain: 'x' });
  await seed(bucket.container, { 'with-mode': 'y' }, { mode: String(0o100600), uid: '7', mtime: '1000000000.5' });
  await seed(bucket.container, { 'dir/': '' }, { mode: String(0o40700) });
  await seed(bucket.container, { 'dir/inner': 'z' });
  const r = await rig(t, bucket, { exactAttrs: true });
  r.resetRequests();
  const { names, attrs } = await r.vfs.readdir('/');
  t.same(names, ['dir', 'plain', 'with-mode']);
  t.same(r.requests(), { listPage: 1, head: 3 }, 'one HEAD per child');
  t.equal(attrs[0]!.mode, 0o40700, "the directory's marker mode");
  t.equal(attrs[2]!.mode, 0o100600, 'the stored file mode');
  t.equal(attrs[2]!.uid, 7);
  t.equal(attrs[2]!.mtimeNs, 1_000_000_000_500_000_000n);
  r.resetRequests();
  r.clock.advance(OPTIONS.dirTtlMs);
  await r.vfs.readdir('/');
  t.same(r.requests(), { listPage: 1 }, 'a relisting HEADs nothing already known exactly for this object version');
});

const STAT_N = 20;
const statNames = Array.from({ length: STAT_N }, (_, i) => `f${String(i).padStart(2, '0')}`);

t.test('stat of 20 names in a directory never listed: a few HEADs, then one listing answers the rest', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, Object.fromEntries(statNames.map((n, i) => [`d/${n}`, 'x'.repeat(i)])));
  const r = await rig(t, bucket);
  const watched: [string, string[]][] = [];
  const current: boolean[] = [];
  r.vfs.watchListings((dir, listed) => {
    watched.push([dir, listed.names]);
    current.push(...(listed.current ?? []));
  });
  r.resetRequests();
  await r.vfs.getattr('/d');
  const sizes: number[] = [];
  for (const name of statNames) sizes.push((await r.vfs.getattr(`/d/${name}`)).size);
  t.same(sizes, statNames.map((_, i) => i), 'every size right');
  const counts = r.requests();
  t.ok((counts['head'] ?? 0) <= MISSES_BEFORE_LISTING + 1, `at most ${MISSES_BEFORE_LISTING} HEADs for the names (and one for the directory): ${JSON.stringify(counts)}`);
  t.equal(counts['listPage'], 1 + 1, 'one LIST to find the directory, one to list it');
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  t.ok(total <= MISSES_BEFORE_LISTING + 8 + 1, `at most ${MISSES_BEFORE_LISTING} HEADs + 8 other requests + 1 LIST in all: ${total}`);
  t.same(watched, [['/d', statNames]], 'the listing was announced with every name (the adapter primes their lookups)');
  t.ok(current.length === statNames.length && current.every(Boolean), '... each with attributes a lookup may be answered with');

  r.resetRequests();
  const attr = await r.vfs.getattr('/d/f05');
  t.equal(attr.mode, 0o100644, "the listing's attributes: default mode");
  t.equal(attr.mtimeNs % 1_000_000n, 0n, '... and Last-Modified as mtime');
  t.same(r.requests(), {}, 'a name the listing showed costs nothing');
  await seed(bucket.container, { 'd/made-elsewhere': 'new' });
  r.resetRequests();
  t.equal((await r.vfs.getattr('/d/made-elsewhere')).size, 3, 'a name the listing did not show is still asked for');
  t.same(r.requests(), { head: 1 }, '... with one HEAD');
  r.resetRequests();
  await r.vfs.readdir('/d');
  t.same(r.requests(), { listPage: 1 }, 'a listing for lookups does not answer readdir');
  r.resetRequests();

  const fh = await r.vfs.open('/d/f05', O_RDONLY);
  t.same(r.requests(), { head: 1 }, 'open still revalidates with a HEAD');
  await r.vfs.release('/d/f05', fh);
});

t.test('a directory too big to list for lookups keeps per-name HEADs', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  const many = Array.from({ length: 10_050 }, (_, i) => `big/g${String(i).padStart(5, '0')}`);
  await seed(bucket.container, Object.fromEntries(many.map((k) => [k, 'y'])));
  const r = await rig(t, bucket);
  const watched: string[] = [];
  r.vfs.watchListings((dir) => watched.push(dir));
  await r.vfs.getattr('/big');
  r.resetRequests();
  const lookups = MISSES_BEFORE_LISTING + 1;
  for (let i = 0; i < lookups; i++) await r.vfs.getattr(`/big/g${String(10_049 - i).padStart(5, '0')}`);
  t.same(r.requests(), { head: lookups, listPage: 10 }, 'the lookup past the misses read 10 pages and stopped; the name was not in them: a HEAD');
  t.same(watched, [], 'a listing cut short is not announced');
  r.resetRequests();
  t.equal((await r.vfs.getattr('/big/g00010')).size, 1, 'a name from the pages read');
  await r.vfs.getattr('/big/g10000');
  t.same(r.requests(), { head: 1 }, 'pages read are used; no second listing within --dir-ttl');
  t.same((await r.vfs.readdir('/big')).names.length, many.length, 'readdir still lists everything');
});

t.test('--exact-attrs: no listing for lookups, and a listed-only entry is HEADed when looked up', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, Object.fromEntries(statNames.map((n) => [`d/${n}`, 'z'])), { mode: String(0o100600) });
  const r = await rig(t, bucket);
  await r.vfs.readdir('/d');
  t.equal((await r.vfs.getattr('/d/f00')).mode, 0o100644, 'without --exact-attrs: the listing shows default modes');
  await r.vfs.close();
  const exact = await r.remount({ exactAttrs: true });
  r.resetRequests();
  t.equal((await exact.getattr('/d/f00')).mode, 0o100600, 'the same cache with --exact-attrs: the stored mode');
  t.same(r.requests(), { head: 1 }, 'one HEAD for the entry known from a listing only');
  r.resetRequests();
  for (const name of statNames.slice(1)) await exact.getattr(`/d/${name}`);
  t.same(r.requests(), { head: STAT_N - 1 }, 'one HEAD per name, no listing');
});

t.test('ls -l: readdir answers from the listing, and each lookup after it is a cache hit', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, Object.fromEntries(names.map((n) => [`ls/${n}`, 'q'])));
  await seed(bucket.container, { 'ls/sub/inner': '1' });
  const r = await rig(t, bucket);
  await r.vfs.getattr('/ls');
  r.resetRequests();
  const { names: shown, attrs } = await r.vfs.readdir('/ls');
  t.same(shown, [...names, 'sub'], 'sorted, directories among files');
  t.equal(attrs[N]!.mode, 0o40755);
  for (let i = 0; i < N; i += 97) t.same(await r.vfs.getattr(`/ls/${names[i]}`), attrs[i], `lstat of ${names[i]} matches readdir`);
  t.same(r.requests(), { listPage: LISTS }, 'the listing\'s LISTs and nothing else');
});
