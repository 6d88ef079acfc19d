/**
 * Directory listings: one paged LIST (delimiter '/', 1,000 per page) fills
 * the attributes of every child, so `ls -l` of N entries costs ⌈N/1000⌉
 * requests and no HEAD. Each page is merged into the metadata store in one
 * transaction as it arrives; when the last page is in, children the listing
 * did not show are dropped. Concurrent listings of one directory share one.
 *
 * Keys that cannot be file names (`a//b`, `.`/`..` segments, segments over
 * 255 bytes) are skipped with one warning per key per mount; an object `f`
 * beside keys under `f/` is hidden (the directory wins, one warning).
 * With --exact-attrs, children known only from the listing are then HEADed,
 * 16 at a time.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { ListPage, ObjectInfo } from '../../drivers/contract.js';
import { nameOf } from '../../cache/metadata/paths.js';
import type { ListedChild } from '../../cache/metadata/types.js';
import { FOLDER_SUFFIX } from '../object-format.js';
import { headFields, implicitDirFields, listedFileFields, msToNs } from './attrs.js';
import type { NamespaceContext } from './context.js';
import { invalidNameReason } from './keys.js';
import { headOrAbsent } from './remote.js';

/** S3's page size: the most a LIST returns. */
const PAGE_SIZE = 1000;
/** HEADs in flight at once for --exact-attrs. */
const HEAD_CONCURRENCY = 16;

/** Names of one listing pass, to let a directory win over a file of the same name across pages. */
interface ListingPass {
  dir: string;
  prefix: string;
  generation: number;
  dirNames: Set<string>;
  fileNames: Set<string>;
  /** The directory's own marker (`dir/`) was listed. */
  markerSeen: boolean;
}

export class Lister {
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(private readonly ctx: NamespaceContext) {}

  /** Lists `dir` into the store (shared with any listing of it already running). */
  refresh(dir: string): Promise<void> {
    let pending = this.inflight.get(dir);
    if (pending === undefined) {
      pending = this.run(dir).finally(() => this.inflight.delete(dir));
      this.inflight.set(dir, pending);
    }
    return pending;
  }

  private async run(dir: string): Promise<void> {
    const { store, container, keys } = this.ctx;
    const startedAt = this.ctx.now();
    const pass: ListingPass = {
      dir, prefix: keys.dirKey(dir), generation: store.beginListing(), dirNames: new Set(), fileNames: new Set(), markerSeen: false,
    };
    for await (const page of container.pages({ prefix: pass.prefix, delimiter: '/', pageSize: PAGE_SIZE })) {
      store.applyListingPage(dir, pass.generation, this.childrenOf(page, pass));
      // A backend answering from memory never waits: let other FUSE operations in between pages.
      await yieldToEventLoop();
    }
    store.finishListing(dir, pass.generation, startedAt);
    // A complete listing knows whether the marker exists (it may have been removed elsewhere).
    const entry = store.get(dir);
    if (entry !== undefined && entry.marker !== pass.markerSeen && pass.prefix !== '') store.update(dir, { marker: pass.markerSeen });
    if (this.ctx.options.exactAttrs) await this.headListedChildren(dir);
  }

  private childrenOf(page: ListPage, pass: ListingPass): ListedChild[] {
    const now = this.ctx.now();
    const children: ListedChild[] = [];
    for (const object of page.objects) {
      const child = this.objectChild(object, pass, now);
      if (child !== undefined) children.push(child);
    }
    for (const prefix of page.prefixes) {
      const name = prefix.slice(pass.prefix.length, -1);
      if (this.acceptDir(name, prefix, pass)) children.push({ name, fields: implicitDirFields(this.ctx.options, now, msToNs(now)) });
    }
    return children;
  }

  private objectChild(object: ObjectInfo, pass: ListingPass, now: number): ListedChild | undefined {
    const name = object.key.slice(pass.prefix.length);
    if (name === '') {
      pass.markerSeen = true;
      return undefined;
    }
    if (name.endsWith(FOLDER_SUFFIX) && object.size === 0) {
      const dirName = name.slice(0, -FOLDER_SUFFIX.length);
      if (!this.acceptDir(dirName, object.key, pass)) return undefined;
      return { name: dirName, fields: implicitDirFields(this.ctx.options, now, msToNs(object.lastModified.getTime())) };
    }
    if (!this.acceptName(name, object.key)) return undefined;
    if (pass.dirNames.has(name)) {
      this.warnShadowed(object.key, pass);
      return undefined;
    }
    pass.fileNames.add(name);
    return { name, fields: listedFileFields(object, this.ctx.options, now) };
  }

  private acceptDir(name: string, key: string, pass: ListingPass): boolean {
    if (!this.acceptName(name, key)) return false;
    if (pass.dirNames.has(name)) return false;
    pass.dirNames.add(name);
    if (pass.fileNames.has(name)) this.warnShadowed(pass.prefix + name, pass);
    return true;
  }

  private acceptName(name: string, key: string): boolean {
    const reason = invalidNameReason(name);
    if (reason === undefined) return true;
    this.ctx.warnOnce(key, `skipping key that cannot be a file name (${reason}): ${JSON.stringify(key)}`);
    return false;
  }

  private warnShadowed(fileKey: string, pass: ListingPass): void {
    this.ctx.warnOnce(fileKey, `object hidden by a directory of the same name: ${JSON.stringify(fileKey)} (under ${pass.dir})`);
  }

  /** --exact-attrs: HEAD every child whose attributes came only from the listing. */
  private async headListedChildren(dir: string): Promise<void> {
    const { store, keys, container } = this.ctx;
    const limit = pLimit(HEAD_CONCURRENCY);
    const work: Promise<void>[] = [];
    let after: string | undefined;
    for (let page = store.childrenPage(dir, after, PAGE_SIZE); page.length > 0; page = store.childrenPage(dir, after, PAGE_SIZE)) {
      after = nameOf(page[page.length - 1]!.path);
      for (const child of page) {
        if (child.source !== 'list' && child.source !== 'implicit') continue;
        const isDir = child.kind === 'dir';
        const key = isDir ? keys.dirKey(child.path) : keys.fileKey(child.path);
        work.push(limit(async () => {
          const info = await headOrAbsent(container, key);
          if (info === undefined) return;
          const fields = headFields(info, this.ctx.options, this.ctx.now());
          // A symlink shows up here (listed as a file); a file/directory swap is left to the next lookup.
          if ((fields.kind === 'dir') === isDir) store.upsert(child.path, fields);
        }));
      }
    }
    // Exact attributes are a refinement: a failed HEAD leaves the listing's attributes, it does not fail readdir.
    const failed = (await Promise.allSettled(work)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      this.ctx.log('warn', `--exact-attrs: ${failed.length} HEAD requests failed listing ${dir}; their default attributes are shown`, {
        error: failed[0]!.reason instanceof Error ? failed[0]!.reason.message : String(failed[0]!.reason),
      });
    }
  }
}
