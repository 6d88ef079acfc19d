/**
 * The primed records as fuse-native.c reads them: decoded here field by
 * field, for ASCII and non-ASCII paths and 64-bit values.
 */
import t from 'tap';
import { encodePrimeRecords, type PrimeStat } from '../../vfs/fuse-prime.js';

function decode(buf: Buffer): { path: string; ints: number[] }[] {
  const records: { path: string; ints: number[] }[] = [];
  for (let at = 0; at < buf.length;) {
    const bytes = buf.readUInt32LE(at);
    const path = buf.toString('utf8', at + 4, at + 4 + bytes);
    t.ok(buf.subarray(at + 4 + bytes, at + 4 + ((bytes + 3) & ~3)).every((b) => b === 0), `${path}: padding is zero`);
    at += 4 + ((bytes + 3) & ~3);
    const ints: number[] = [];
    for (let i = 0; i < 18; i++, at += 4) ints.push(buf.readUInt32LE(at));
    records.push({ path, ints });
  }
  return records;
}

const stat = (n: number): PrimeStat => ({
  mode: 0o100644, uid: 1000 + n, gid: 2000 + n, size: 2 ** 40 + n, nlink: 1, ino: 4_000_000_000 + n,
  blocks: 2 ** 33 + n, blksize: 131072, atime: 1_700_000_000_123 + n, mtime: 1_600_000_000_456 + n, ctime: 5 + n,
});

const split = (n: number) => [n % 2 ** 32, Math.floor(n / 2 ** 32)];

t.test('records decode to the paths and stats given', async (t) => {
  const paths = ['/a', '/dir/abc', '/dir/é-ü', '/dir/\u{1F600}', '/dir/wxyz', `/${'x'.repeat(255)}`, '/dir/日本語'];
  const stats = paths.map((_, i) => stat(i));
  const records = decode(encodePrimeRecords(paths, stats));
  t.same(records.map((r) => r.path), paths);
  records.forEach(({ ints }, i) => {
    const s = stats[i]!;
    t.same(ints, [s.mode, s.uid, s.gid, ...split(s.size), 0, s.nlink, s.ino, 0, s.blksize,
      ...split(s.blocks), ...split(s.atime), ...split(s.mtime), ...split(s.ctime)], paths[i]!);
  });
});

t.test('no paths: an empty buffer', async (t) => {
  t.equal(encodePrimeRecords([], []).length, 0);
});
