/**
 * Hostile keys: every key is an opaque byte string. Each one below must round
 * trip exactly through put, head, get, list, copy and delete: Unicode in both
 * normal forms (two distinct keys), spaces at either end, URL and shell
 * metacharacters, control characters, a directory marker beside its child,
 * empty, '.' and '..' segments, and a key of exactly 1,024 bytes (1,023 where
 * the store allows no more, as OSS). One byte more than the backend's limit is
 * refused with a clear error. A server that cannot store some of these
 * declares it (target.serverLacks): those keys are left out, loudly.
 */
import type { ServerFeature } from './target.js';
import { byteSorted, deleteConcurrency, deleteKeys, expectError, failuresOf, getBody, lacks, listAll, type Ctx, type Tap } from './helpers.js';

/** S3's key limit in UTF-8 bytes: the long key is this long where the backend allows it. */
const S3_KEY_BYTES = 1024;
/** The smallest limit a supported store has (OSS: 1,023 bytes); a backend declaring less is refused. */
const MIN_KEY_BYTES = 1023;

const HOSTILE_NAMES = [
  'caf\u00e9', // NFC
  'cafe\u0301', // NFD: the same text, another key
  ' leading space',
  'trailing space ',
  'inner  two  spaces',
  '100%',
  'percent%20encoded',
  'a+b plus',
  'hash#fragment',
  'question?mark=1&amp=2',
  'back\\slash',
  'star*glob[x]',
  'quotes "double" \'single\'',
  'ctrl\x01char',
  'del\x7fchar',
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'emoji 😀 🐧',
  '中文 日本語 한국어',
  'a/b/',
  'a/b/c',
  'empty//segment',
  'dots/./x',
  'dots/../x',
  '~tilde !bang $dollar (paren) ,comma ;semi @at',
];

/** Names some servers cannot store, by what they lack; such a server is not given them. */
const NAMES_NEEDING: [ServerFeature, (name: string) => boolean][] = [
  ['emptySegments', (name) => name.includes('//')],
  ['dotSegments', (name) => name.split('/').some((segment) => segment === '.' || segment === '..')],
  ['controlCharKeys', (name) => name.includes('\r')],
];

/** Copy sources a server may decode wrongly (with decodeURI, which leaves these escaped). */
const COPY_SPECIAL = /[+#?&$,;@=:]/;

/** Segments of the long key where the server lacks longKeySegments: well under a file name's 255 bytes. */
const SHORT_SEGMENT_BYTES = 200;

/** A key of exactly `bytes` UTF-8 bytes under `prefix`, mixing 1-, 2-, 3- and 4-byte characters. */
function keyOfBytes(prefix: string, bytes: number): string {
  let key = prefix;
  for (const unit of ['😀', '€', 'é', 'x']) {
    const size = Buffer.byteLength(unit);
    while (Buffer.byteLength(key) + size <= bytes - 8) key += unit;
  }
  while (Buffer.byteLength(key) < bytes) key += 'x';
  return key;
}

/** As keyOfBytes, with a '/' at least every `segmentBytes` bytes after `prefix`. */
function segmentedKeyOfBytes(prefix: string, bytes: number, segmentBytes: number): string {
  let key = prefix;
  while (bytes - Buffer.byteLength(key) > segmentBytes) key = `${keyOfBytes(key, Buffer.byteLength(key) + segmentBytes - 1)}/`;
  return keyOfBytes(key, bytes);
}

/** The hostile names this target's server can store (the others are reported as SKIPPED). */
function storableNames(t: Tap, ctx: Ctx): string[] {
  const lacked = NAMES_NEEDING.filter(([feature]) => lacks(t, ctx, feature));
  return HOSTILE_NAMES.filter((name) => !lacked.some(([, needs]) => needs(name)));
}

function bodyOf(key: string): Buffer {
  return Buffer.from(`body of ${JSON.stringify(key)}`);
}

export async function keyTests(t: Tap, ctx: Ctx): Promise<void> {
  // Source and copy prefixes have the same length, so the long key stays within the limit when copied.
  const src = `${ctx.root}k1/`;
  const dst = `${ctx.root}k2/`;
  const { maxKeyBytes } = ctx.backend.limits;
  t.ok(maxKeyBytes >= MIN_KEY_BYTES, `limits.maxKeyBytes (${maxKeyBytes}) is at least ${MIN_KEY_BYTES}`);
  const longBytes = Math.min(S3_KEY_BYTES, maxKeyBytes);
  const longKey = lacks(t, ctx, 'longKeySegments') ? segmentedKeyOfBytes(src, longBytes, SHORT_SEGMENT_BYTES) : keyOfBytes(src, longBytes);
  const names = [...storableNames(t, ctx), longKey.slice(src.length)];
  const keys = names.map((n) => src + n);
  t.equal(Buffer.byteLength(keys.at(-1)!), longBytes, `the long key is exactly ${longBytes} bytes, the backend's limit or S3's`);
  t.equal(new Set(keys).size, keys.length, 'the NFC and NFD forms are distinct strings');

  await roundTrip(t, ctx, keys, src);
  await copyAndDelete(t, ctx, keys, names.map((n) => dst + n), { src, dst });

  const tooLong = keyOfBytes(src, maxKeyBytes + 1);
  await expectError(t, () => ctx.backend.put(ctx.bucket, tooLong, Buffer.from('x')), { kind: 'Other' },
    `a key of ${maxKeyBytes + 1} bytes is refused`);
  t.same((await listAll(t, ctx, { prefix: src })).objects, [], 'the refused key was not stored');
}

/** put, list, head and get of every key. */
async function roundTrip(t: Tap, ctx: Ctx, keys: string[], prefix: string): Promise<void> {
  const putFailures = await failuresOf(keys, async (key) => {
    await ctx.backend.put(ctx.bucket, key, bodyOf(key));
    return undefined;
  });
  t.same(putFailures, [], 'every hostile key can be written');

  const listed = await listAll(t, ctx, { prefix });
  sameListing(t, ctx, listed.objects.map((o) => o.key), keys, 'the listing returns every key byte-exactly');
  const sizes = listed.objects.filter((o) => o.size !== bodyOf(o.key).length).map((o) => o.key);
  t.same(sizes, [], 'listed sizes match the bodies');

  t.same(await failuresOf(keys, async (key) => headProblem(ctx, key)), [], 'head finds every key with its size');
  t.same(await failuresOf(keys, async (key) => bodyProblem(ctx, key, bodyOf(key))), [], 'get returns each key its own body');
}

/** Listed keys against the keys written: in UTF-8 byte order, unless the server lacks that order. */
function sameListing(t: Tap, ctx: Ctx, listed: string[], written: string[], label: string): void {
  if (lacks(t, ctx, 'keyOrder')) t.same(byteSorted(listed), byteSorted(written), `${label} (in some order)`);
  else t.same(listed, byteSorted(written), `${label}, in UTF-8 byte order`);
}

/** Server-side copy of every key to `copies`, then delete one by one (sources) and in batches (copies). */
async function copyAndDelete(t: Tap, ctx: Ctx, keys: string[], copies: string[], prefixes: { src: string; dst: string }): Promise<void> {
  const copiable = lacks(t, ctx, 'copySpecialKeys') ? (key: string) => !COPY_SPECIAL.test(key) : () => true;
  const pairs = keys.flatMap((key, i) => (copiable(key) ? [[key, copies[i]!] as const] : []));
  const copyFailures = await failuresOf(pairs, async ([from, to]) => {
    await ctx.backend.copy({ bucket: ctx.bucket, key: from }, { bucket: ctx.bucket, key: to });
    return bodyProblem(ctx, to, bodyOf(from));
  });
  t.same(copyFailures, [], 'a server-side copy of every key holds the source body');
  const copied = pairs.map(([, to]) => to);
  const listedCopies = await listAll(t, ctx, { prefix: prefixes.dst });
  sameListing(t, ctx, listedCopies.objects.map((o) => o.key), copied, 'the copies are listed byte-exactly');

  const deleteFailures = await failuresOf(keys, async (key) => {
    await ctx.backend.delete(ctx.bucket, key);
    return undefined;
  }, deleteConcurrency(ctx.target));
  t.same(deleteFailures, [], 'every key can be deleted');
  const batched = !lacks(t, ctx, 'batchDelete');
  await deleteKeys(ctx, copied);
  t.same((await listAll(t, ctx, { prefix: prefixes.src })).objects, [], 'delete removed every key');
  t.same((await listAll(t, ctx, { prefix: prefixes.dst })).objects, [], `${batched ? 'deleteMany' : 'delete'} removed every copy`);
}

async function headProblem(ctx: Ctx, key: string): Promise<string | undefined> {
  const info = await ctx.backend.head(ctx.bucket, key);
  if (info.key !== key) return `head returned key ${JSON.stringify(info.key)}`;
  if (info.size !== bodyOf(key).length) return `head size ${info.size}`;
  return undefined;
}

async function bodyProblem(ctx: Ctx, key: string, expected: Buffer): Promise<string | undefined> {
  const body = await getBody(ctx, key);
  return body.equals(expected) ? undefined : `body was ${JSON.stringify(body.toString())}`;
}
