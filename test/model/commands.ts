/**
 * The model test's commands: each does one thing to the mount (or, out of
 * band, to the bucket), does the same to the reference model, and then
 * checks that the two agree (verify.ts). Descriptor commands name a `slot`,
 * resolved at run time among the open descriptors that fit (so shrinking
 * that drops an open keeps the rest meaningful); `toString` shows what the
 * slot resolved to in the last run, which is what a failure report prints.
 */
import type fc from 'fast-check';
import { constants } from 'node:fs';
import { type AccessMode, type ModelHandle, type OpenFlags, type ReferenceModel } from './reference.js';
import { sameBytes, sameOutcome, verifyClaims, verifyHandle, verifyPath, verifyRoot } from './verify.js';
import { KERNEL_CACHE_WAIT_MS, readAt, type RealRun } from './world.js';

export type ModelCommand = fc.AsyncCommand<ReferenceModel, RealRun, false>;

/** At most this many descriptors open at once (more add nothing but run time). */
export const MAX_OPEN = 6;

/** Deterministic bytes for a (seed, size): xorshift32, so a misplaced range shows. */
export function pattern(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (seed | 0) || 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const ACCESS: Record<AccessMode, number> = { r: constants.O_RDONLY, w: constants.O_WRONLY, rw: constants.O_RDWR };

export function openFlags(f: OpenFlags): number {
  return ACCESS[f.mode]
    | (f.create ? constants.O_CREAT : 0)
    | (f.exclusive ? constants.O_EXCL : 0)
    | (f.truncate ? constants.O_TRUNC : 0)
    | (f.append ? constants.O_APPEND : 0);
}

function flagNames(f: OpenFlags): string {
  return [f.mode, f.create && 'creat', f.exclusive && 'excl', f.truncate && 'trunc', f.append && 'append'].filter(Boolean).join('|');
}

export class OpenCommand implements ModelCommand {
  constructor(readonly path: string, readonly flags: OpenFlags) {}
  check = (m: ReferenceModel) => m.handles.length < MAX_OPEN;
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    const outcome = await r.attempt(`open ${this.path}`, () => r.openFile(this.path, openFlags(this.flags)));
    const expected = m.open(this.path, this.flags);
    if (outcome.ok && typeof expected === 'string') await outcome.value.close();
    sameOutcome(`open ${this.path} ${flagNames(this.flags)}`, typeof expected === 'string' ? expected : undefined, outcome);
    if (outcome.ok && typeof expected !== 'string') r.handles.set(expected.id, outcome.value);
    await verifyPath(m, r, this.path);
  }
  toString = () => `open(${this.path}, ${flagNames(this.flags)})`;
}

/** Base of the commands that act through an open descriptor. */
abstract class HandleCommand implements ModelCommand {
  private resolved = '';
  constructor(readonly slot: number) {}
  protected want(_h: ModelHandle): boolean {
    return true;
  }
  check = (m: ReferenceModel) => m.pick(this.slot, (h) => this.want(h)) !== undefined;
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    const h = m.pick(this.slot, (c) => this.want(c));
    if (h === undefined) throw new Error(`${this.toString()}: no descriptor fits (check() passed)`);
    this.resolved = `h${h.id}:${h.inode.path ?? `unlinked ${h.inode.lastPath}`}`;
    await this.act(m, r, h);
  }
  protected abstract act(m: ReferenceModel, r: RealRun, h: ModelHandle): Promise<void>;
  protected abstract label(): string;
  toString = () => `${this.label()}${this.resolved === '' ? '' : ` [${this.resolved}]`}`;
}

export class WriteCommand extends HandleCommand {
  constructor(slot: number, readonly offset: number, readonly size: number, readonly seed: number) {
    super(slot);
  }
  protected override want(h: ModelHandle): boolean {
    return h.writable;
  }
  protected async act(m: ReferenceModel, r: RealRun, h: ModelHandle): Promise<void> {
    const data = pattern(this.seed, this.size);
    const { bytesWritten } = await r.call(`write h${h.id}`, () => r.handle(h.id).write(data, 0, data.length, this.offset));
    if (bytesWritten !== data.length) throw new Error(`write h${h.id}: wrote ${bytesWritten} of ${data.length} bytes`);
    m.write(h, this.offset, data);
    await verifyHandle(m, r, h);
  }
  protected label(): string {
    return `write(#${this.slot}, at ${this.offset}, ${this.size} bytes, seed ${this.seed})`;
  }
}

export class ReadCommand extends HandleCommand {
  constructor(slot: number, readonly offset: number, readonly length: number) {
    super(slot);
  }
  protected override want(h: ModelHandle): boolean {
    return h.readable;
  }
  protected async act(m: ReferenceModel, r: RealRun, h: ModelHandle): Promise<void> {
    const got = await r.call(`read h${h.id}`, () => readAt(r.handle(h.id), this.offset, this.length));
    sameBytes(`read ${this.length} at ${this.offset} through h${h.id}`, m.read(h, this.offset, this.length), got);
  }
  protected label(): string {
    return `read(#${this.slot}, at ${this.offset}, ${this.length} bytes)`;
  }
}

export class FtruncateCommand extends HandleCommand {
  constructor(slot: number, readonly size: number) {
    super(slot);
  }
  protected override want(h: ModelHandle): boolean {
    return h.writable;
  }
  protected async act(m: ReferenceModel, r: RealRun, h: ModelHandle): Promise<void> {
    await r.call(`ftruncate h${h.id}`, () => r.handle(h.id).truncate(this.size));
    m.truncateHandle(h, this.size);
    await verifyHandle(m, r, h);
  }
  protected label(): string {
    return `ftruncate(#${this.slot}, ${this.size})`;
  }
}

export class FsyncCommand extends HandleCommand {
  protected async act(m: ReferenceModel, r: RealRun, h: ModelHandle): Promise<void> {
    await r.call(`fsync h${h.id}`, () => r.handle(h.id).sync());
    await verifyClaims(r, m.fsync(h), `fsync of h${h.id}`);
    await verifyHandle(m, r, h);
  }
  protected label(): string {
    return `fsync(#${this.slot})`;
  }
}

export class CloseCommand extends HandleCommand {
  protected async act(m: ReferenceModel, r: RealRun, h: ModelHandle): Promise<void> {
    const fh = r.handle(h.id);
    r.handles.delete(h.id);
    await r.call(`close h${h.id}`, () => fh.close());
    await verifyClaims(r, m.close(h), `close of h${h.id}`);
    await verifyPath(m, r, h.inode.path ?? h.inode.lastPath);
  }
  protected label(): string {
    return `close(#${this.slot})`;
  }
}

export class TruncatePathCommand implements ModelCommand {
  constructor(readonly path: string, readonly size: number) {}
  check = () => true;
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    const outcome = await r.attempt(`truncate ${this.path}`, () => r.truncate(this.path, this.size));
    const expected = m.truncatePath(this.path, this.size);
    sameOutcome(`truncate ${this.path} ${this.size}`, typeof expected === 'string' ? expected : undefined, outcome);
    if (typeof expected !== 'string') await verifyClaims(r, expected, `truncate ${this.path}`);
    await verifyPath(m, r, this.path);
  }
  toString = () => `truncate(${this.path}, ${this.size})`;
}

/** While the bug is open (known-bugs.ts), no file with open descriptors is unlinked or replaced. */
const keepsOpenFilesLinked = (m: ReferenceModel, path: string): boolean => {
  const inode = m.files.get(path);
  return !m.stepAround.has('unlinkedOpenFile') || inode === undefined || m.handlesOf(inode).length === 0;
};

export class UnlinkCommand implements ModelCommand {
  constructor(readonly path: string) {}
  check = (m: ReferenceModel) => keepsOpenFilesLinked(m, this.path);
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    const outcome = await r.attempt(`unlink ${this.path}`, () => r.unlink(this.path));
    const expected = m.unlink(this.path);
    sameOutcome(`unlink ${this.path}`, typeof expected === 'string' ? expected : undefined, outcome);
    if (typeof expected !== 'string') await verifyClaims(r, expected, `unlink ${this.path}`);
    await verifyPath(m, r, this.path);
  }
  toString = () => `unlink(${this.path})`;
}

export class RenameCommand implements ModelCommand {
  constructor(readonly from: string, readonly to: string) {}
  check = (m: ReferenceModel) => this.from === this.to || keepsOpenFilesLinked(m, this.to);
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    const outcome = await r.attempt(`rename ${this.from} ${this.to}`, () => r.rename(this.from, this.to));
    const expected = m.rename(this.from, this.to);
    sameOutcome(`rename ${this.from} → ${this.to}`, typeof expected === 'string' ? expected : undefined, outcome);
    if (typeof expected !== 'string') await verifyClaims(r, expected, `rename ${this.from} → ${this.to}`);
    await verifyPath(m, r, this.from);
    await verifyPath(m, r, this.to);
  }
  toString = () => `rename(${this.from}, ${this.to})`;
}

export class MkdirCommand implements ModelCommand {
  constructor(readonly dir: string) {}
  check = () => true;
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    const outcome = await r.attempt(`mkdir ${this.dir}`, () => r.mkdir(this.dir));
    sameOutcome(`mkdir ${this.dir}`, m.mkdir(this.dir), outcome);
    await verifyRoot(m, r);
  }
  toString = () => `mkdir(${this.dir})`;
}

export class RmdirCommand implements ModelCommand {
  constructor(readonly dir: string) {}
  check = () => true;
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    const outcome = await r.attempt(`rmdir ${this.dir}`, () => r.rmdir(this.dir));
    sameOutcome(`rmdir ${this.dir}`, m.rmdir(this.dir), outcome);
    await verifyRoot(m, r);
  }
  toString = () => `rmdir(${this.dir})`;
}

/** Another client writes the object; the mount must show it once the kernel's 1 s caches expire (its own TTLs are 0). */
export class PutOutOfBandCommand implements ModelCommand {
  constructor(readonly path: string, readonly size: number, readonly seed: number) {}
  check = (m: ReferenceModel) => m.canChangeOutOfBand(this.path, false);
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    const data = pattern(this.seed, this.size);
    await r.put(this.path, data);
    m.putOutOfBand(this.path, data);
    await new Promise((resolve) => setTimeout(resolve, KERNEL_CACHE_WAIT_MS));
    await verifyPath(m, r, this.path);
  }
  toString = () => `bucket.put(${this.path}, ${this.size} bytes, seed ${this.seed})`;
}

export class DeleteOutOfBandCommand implements ModelCommand {
  constructor(readonly path: string) {}
  check = (m: ReferenceModel) => m.canChangeOutOfBand(this.path, true);
  async run(m: ReferenceModel, r: RealRun): Promise<void> {
    await r.remove(this.path);
    m.deleteOutOfBand(this.path);
    await new Promise((resolve) => setTimeout(resolve, KERNEL_CACHE_WAIT_MS));
    await verifyPath(m, r, this.path);
  }
  toString = () => `bucket.delete(${this.path})`;
}

/** Closes every descriptor a run left open (checking each close), then whether every path's state matches. */
export async function closeEverything(m: ReferenceModel, r: RealRun): Promise<void> {
  while (m.handles.length > 0) await new CloseCommand(0).run(m, r);
  for (const dir of m.dirs) for (const name of m.children(dir)) await verifyPath(m, r, `${dir}/${name}`);
  await verifyRoot(m, r);
}
