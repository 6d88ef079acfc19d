/**
 * Change notifications of the local backend. Writes made through this
 * backend are announced at once, exactly (`emit`). Changes other programs
 * make to the tree are seen through one non-recursive fs.watch (inotify) per
 * directory under the watched prefix, walked with async readdir: Node's own
 * recursive mode watches every file and reads the tree synchronously, which
 * a large bucket cannot afford. The internal directory and links are never
 * watched.
 *
 * Delivery is at least once: a file-system event that repeats an announced
 * write (same key, type and etag, within ECHO_MS) is dropped, but one that
 * arrives before the write's announcement is delivered too. Directory
 * markers are announced only for writes through the backend.
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChangeEvent, Watcher } from '../contract.js';
import type { LocalContext } from './context.js';
import { hasCode } from './failures.js';
import { INTERNAL_DIR, decodeName } from './keys.js';
import type { BucketLayout } from './layout.js';
import { objectInfo, readSidecar } from './sidecar.js';

/** How long an announced write suppresses the file-system echo of itself. */
const ECHO_MS = 2000;
/** Events on one path within this window are checked once: writers emit many 'change' events. */
const SETTLE_MS = 50;

interface Subscriber {
  readonly bucket: string;
  readonly prefix: string;
  readonly onEvent: (event: ChangeEvent) => void;
  readonly tree: TreeWatcher;
}

export class LocalWatchers {
  private readonly subscribers = new Set<Subscriber>();
  private readonly announced = new Map<string, { event: ChangeEvent; at: number }>();

  constructor(private readonly ctx: LocalContext) {}

  /** Announces a write made through the backend. */
  emit(bucket: string, event: ChangeEvent): void {
    if (this.subscribers.size === 0) return;
    this.forget();
    this.announced.set(`${bucket}\0${event.key}`, { event, at: Date.now() });
    for (const s of this.subscribers) if (s.bucket === bucket && event.key.startsWith(s.prefix)) s.onEvent(event);
  }

  async watch(bucket: string, prefix: string, onEvent: (event: ChangeEvent) => void): Promise<Watcher> {
    const layout = await this.ctx.layout(bucket);
    await layout.statBucket();
    const tree = new TreeWatcher(layout, prefix, (event) => {
      if (!this.isEcho(bucket, event)) onEvent(event);
    });
    const subscriber: Subscriber = { bucket, prefix, onEvent, tree };
    this.subscribers.add(subscriber);
    try {
      await tree.start();
    } catch (e) {
      this.subscribers.delete(subscriber);
      tree.close();
      throw e;
    }
    return {
      close: async () => {
        this.subscribers.delete(subscriber);
        tree.close();
      },
    };
  }

  async closeAll(): Promise<void> {
    for (const s of this.subscribers) s.tree.close();
    this.subscribers.clear();
  }

  private isEcho(bucket: string, event: ChangeEvent): boolean {
    const seen = this.announced.get(`${bucket}\0${event.key}`);
    if (seen === undefined || Date.now() - seen.at > ECHO_MS) return false;
    return seen.event.type === event.type && (event.type === 'delete' || seen.event.etag === event.etag);
  }

  private forget(): void {
    const now = Date.now();
    for (const [id, seen] of this.announced) if (now - seen.at > ECHO_MS) this.announced.delete(id);
  }
}

/** The directory watchers of one subscription. */
class TreeWatcher {
  private readonly dirs = new Map<string, { watcher: FSWatcher; keyPrefix: string }>();
  private readonly pending = new Set<string>();
  private closed = false;

  constructor(
    private readonly layout: BucketLayout,
    private readonly prefix: string,
    private readonly deliver: (event: ChangeEvent) => void,
  ) {}

  start(): Promise<void> {
    return this.addDir(this.layout.dir, '', false);
  }

  close(): void {
    this.closed = true;
    for (const { watcher } of this.dirs.values()) watcher.close();
    this.dirs.clear();
  }

  /** Whether keys under `dirKey` can match the prefix. */
  private relevant(dirKey: string): boolean {
    return dirKey.startsWith(this.prefix) || this.prefix.startsWith(dirKey);
  }

  /**
   * Watches `dir` and the relevant directories below it; `announce`: report
   * files already there (a new directory). Failing to watch (inotify limits)
   * throws, so `watch` fails loudly rather than miss changes.
   */
  private async addDir(dir: string, keyPrefix: string, announce: boolean): Promise<void> {
    if (this.closed || this.dirs.has(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false, encoding: 'utf8' }, (_type, name) => {
        if (name !== null) this.schedule(dir, keyPrefix, name);
      });
    } catch (e) {
      if (hasCode(e, 'ENOENT', 'ENOTDIR')) return; // vanished already
      throw e;
    }
    watcher.on('error', () => this.removeDir(dir));
    this.dirs.set(dir, { watcher, keyPrefix });
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (announce) this.schedule(dir, keyPrefix, name);
      else await this.check(dir, keyPrefix, name, false);
    }
  }

  private removeDir(dir: string): void {
    for (const [path, { watcher }] of this.dirs) {
      if (path === dir || path.startsWith(`${dir}/`)) {
        watcher.close();
        this.dirs.delete(path);
      }
    }
  }

  private schedule(dir: string, keyPrefix: string, name: string): void {
    const path = join(dir, name);
    if (this.pending.has(path)) return;
    this.pending.add(path);
    setTimeout(() => {
      this.pending.delete(path);
      this.check(dir, keyPrefix, name, true).catch(() => undefined);
    }, SETTLE_MS).unref();
  }

  /** Looks at one entry after an event: a file is a put, a missing non-directory a delete, a directory gets watched. */
  private async check(dir: string, keyPrefix: string, name: string, report: boolean): Promise<void> {
    // U+FFFD: the name was not UTF-8, so no key names it.
    if (this.closed || name.includes('\uFFFD') || (dir === this.layout.dir && name === INTERNAL_DIR)) return;
    const segment = await this.segmentOf(name);
    if (segment === undefined) return;
    const key = keyPrefix + segment;
    const path = join(dir, name);
    const stat = await lstat(path, { bigint: true }).catch(() => undefined);
    if (stat === undefined) {
      if (this.dirs.has(path)) this.removeDir(path);
      else if (report && key.startsWith(this.prefix)) this.deliver({ type: 'delete', key });
    } else if (stat.isDirectory()) {
      if (this.relevant(`${key}/`)) await this.addDir(path, `${key}/`, report);
    } else if (stat.isFile() && report && key.startsWith(this.prefix)) {
      const record = await readSidecar(this.layout, key, stat, false);
      const info = objectInfo(key, stat, record, false);
      this.deliver({ type: 'put', key, etag: info.etag, size: info.size });
    }
  }

  private async segmentOf(name: string): Promise<string | undefined> {
    const decoded = decodeName(name);
    if (decoded.kind === 'segment') return decoded.segment;
    if (decoded.kind === 'hashed') return this.layout.lookupName(decoded.hash);
    return undefined;
  }
}
