/**
 * The real side of the model test: one bucketfs daemon (a child process, by
 * test/mount/harness.ts) mounted with every TTL at 0, the same bucket opened
 * directly through the driver for out-of-band changes and for checking what
 * a close or fsync left there, and one fresh directory per run (`run-N/`
 * with `a/` and `b/`) so runs never see each other's files.
 *
 * Every call onto the mount is asynchronous (fs/promises: the libuv thread
 * pool, never this thread) and bounded by a timeout; a call that hangs kills
 * the daemon (which fails the hung calls with ENOTCONN and frees the pool's
 * threads), and the next run mounts again.
 */
import { mkdir, open, readdir, readFile, rename, rmdir, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isStorageError } from '../../drivers/errors.js';
import { openRemote, type Remote } from '../../drivers/remote.js';
import { mount, type Mounted } from '../mount/harness.js';
import { DIRS } from './reference.js';

/** Longest any single call onto the mount may take: an 11 MiB upload to a loaded RGW fits many times over. */
const CALL_TIMEOUT_MS = 60_000;
/** Past the kernel's 1 s entry/attribute timeouts, so out-of-band changes are visible (the mount's own TTLs are 0). */
export const KERNEL_CACHE_WAIT_MS = 1_100;

export const MOUNT_ARGS = ['--attr-ttl', '0', '--dir-ttl', '0', '--negative-ttl', '0'];

export class HungCall extends Error {
  override name = 'HungCall';
}

export interface Target {
  name: string;
  remote: string;
  env: Record<string, string>;
}

/** One daemon for many runs; mounted again after a hang killed it or it died. */
export class MountSession {
  private mounted: Mounted | undefined;
  private storage: Remote | undefined;
  private runs = 0;
  /** How the current daemon ended, once it did (this session stops it only through hung() and close()). */
  private death: string | undefined;

  constructor(readonly target: Target) {}

  async bucket(): Promise<Remote> {
    this.storage ??= await openRemote(this.target.remote, { env: this.target.env });
    return this.storage;
  }

  /** A fresh run directory on a live mount. */
  async newRun(): Promise<RealRun> {
    const mounted = await this.live();
    const name = `run-${++this.runs}`;
    const run = new RealRun(this, mounted, name, await this.bucket());
    await run.call(`mkdir ${name}`, async () => {
      await mkdir(run.path(''));
      for (const dir of DIRS) await mkdir(run.path(dir));
    });
    return run;
  }

  private async live(): Promise<Mounted> {
    if (this.mounted !== undefined && this.death === undefined) return this.mounted;
    await this.mounted?.kill9();
    this.death = undefined;
    const m = await mount(this.target.remote, { env: this.target.env, args: MOUNT_ARGS });
    this.mounted = m;
    void m.exit.then(({ code, signal }) => {
      if (this.mounted === m) this.death = `the daemon died (${signal ?? `exit code ${code}`}); its log ends:\n${m.stderr().slice(-3000)}`;
    });
    return m;
  }

  /** Why the daemon is gone, if it died on its own during a run. */
  daemonDeath(): string | undefined {
    return this.death;
  }

  /** Kills a daemon that stopped answering; hung calls then fail and the next run mounts again. */
  async hung(): Promise<void> {
    const m = this.mounted;
    this.mounted = undefined;
    await m?.kill9();
  }

  daemonLog(): string {
    return this.mounted?.stderr() ?? '';
  }

  async close(): Promise<void> {
    const m = this.mounted;
    this.mounted = undefined;
    await m?.unmount();
    await this.storage?.close();
    this.storage = undefined;
  }
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

/** One run's directory on the mount, its open descriptors, and the bucket under its prefix. */
export class RealRun {
  readonly handles = new Map<number, FileHandle>();

  constructor(readonly session: MountSession, readonly mounted: Mounted, readonly name: string, readonly storage: Remote) {}

  path(relative: string): string {
    return relative === '' ? join(this.mounted.dir, this.name) : join(this.mounted.dir, this.name, relative);
  }

  key(relative: string): string {
    return `${this.storage.prefix}${this.name}/${relative}`;
  }

  /** Runs `work` against the mount with a timeout; a hang kills the daemon and throws HungCall. */
  async call<T>(what: string, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HungCall(`${what}: no answer from the mount in ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
    });
    try {
      return await Promise.race([work(), timeout]);
    } catch (error) {
      if (error instanceof HungCall) await this.session.hung();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Like call(), but an errno from the file system is an outcome, not an exception. */
  async attempt<T>(what: string, work: () => Promise<T>): Promise<Outcome<T>> {
    try {
      return { ok: true, value: await this.call(what, work) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (error instanceof HungCall || typeof code !== 'string') throw error;
      return { ok: false, code };
    }
  }

  handle(id: number): FileHandle {
    const fh = this.handles.get(id);
    if (fh === undefined) throw new Error(`descriptor of model handle ${id} is not open`);
    return fh;
  }

  openFile = (relative: string, flags: number) => open(this.path(relative), flags, 0o644);
  stat = (relative: string) => stat(this.path(relative));
  readFile = (relative: string) => readFile(this.path(relative));
  readdir = (relative: string) => readdir(this.path(relative));
  unlink = (relative: string) => unlink(this.path(relative));
  rename = (from: string, to: string) => rename(this.path(from), this.path(to));
  mkdir = (relative: string) => mkdir(this.path(relative));
  rmdir = (relative: string) => rmdir(this.path(relative));
  truncate = (relative: string, size: number) => truncate(this.path(relative), size);

  /** The object under `relative` as the bucket has it, or undefined when there is none. */
  async objectAt(relative: string): Promise<Buffer | undefined> {
    const key = this.key(relative);
    try {
      const info = await this.storage.container.head(key);
      return await this.storage.container.getRange(key, { start: 0, end: info.size });
    } catch (error) {
      if (isStorageError(error, 'NotFound')) return undefined;
      throw error;
    }
  }

  /** Every file object under this run's prefix (directory markers left out). */
  async objects(): Promise<Map<string, Buffer>> {
    const prefix = this.key('');
    const found = new Map<string, Buffer>();
    for await (const page of this.storage.container.pages({ prefix })) {
      for (const info of page.objects) {
        if (info.key.endsWith('/')) continue;
        const relative = info.key.slice(prefix.length);
        found.set(relative, await this.storage.container.getRange(info.key, { start: 0, end: info.size }));
      }
    }
    return found;
  }

  put(relative: string, data: Buffer): Promise<unknown> {
    return this.storage.container.put(this.key(relative), data);
  }

  remove(relative: string): Promise<void> {
    return this.storage.container.deleteObject(this.key(relative));
  }

  /** Reads a whole file through an open descriptor; one byte past `size` is asked for, so extra bytes show. */
  async readThrough(fh: FileHandle, size: number): Promise<Buffer> {
    return readAt(fh, 0, size + 1);
  }

  /** Closes whatever descriptors a run left open (after a failure: errors ignored, hangs bounded). */
  async closeAll(): Promise<void> {
    const open = [...this.handles.values()];
    this.handles.clear();
    for (const fh of open) await this.call('close (cleanup)', () => fh.close()).catch(() => undefined);
  }
}

/** pread until `length` bytes or end of file. */
export async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buffer, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buffer.subarray(0, got);
}
