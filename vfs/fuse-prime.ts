/**
 * Primed lookups: attributes handed to the FUSE thread ahead of the kernel's
 * LOOKUPs. libfuse 2 has no READDIRPLUS, so after a readdir the kernel asks
 * for every entry by name (`ls -l`, `find`, rsync): each such request
 * crosses from the FUSE thread into the one JS thread and back. Right after
 * a directory was listed, its children's attributes are encoded here and
 * handed to the patched fuse-native (patches/, "primed attributes"), whose
 * getattr answers from them on the FUSE thread, each path once and within
 * the ttl; later requests come to JS as before.
 *
 * What is primed is exactly what getattr would answer at that instant
 * (FileSystem.cachedAttr: fresh cache entries, open files excluded, nothing
 * that --exact-attrs would send to the bucket). Before any operation that may
 * change a name or an attribute the whole table is cleared (clear()), so an
 * answer given on the FUSE thread never predates a change made through the
 * mount; changes made elsewhere show as they do through the kernel's own
 * attribute cache, within the ttl (no longer than attr_timeout).
 */

/** What the patched fuse-native takes: records of (path, stat) and a ttl. */
export interface PrimeTarget {
  prime(records: Buffer, ttlMs: number): void;
  unprime(): void;
}

/** A stat as the adapter hands it to fuse-native (fuse-adapter.ts's toFuseStat): times in ms, 32-bit fields. */
export interface PrimeStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  blocks: number;
  blksize: number;
  atime: number;
  mtime: number;
  ctime: number;
}

/** The stat fields as fuse-native.c's populate_stat reads them: 18 uint32s. */
const STAT_INTS = 18;
const TWO_32 = 4294967296;

/** A directory's children are primed in one call only up to this many (the native table holds 65,536). */
const MAX_PRIMED_PER_CALL = 65_536;

/** Writes `n` (below 2^53) as two uint32s, low first. */
function writeDouble(buf: Buffer, offset: number, n: number): number {
  const low = n % TWO_32;
  buf.writeUInt32LE(low, offset);
  buf.writeUInt32LE((n - low) / TWO_32, offset + 4);
  return offset + 8;
}

/** One record: the path's byte length, the path padded to 4 bytes, then the stat ints in populate_stat's order. */
function writeRecord(buf: Buffer, offset: number, path: string, pathBytes: number, stat: PrimeStat): number {
  buf.writeUInt32LE(pathBytes, offset);
  buf.write(path, offset + 4, 'utf8');
  let at = offset + 4 + pathBytes;
  while (at % 4 !== 0) buf[at++] = 0;
  at = buf.writeUInt32LE(stat.mode, at);
  at = buf.writeUInt32LE(stat.uid, at);
  at = buf.writeUInt32LE(stat.gid, at);
  at = writeDouble(buf, at, stat.size);
  at = buf.writeUInt32LE(0, at); // dev
  at = buf.writeUInt32LE(stat.nlink, at);
  at = buf.writeUInt32LE(stat.ino, at);
  at = buf.writeUInt32LE(0, at); // rdev
  at = buf.writeUInt32LE(stat.blksize, at);
  at = writeDouble(buf, at, stat.blocks);
  at = writeDouble(buf, at, stat.atime);
  at = writeDouble(buf, at, stat.mtime);
  return writeDouble(buf, at, stat.ctime);
}

/** Encodes (path, stat) pairs as the native table's records. */
function encodePrimeRecords(items: { path: string; stat: PrimeStat }[]): Buffer {
  const sizes = items.map((item) => Buffer.byteLength(item.path, 'utf8'));
  let total = 0;
  for (const bytes of sizes) total += 4 + Math.ceil(bytes / 4) * 4 + STAT_INTS * 4;
  const buf = Buffer.allocUnsafe(total);
  let offset = 0;
  items.forEach((item, i) => (offset = writeRecord(buf, offset, item.path, sizes[i]!, item.stat)));
  return buf;
}

export class Primer {
  constructor(
    private readonly target: PrimeTarget,
    /** getattr's answer from the cache right now, as fuse-native takes it, or undefined (FileSystem.cachedAttr). */
    private readonly cachedStat: (path: string) => PrimeStat | undefined,
    private readonly ttlMs: number,
  ) {}

  /** Primes the children `names` of `dir` with what getattr would answer for them now. */
  primeChildren(dir: string, names: readonly string[]): void {
    const items: { path: string; stat: PrimeStat }[] = [];
    const base = dir === '/' ? '/' : `${dir}/`;
    for (const name of names) {
      if (items.length >= MAX_PRIMED_PER_CALL) break;
      const path = base + name;
      const stat = this.cachedStat(path);
      if (stat !== undefined) items.push({ path, stat });
    }
    if (items.length > 0) this.target.prime(encodePrimeRecords(items), this.ttlMs);
  }

  /** Forgets every primed answer: called before any operation that may change what getattr answers. */
  clear(): void {
    this.target.unprime();
  }
}
