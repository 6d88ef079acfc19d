/**
 * Where one bucket's things are on disk, and the checks that keep every
 * access inside it:
 *   <root>/<bucket>/                 the bucket; key `a/b` is the file `a/b`
 *   <root>/<bucket>/.bucketfs/meta/  sidecars (sidecar.ts)
 *                  /.bucketfs/tmp/   temp files, renamed into place when complete
 *                  /.bucketfs/uploads/<id>/  multipart state (multipart.ts)
 *                  /.bucketfs/names/<sha256>  segments too long for a file name
 *
 * Symbolic links are never followed: a key's parent directory must resolve
 * (realpath) to exactly its own path, files are opened with O_NOFOLLOW, and
 * directories are created one level at a time, each checked with lstat. The
 * residual window (a link swapped in between check and use by another
 * process) needs openat2(RESOLVE_BENEATH), which Node does not offer.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, mkdir, opendir, readdir, realpath, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OtherError } from '../errors.js';
import { fsFailure, hasCode, keyConflict, noSuchBucket, symlinkRefused } from './failures.js';
import { readJson, writeJsonAtomic } from './fsio.js';
import { INTERNAL_DIR, describeKey, sha256Hex } from './keys.js';
import type { KeyPath } from './keys.js';

/** Temp files older than this are leftovers of a crashed process (no write takes a day). */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/** Directories held by a write in flight (LocalContext.holdFresh). */
export interface DirHold {
  /** Registers a directory about to be made. */
  add(dir: string): void;
  /** Notes that a registered directory was made (not found existing). */
  made(dir: string): void;
  /** How many directories this hold made. */
  readonly madeCount: number;
  /** Idempotent. */
  release(): void;
}

export class BucketLayout {
  readonly dir: string;
  readonly internalDir: string;
  readonly metaDir: string;
  readonly tmpDir: string;
  readonly uploadsDir: string;
  readonly namesDir: string;
  private ready: Promise<void> | undefined;
  private internalReal = false;

  constructor(
    readonly root: string,
    readonly bucket: string,
  ) {
    this.dir = join(root, bucket);
    this.internalDir = join(this.dir, INTERNAL_DIR);
    this.metaDir = join(this.internalDir, 'meta');
    this.tmpDir = join(this.internalDir, 'tmp');
    this.uploadsDir = join(this.internalDir, 'uploads');
    this.namesDir = join(this.internalDir, 'names');
  }

  what(key?: string): string {
    return key === undefined ? `file://${this.dir}` : describeKey(this.root, this.bucket, key);
  }

  /** The directory holding `kp` and the key's own path (a marker's path is its directory). */
  pathOf(kp: KeyPath): { parent: string; path: string } {
    if (kp.marker) {
      const path = join(this.dir, ...kp.dirNames);
      return { parent: join(this.dir, ...kp.dirNames.slice(0, -1)), path };
    }
    const parent = join(this.dir, ...kp.dirNames);
    return { parent, path: join(parent, kp.leafName ?? '') };
  }

  /** The bucket directory's stat; NoSuchBucket when it is missing or not a real directory. */
  async statBucket(): Promise<BigIntStats> {
    try {
      const st = await lstat(this.dir, { bigint: true });
      if (st.isDirectory()) return st;
    } catch (e) {
      if (!hasCode(e, 'ENOENT', 'ENOTDIR')) throw fsFailure(e, this.what());
    }
    throw noSuchBucket(this.what());
  }

  /** Creates the internal directories once per process (and again after `invalidate`). */
  async ensureInternal(): Promise<void> {
    this.ready ??= this.createInternal().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  /** Forgets that the internal directories exist (the bucket was deleted). */
  invalidate(): void {
    this.ready = undefined;
    this.internalReal = false;
  }

  /**
   * True when the internal directory exists and is a real directory. Readers
   * of internal state check this first: state behind a planted link is
   * treated as absent, so it is never read.
   */
  async internalIsReal(): Promise<boolean> {
    if (this.internalReal) return true;
    const stat = await lstat(this.internalDir).catch(() => undefined);
    this.internalReal = stat?.isDirectory() === true;
    return this.internalReal;
  }

  private async createInternal(): Promise<void> {
    await this.statBucket();
    await this.makeRealDir(this.internalDir);
    await Promise.all([this.metaDir, this.tmpDir, this.uploadsDir, this.namesDir].map((d) => this.makeRealDir(d)));
    this.internalReal = true;
    await this.removeStaleTemps();
  }

  /** mkdir that accepts an existing real directory and refuses anything else (a link above all). */
  private async makeRealDir(path: string): Promise<void> {
    try {
      await mkdir(path);
      return;
    } catch (e) {
      if (!hasCode(e, 'EEXIST')) throw fsFailure(e, this.what());
    }
    const st = await lstat(path);
    if (st.isSymbolicLink()) throw symlinkRefused(this.what(), path);
    if (!st.isDirectory()) {
      throw new OtherError(`${path} must be a directory: it holds the local backend's state`, { reason: 'BadLayout' });
    }
  }

  private async removeStaleTemps(): Promise<void> {
    const now = Date.now();
    for (const name of await readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      const st = await lstat(path).catch(() => undefined);
      if (st !== undefined && now - st.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true, recursive: true });
    }
  }

  /** Records the full text of segments stored under hashed names, so listings can show them. */
  async recordNames(segments: readonly string[]): Promise<void> {
    for (const segment of segments) {
      const path = join(this.namesDir, sha256Hex(segment));
      if ((await readJson(path)) === segment) continue;
      await writeJsonAtomic(this.tmpDir, path, segment);
    }
  }

  /** The segment stored under a hashed name, checked against its hash. */
  async lookupName(hash: string): Promise<string | undefined> {
    if (!(await this.internalIsReal())) return undefined;
    const value = await readJson(join(this.namesDir, hash));
    return typeof value === 'string' && sha256Hex(value) === hash ? value : undefined;
  }

  /** True when `dir` exists and resolves to itself: no link anywhere on the way. */
  async isRealDir(dir: string): Promise<boolean> {
    try {
      return (await realpath(dir)) === dir && (await stat(dir)).isDirectory();
    } catch (e) {
      if (hasCode(e, 'ENOENT', 'ENOTDIR', 'ELOOP')) return false;
      throw fsFailure(e, dir);
    }
  }

  /**
   * Creates the directories `names` (below the bucket) one level at a time,
   * never through a link. Each directory it may create is registered with
   * `hold` before the mkdir, so no other operation ever sees it unheld and
   * empty, and reported as made when it was. A file where a directory is
   * needed is a key conflict.
   */
  async makeDirs(names: readonly string[], what: string, hold: DirHold): Promise<void> {
    const target = join(this.dir, ...names);
    if (await this.isRealDir(target)) return;
    let path = this.dir;
    await this.statBucket();
    for (const name of names) {
      path = join(path, name);
      await this.makeOneDir(path, what, hold);
    }
  }

  private async makeOneDir(path: string, what: string, hold: DirHold): Promise<void> {
    hold.add(path);
    try {
      await mkdir(path);
      hold.made(path);
      return;
    } catch (e) {
      if (hasCode(e, 'ENOTDIR')) throw keyConflict(what, `a parent of ${path} is a file`, e);
      if (hasCode(e, 'ENOENT')) throw noSuchBucket(this.what(), e);
      if (!hasCode(e, 'EEXIST')) throw fsFailure(e, what);
    }
    const st = await lstat(path);
    if (st.isSymbolicLink()) throw symlinkRefused(what, path);
    if (!st.isDirectory()) throw keyConflict(what, `${path} is a file, not a directory`);
  }

  /** True when `dir` holds no entries at all. */
  async isEmptyDir(dir: string): Promise<boolean> {
    const handle = await opendir(dir, { bufferSize: 1 });
    try {
      return (await handle.read()) === null;
    } finally {
      await handle.close().catch(() => undefined);
    }
  }
}
