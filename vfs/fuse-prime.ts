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
 * that --exact-attrs would send to the bucket): after a readdir, the
 * attributes it returned for the names it marks current (Listing.current),
 * without asking again; after other listings, cachedAttr's answer per name.
 * Before any operation that may change a name or an attribute the whole
 * table is cleared (clear()), and attributes read before a clear are not
 * primed (mark), so an answer given on the FUSE thread never predates a
 * change made through the mount; changes made elsewhere show as they do
 * through the kernel's own attribute cache, within the ttl (no longer than
 * attr_timeout).
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

/**
 * Encodes (path, stat) pairs as the native table's records: the path's byte
 * length, the path padded to 4 bytes, then the stat ints in populate_stat's
 * order (64-bit values as two uint32s, low first). Written through one
 * Uint32Array over the buffer (records stay 4-byte aligned): a listing
 * primes tens of thousands at once.
 */
export function encodePrimeRecords(paths: readonly string[], stats: readonly PrimeStat[]): Buffer {
  const sizes = paths.map(utf8Length);
  let total = 0;
  for (const bytes of sizes) total += 4 + ((bytes + 3) & ~3) + STAT_INTS * 4;
  const buf = Buffer.alloc(total);
  const ints = new Uint32Array(buf.buffer, buf.byteOffset, total / 4);
  let at = 0;
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i]!;
    const bytes = sizes[i]!;
    const stat = stats[i]!;
    ints[at] = bytes;
    writePath(buf, at * 4 + 4, path, bytes);
    at += 1 + ((bytes + 3) >> 2);
    ints[at] = stat.mode;
    ints[at + 1] = stat.uid;
    ints[at + 2] = stat.gid;
    at = writeDouble(ints, at + 3, stat.size);
    ints[at] = 0; // dev
    ints[at + 1] = stat.nlink;
    ints[at + 2] = stat.ino;
    ints[at + 3] = 0; // rdev
    ints[at + 4] = stat.blksize;
    at = writeDouble(ints, at + 5, stat.blocks);
    at = writeDouble(ints, at, stat.atime);
    at = writeDouble(ints, at, stat.mtime);
    at = writeDouble(ints, at, stat.ctime);
  }
  return buf;
}

/*
 * Paths are mostly ASCII: their bytes are their char codes, copied here
 * without a call into the runtime per path (Buffer.byteLength and
 * Buffer.write cost about a microsecond each, a profiled tenth of `ls -l`).
 */

function isAscii(path: string): boolean {
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) > 0x7f) return false;
  return true;
}

function utf8Length(path: string): number {
  return isAscii(path) ? path.length : Buffer.byteLength(path, 'utf8');
}

function writePath(buf: Buffer, offset: number, path: string, bytes: number): void {
  if (bytes !== path.length) {
    buf.write(path, offset, bytes, 'utf8');
    return;
  }
  for (let i = 0; i < bytes; i++) buf[offset + i] = path.charCodeAt(i);
}

/** Writes `n` (below 2^53) at `at` as two uint32s, low first; returns the index after them. */
function writeDouble(ints: Uint32Array, at: number, n: number): number {
  const low = n % TWO_32;
  ints[at] = low;
  ints[at + 1] = (n - low) / TWO_32;
  return at + 2;
}

export class Primer {
  /** Counts clear()s: attributes read before a clear may predate a change and are not primed. */
  private clears = 0;

  constructor(
    private readonly target: PrimeTarget,
    /** getattr's answer from the cache right now, as fuse-native takes it, or undefined (FileSystem.cachedAttr). */
    private readonly cachedStat: (path: string) => PrimeStat | undefined,
    private readonly ttlMs: number,
  ) {}

  /** A mark to pass to prime(): taken before the attributes are read. */
  get mark(): number {
    return this.clears;
  }

  /**
   * Primes the children of `dir` a listing showed: each name with its stat
   * in `stats` when the listing marks it current, as read since `mark`
   * (this.mark; nothing when a clear() came in between); without such marks,
   * with what cachedStat answers for it now.
   */
  prime(dir: string, listing: { names: readonly string[]; current?: readonly boolean[] }, stats: readonly PrimeStat[], mark: number): void {
    const { names, current } = listing;
    if (current !== undefined && mark !== this.clears) return;
    const base = dir === '/' ? '/' : `${dir}/`;
    const paths: string[] = [];
    const kept: PrimeStat[] = [];
    for (let i = 0; i < names.length && paths.length < MAX_PRIMED_PER_CALL; i++) {
      const path = base + names[i]!;
      const stat = current === undefined ? this.cachedStat(path) : current[i] ? stats[i] : undefined;
      if (stat === undefined) continue;
      paths.push(path);
      kept.push(stat);
    }
    if (paths.length > 0) this.target.prime(encodePrimeRecords(paths, kept), this.ttlMs);
  }

  /** Forgets every primed answer: called before any operation that may change what getattr answers. */
  clear(): void {
    this.clears++;
    this.target.unprime();
  }
}
