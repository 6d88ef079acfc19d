/**
 * The namespace's view of open files: which handles belong to which path,
 * and the attributes and full metadata the file's next upload will carry
 * (changed by writes, chmod, chown, utimens, setxattr while it is open).
 * getattr of an open file answers from here. The bytes are the data path's.
 */
import type { Metadata } from '../../drivers/contract.js';
import { isWithin, rebase } from '../../cache/metadata/paths.js';
import type { PosixAttrs } from '../object-format.js';

export interface OpenFile {
  path: string;
  /** The inode number stat shows, kept for fstat once the name is gone. */
  ino: number;
  key: string;
  attrs: PosixAttrs;
  /** Full user metadata for the next upload: POSIX attributes, xattrs, and foreign entries kept. */
  metadata: Metadata;
  contentType: string | undefined;
  handles: Set<number>;
  /** The path was unlinked while open: handles keep working, the namespace forgets it. */
  unlinked: boolean;
}

export class OpenFiles {
  private readonly byPath = new Map<string, OpenFile>();
  private readonly byHandle = new Map<number, OpenFile>();

  get(path: string): OpenFile | undefined {
    return this.byPath.get(path);
  }

  handle(fh: number): OpenFile | undefined {
    return this.byHandle.get(fh);
  }

  /** Registers handle `fh` on `file` (the path's existing record, if any, is shared). */
  add(fh: number, file: Omit<OpenFile, 'handles' | 'unlinked'>): OpenFile {
    let open = this.byPath.get(file.path);
    if (open === undefined) {
      open = { ...file, handles: new Set(), unlinked: false };
      this.byPath.set(file.path, open);
    }
    open.handles.add(fh);
    this.byHandle.set(fh, open);
    return open;
  }

  /** Forgets handle `fh`; returns its file and whether it was the last handle. */
  remove(fh: number): { file: OpenFile; last: boolean } | undefined {
    const file = this.byHandle.get(fh);
    if (file === undefined) return undefined;
    this.byHandle.delete(fh);
    file.handles.delete(fh);
    const last = file.handles.size === 0;
    if (last && this.byPath.get(file.path) === file) this.byPath.delete(file.path);
    return { file, last };
  }

  /** The path was unlinked: its record leaves the path table (handles stay valid). */
  detach(path: string): OpenFile | undefined {
    const file = this.byPath.get(path);
    if (file === undefined) return undefined;
    file.unlinked = true;
    this.byPath.delete(path);
    return file;
  }

  /** Open files at `dir` or below it. */
  under(dir: string): OpenFile[] {
    return [...this.byPath.values()].filter((f) => isWithin(f.path, dir));
  }

  /** Moves the open file at `from` (not below: see moveTree) to `to`. */
  move(from: string, to: string, toKey: string): OpenFile | undefined {
    const file = this.byPath.get(from);
    if (file === undefined) return undefined;
    this.byPath.delete(from);
    this.detach(to);
    file.path = to;
    file.key = toKey;
    this.byPath.set(to, file);
    return file;
  }

  /** Moves every open file below `from` to the same place below `to`; returns [oldPath, file] pairs. */
  moveTree(from: string, to: string, keyOf: (path: string) => string): [string, OpenFile][] {
    const moved: [string, OpenFile][] = [];
    for (const file of this.under(from)) {
      const oldPath = file.path;
      this.move(oldPath, rebase(oldPath, from, to), keyOf(rebase(oldPath, from, to)));
      moved.push([oldPath, file]);
    }
    return moved;
  }

  get size(): number {
    return this.byHandle.size;
  }
}
