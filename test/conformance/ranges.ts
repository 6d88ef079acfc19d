/**
 * Byte ranges at the edges (half-open [start, end), clamped to the object;
 * a start at the size reads nothing; a start beyond it is InvalidRange naming
 * the object; malformed ranges fail clearly) and empty objects through every
 * operation, ranged reads included.
 */
import type { ByteRange } from '../../drivers/range.js';
import { deleteKeys, expectError, listAll, randomBody, readAll, type Ctx, type Tap } from './helpers.js';

const SIZE = 100;

/** [label, requested range, the concrete range served]. */
const CASES: [string, ByteRange | undefined, [number, number]][] = [
  ['no range: the whole object', undefined, [0, SIZE]],
  ['[0, end)', { start: 0 }, [0, SIZE]],
  ['[0, size)', { start: 0, end: SIZE }, [0, SIZE]],
  ['[0, 1): the first byte', { start: 0, end: 1 }, [0, 1]],
  ['[size-1, size): the last byte', { start: SIZE - 1, end: SIZE }, [SIZE - 1, SIZE]],
  ['[size-1, end)', { start: SIZE - 1 }, [SIZE - 1, SIZE]],
  ['[10, 60): the middle', { start: 10, end: 60 }, [10, 60]],
  ['[50, end)', { start: 50 }, [50, SIZE]],
  ['[90, size+50): clamped to the size', { start: 90, end: SIZE + 50 }, [90, SIZE]],
  ['[0, huge): clamped to the size', { start: 0, end: 2 ** 40 }, [0, SIZE]],
  ['[5, 5): an empty range', { start: 5, end: 5 }, [5, 5]],
  ['[0, 0): an empty range at the start', { start: 0, end: 0 }, [0, 0]],
  ['[size, end): a read at the end', { start: SIZE }, [SIZE, SIZE]],
  ['[size, size+10): a read at the end', { start: SIZE, end: SIZE + 10 }, [SIZE, SIZE]],
];

export async function rangeTests(t: Tap, ctx: Ctx): Promise<void> {
  const key = `${ctx.root}ranges/object`;
  const data = randomBody(SIZE);
  const { etag } = await ctx.backend.put(ctx.bucket, key, data);

  for (const [label, range, [start, end]] of CASES) {
    const got = await ctx.backend.get(ctx.bucket, key, range === undefined ? {} : { range });
    const body = await readAll(got.body);
    t.same(
      { range: got.range, size: got.info.size, etag: got.info.etag, body: body.toString('hex') },
      { range: { start, end }, size: SIZE, etag, body: data.subarray(start, end).toString('hex') },
      `get ${label} serves exactly [${start}, ${end}) and reports the whole object's size`,
    );
  }

  for (const range of [{ start: SIZE + 1 }, { start: SIZE + 1, end: SIZE + 10 }, { start: 2 ** 40 }]) {
    await expectError(t, () => ctx.backend.get(ctx.bucket, key, { range }),
      { kind: 'Other', reason: 'InvalidRange', mentions: key }, `a start beyond the size (${range.start}) is InvalidRange naming the object`);
  }
  const malformed: [string, ByteRange][] = [
    ['a negative start', { start: -1 }],
    ['end before start', { start: 10, end: 4 }],
    ['a fractional start', { start: 1.5 }],
  ];
  for (const [label, range] of malformed) {
    await expectError(t, () => ctx.backend.get(ctx.bucket, key, { range }), { kind: 'Other', reason: 'InvalidRange' }, `${label} is refused`);
  }
  await ctx.backend.delete(ctx.bucket, key);
  await emptyObjectTests(t, ctx);
}

async function emptyObjectTests(t: Tap, ctx: Ctx): Promise<void> {
  const key = `${ctx.root}empty/object`;
  const copy = `${ctx.root}empty/copy`;
  const put = await ctx.backend.put(ctx.bucket, key, Buffer.alloc(0));
  t.ok(put.etag.length > 0 && !put.etag.includes('"'), 'an empty object has an etag without quotes');
  const info = await ctx.backend.head(ctx.bucket, key);
  t.same({ size: info.size, etag: info.etag }, { size: 0, etag: put.etag }, 'head of an empty object: size 0, same etag');

  for (const range of [undefined, { start: 0 }, { start: 0, end: 10 }, { start: 0, end: 0 }]) {
    const got = await ctx.backend.get(ctx.bucket, key, range === undefined ? {} : { range });
    const body = await readAll(got.body);
    t.same({ length: body.length, range: got.range, size: got.info.size }, { length: 0, range: { start: 0, end: 0 }, size: 0 },
      `get ${JSON.stringify(range ?? 'whole')} of an empty object returns nothing`);
  }
  await expectError(t, () => ctx.backend.get(ctx.bucket, key, { range: { start: 1 } }),
    { kind: 'Other', reason: 'InvalidRange', mentions: key }, 'a range starting at 1 of an empty object is InvalidRange');

  await ctx.backend.copy({ bucket: ctx.bucket, key }, { bucket: ctx.bucket, key: copy });
  const copied = await ctx.backend.get(ctx.bucket, copy);
  t.same({ size: copied.info.size, length: (await readAll(copied.body)).length }, { size: 0, length: 0 }, 'a copy of an empty object is empty');

  const listed = await listAll(t, ctx, { prefix: `${ctx.root}empty/` });
  t.same(listed.objects.map((o) => [o.key, o.size]), [[copy, 0], [key, 0]], 'empty objects are listed with size 0');
  await deleteKeys(ctx, [key, copy]);
}
