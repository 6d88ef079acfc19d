/**
 * The reference model the mount is checked against: a few file paths in two
 * directories, each linked to an inode (its bytes), the open handles on those
 * inodes, and what the bucket must hold after a close or fsync. Pure and
 * synchronous; it knows nothing of FUSE or of the bucket.
 *
 * Rules it encodes, from docs/SEMANTICS.md:
 *   - a handle keeps its inode after unlink or rename-over (it is then
 *     detached: readable and writable, never uploaded again);
 *   - fsync uploads the whole file; close uploads it when that descriptor
 *     wrote, or when it is the file's last descriptor; after either, the
 *     object under the file's path holds exactly the file's bytes;
 *   - `dirty` means only "the bucket may differ": a close the model does not
 *     require to upload may still do so.
 */

export const DIRS = ['a', 'b'] as const;
export const NAMES = ['x', 'y', 'z'] as const;
export const PATHS: readonly string[] = DIRS.flatMap((dir) => NAMES.map((name) => `${dir}/${name}`));

export type Errno = 'ENOENT' | 'EEXIST' | 'ENOTEMPTY';

export interface Inode {
  id: number;
  data: Buffer;
  /** Linked under this path; undefined once unlinked or replaced. */
  path: string | undefined;
  /** The path it had last (where a detached file must not reappear). */
  lastPath: string;
  /** Changed since the bucket last received it (or never uploaded). */
  dirty: boolean;
}

export type AccessMode = 'r' | 'w' | 'rw';

export interface OpenFlags {
  mode: AccessMode;
  create: boolean;
  exclusive: boolean;
  truncate: boolean;
  append: boolean;
}

export interface ModelHandle {
  id: number;
  inode: Inode;
  readable: boolean;
  writable: boolean;
  append: boolean;
  /** Wrote, truncated or created the file through this descriptor. */
  wrote: boolean;
}

/** What the bucket must show for a key right after an operation. */
export type Claim = { key: string; data: Buffer } | { key: string; absent: true };

export const dirOf = (path: string): string => path.slice(0, path.indexOf('/'));

export class ReferenceModel {
  readonly dirs = new Set<string>(DIRS);
  readonly files = new Map<string, Inode>();
  /** Open handles, oldest first. */
  readonly handles: ModelHandle[] = [];
  private nextInode = 1;
  private nextHandle = 1;

  /** `stepAround`: known bugs (known-bugs.ts) the commands should not trigger in this run. */
  constructor(readonly stepAround: ReadonlySet<string> = new Set()) {}

  /** The names `readdir(dir)` must list ('' is the run's root). */
  children(dir: string): string[] {
    if (dir === '') return [...this.dirs].sort();
    return [...this.files.keys()].filter((p) => dirOf(p) === dir).map((p) => p.slice(dir.length + 1)).sort();
  }

  handlesOf(inode: Inode): ModelHandle[] {
    return this.handles.filter((h) => h.inode === inode);
  }

  /** The handle at `slot` (modulo the open count), or undefined when none matches. */
  pick(slot: number, want: (h: ModelHandle) => boolean = () => true): ModelHandle | undefined {
    const candidates = this.handles.filter(want);
    return candidates.length === 0 ? undefined : candidates[slot % candidates.length];
  }

  open(path: string, flags: OpenFlags): Errno | ModelHandle {
    if (!this.dirs.has(dirOf(path))) return 'ENOENT';
    let inode = this.files.get(path);
    if (inode !== undefined && flags.create && flags.exclusive) return 'EEXIST';
    if (inode === undefined && !flags.create) return 'ENOENT';
    let wrote = false;
    if (inode === undefined) {
      inode = { id: this.nextInode++, data: Buffer.alloc(0), path, lastPath: path, dirty: true };
      this.files.set(path, inode);
      wrote = true;
    } else if (flags.truncate && flags.mode !== 'r') {
      inode.data = Buffer.alloc(0);
      inode.dirty = true;
      wrote = true;
    }
    const handle: ModelHandle = {
      id: this.nextHandle++, inode, readable: flags.mode !== 'w', writable: flags.mode !== 'r', append: flags.append, wrote,
    };
    this.handles.push(handle);
    return handle;
  }

  /** Writes `data` through `h`; returns the offset it landed at (the end for O_APPEND). */
  write(h: ModelHandle, offset: number, data: Buffer): number {
    const at = h.append ? h.inode.data.length : offset;
    const end = at + data.length;
    const next = Buffer.alloc(Math.max(end, h.inode.data.length));
    h.inode.data.copy(next);
    data.copy(next, at);
    h.inode.data = next;
    h.inode.dirty = true;
    h.wrote = true;
    return at;
  }

  read(h: ModelHandle, offset: number, length: number): Buffer {
    return h.inode.data.subarray(Math.min(offset, h.inode.data.length), Math.min(offset + length, h.inode.data.length));
  }

  truncateHandle(h: ModelHandle, size: number): void {
    resize(h.inode, size);
    h.wrote = true;
  }

  /** truncate(2) by path: a file nobody has open is uploaded at once. */
  truncatePath(path: string, size: number): Errno | Claim[] {
    const inode = this.files.get(path);
    if (inode === undefined) return 'ENOENT';
    resize(inode, size);
    return this.handlesOf(inode).length > 0 ? [] : this.uploaded(inode);
  }

  fsync(h: ModelHandle): Claim[] {
    return this.uploaded(h.inode);
  }

  close(h: ModelHandle): Claim[] {
    this.handles.splice(this.handles.indexOf(h), 1);
    const inode = h.inode;
    if (inode.path === undefined) return this.files.has(inode.lastPath) ? [] : [{ key: inode.lastPath, absent: true }];
    if (h.wrote || !inode.dirty || this.handlesOf(inode).length === 0) return this.uploaded(inode);
    return [];
  }

  unlink(path: string): Errno | Claim[] {
    const inode = this.files.get(path);
    if (inode === undefined) return 'ENOENT';
    this.detach(inode);
    return [{ key: path, absent: true }];
  }

  /** rename(2) of a file. */
  rename(from: string, to: string): Errno | Claim[] {
    const inode = this.files.get(from);
    if (inode === undefined || !this.dirs.has(dirOf(to))) return 'ENOENT';
    if (from === to) return [];
    const replaced = this.files.get(to);
    if (replaced !== undefined) this.detach(replaced);
    this.files.delete(from);
    this.files.set(to, inode);
    inode.path = to;
    inode.lastPath = to;
    // A clean file is copied server-side; a dirty one reaches the bucket at its next upload.
    return inode.dirty ? [{ key: from, absent: true }] : [{ key: from, absent: true }, { key: to, data: inode.data }];
  }

  mkdir(dir: string): Errno | undefined {
    if (this.dirs.has(dir)) return 'EEXIST';
    this.dirs.add(dir);
    return undefined;
  }

  rmdir(dir: string): Errno | undefined {
    if (!this.dirs.has(dir)) return 'ENOENT';
    if (this.children(dir).length > 0) return 'ENOTEMPTY';
    this.dirs.delete(dir);
    return undefined;
  }

  /** Whether another client may replace or delete `path` now (never under open descriptors: see SEMANTICS.md, ESTALE). */
  canChangeOutOfBand(path: string, mustExist: boolean): boolean {
    if (!this.dirs.has(dirOf(path))) return false;
    const inode = this.files.get(path);
    if (inode === undefined) return !mustExist;
    return this.handlesOf(inode).length === 0;
  }

  putOutOfBand(path: string, data: Buffer): void {
    const old = this.files.get(path);
    if (old !== undefined) old.path = undefined;
    this.files.set(path, { id: this.nextInode++, data, path, lastPath: path, dirty: false });
  }

  deleteOutOfBand(path: string): void {
    const inode = this.files.get(path);
    if (inode !== undefined) this.detach(inode);
  }

  private uploaded(inode: Inode): Claim[] {
    if (inode.path === undefined) return [];
    inode.dirty = false;
    return [{ key: inode.path, data: inode.data }];
  }

  private detach(inode: Inode): void {
    if (inode.path !== undefined) this.files.delete(inode.path);
    inode.path = undefined;
  }
}

function resize(inode: Inode, size: number): void {
  const next = Buffer.alloc(size);
  inode.data.copy(next, 0, 0, Math.min(size, inode.data.length));
  inode.data = next;
  inode.dirty = true;
}
