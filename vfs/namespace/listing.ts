/**
 * Directory listings: a paged LIST (delimiter '/', 1,000 per page) fills
 * the attributes of every child, so `ls -l` costs LIST requests and no
 * HEAD: one for up to 1,000 entries; a bigger directory is fetched as key
 * ranges side by side (split-listing.ts: about one request per 1,000
 * entries, plus a few small ones) and its pages come in the order of the
 * sequential listing. A listing for lookups reads at most LOOKUP_MAX_PAGES
 * pages one after the other (the next requested as soon as one arrives).
 * Each page is merged in one transaction, and the merged entries are the
 * listing's answer (readdir reads nothing back); when the last page is in,
 * children the listing did not show are dropped. Concurrent listings of one
 * directory share one.
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
import { listSequential, listSplit } from './split-listing.js';
import { compareNames, joinPath, nameOf } from '../../cache/metadata/paths.js';
import type { Entry, EntryFields, ListedChild } from '../../cache/metadata/types.js';
import { headFields, implicitDirFields, listedFileMaker, msToNs } from './attrs.js';
import type { NamespaceContext } from './context.js';
import { invalidNameReason, legacyFolderName } from './keys.js';
import { headOrAbsent } from './remote.js';

/** S3's page size: the most a LIST returns. */
const PAGE_SIZE = 1000;
/** HEADs in flight at once for --exact-attrs. */
const HEAD_CONCURRENCY = 16;
/** A listing for lookups stops after this many pages (10,000 names): for a bigger directory, per-name HEADs stay cheaper. */
const LOOKUP_MAX_PAGES = 10;

/**
 * Why a directory is listed. For 'readdir' the listing is complete and
 * recorded as such: for --dir-ttl it answers readdir, and a name it does not
 * show is absent. For 'lookups' (many names looked up in a directory nobody
 * listed) it stops after LOOKUP_MAX_PAGES and only the names it shows are
 * answered from it: a name missing from it is still asked for, so a name
 * created elsewhere shows up as it did before the listing.
 */
export type ListingPurpose = 'readdir' | 'lookups';

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

interface Running {
  purpose: ListingPurpose;
  done: Promise<Entry[] | undefined>;
}

export class Lister {
  private readonly inflight = new Map<string, Running>();

  constructor(private readonly ctx: NamespaceContext) {}

  /**
   * Lists `dir` into the store and returns its children in byte order of
   * their names; for 'lookups', undefined when the directory has more than
   * LOOKUP_MAX_PAGES pages (the pages read are merged all the same). A
   * listing of `dir` already running is shared when it serves the purpose.
   */
  refresh(dir: string, purpose: ListingPurpose = 'readdir'): Promise<Entry[] | undefined> {
    const running = this.inflight.get(dir);
    if (running !== undefined) {
      if (running.purpose === 'readdir' || purpose === 'lookups') return running.done;
      return running.done.catch(() => undefined).then(() => this.refresh(dir, purpose));
    }
    const done = this.run(dir, purpose).finally(() => this.inflight.delete(dir));
    this.inflight.set(dir, { purpose, done });
    return done;
  }

  /** The listing of `dir` running now, if any. */
  running(dir: string): Promise<unknown> | undefined {
    return this.inflight.get(dir)?.done;
  }

  private async run(dir: string, purpose: ListingPurpose): Promise<Entry[] | undefined> {
    const { store, container } = this.ctx;
    const startedAt = this.ctx.now();
    const pass = this.newPass(dir);
    const names = new Set<string>();
    // For lookups, no request past LOOKUP_MAX_PAGES: the ranges side by side are for readdir.
    const pages = purpose === 'lookups'
      ? listSequential(container, pass.prefix, PAGE_SIZE, LOOKUP_MAX_PAGES)
      : listSplit(container, pass.prefix, { pageSize: PAGE_SIZE });
    let cut = false;
    for await (const page of pages) {
      for (const entry of store.applyListingPage(dir, pass.generation, this.childrenOf(page, pass))) names.add(nameOf(entry.path));
      cut = page.nextToken !== undefined;
      // A backend answering from memory never waits: let other FUSE operations in between pages.
      await yieldToEventLoop();
    }
    if (cut) return undefined;
    const end = store.finishListing(dir, pass.generation, startedAt, purpose === 'readdir');
    for (const entry of end.kept) names.add(nameOf(entry.path));
    // A complete listing knows whether the marker exists (it may have been removed elsewhere).
    const entry = store.get(dir);
    if (entry !== undefined && entry.marker !== pass.markerSeen && pass.prefix !== '') store.update(dir, { marker: pass.markerSeen });
    const children = this.current(dir, names);
    if (this.ctx.options.exactAttrs) await this.headListedChildren(dir, children);
    return children;
  }

  private newPass(dir: string): ListingPass {
    const generation = this.ctx.store.beginListing();
    return { dir, prefix: this.ctx.keys.dirKey(dir), generation, dirNames: new Set(), fileNames: new Set(), markerSeen: false };
  }

  /** The entries of `names` as the store has them now (the memo answers; a concurrent change is seen), sorted. */
  private current(dir: string, names: Set<string>): Entry[] {
    const { store } = this.ctx;
    const children: Entry[] = [];
    const sorted = [...names];
    // Usually sorted already (S3 lists in this order); the legacy folder objects and prefixes may not be.
    if (sorted.some((name, i) => i > 0 && compareNames(sorted[i - 1]!, name) > 0)) sorted.sort(compareNames);
    for (const name of sorted) {
      const child = store.get(joinPath(dir, name));
      if (child !== undefined) children.push(child);
    }
    return children;
  }

  private childrenOf(page: ListPage, pass: ListingPass): ListedChild[] {
    const now = this.ctx.now();
    const fileFields = listedFileMaker(this.ctx.options, now);
    const children: ListedChild[] = [];
    for (const object of page.objects) {
      const child = this.objectChild(object, pass, now, fileFields);
      if (child !== undefined) children.push(child);
    }
    for (const prefix of page.prefixes) {
      const name = prefix.slice(pass.prefix.length, -1);
      if (this.acceptDir(name, prefix, pass)) children.push({ name, fields: implicitDirFields(this.ctx.options, now, msToNs(now)) });
    }
    return children;
  }

  private objectChild(object: ObjectInfo, pass: ListingPass, now: number, fileFields: (info: ObjectInfo) => EntryFields): ListedChild | undefined {
    const name = object.key.slice(pass.prefix.length);
    if (name === '') {
      pass.markerSeen = true;
      return undefined;
    }
    const dirName = legacyFolderName(name, object.size);
    if (dirName !== undefined) {
      if (!this.acceptDir(dirName, object.key, pass)) return undefined;
      return { name: dirName, fields: implicitDirFields(this.ctx.options, now, msToNs(object.lastModified.getTime())) };
    }
    if (!this.acceptName(name, object.key)) return undefined;
    if (pass.dirNames.has(name)) {
      this.warnShadowed(object.key, pass);
      return undefined;
    }
    pass.fileNames.add(name);
    return { name, fields: fileFields(object) };
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

  /** --exact-attrs: HEADs every child whose attributes came only from the listing; `children` is updated in place. */
  private async headListedChildren(dir: string, children: Entry[]): Promise<void> {
    const { store, keys, container } = this.ctx;
    const limit = pLimit(HEAD_CONCURRENCY);
    const work = children.map((child, i) => {
      if (child.source !== 'list' && child.source !== 'implicit') return Promise.resolve();
      const isDir = child.kind === 'dir';
      const key = isDir ? keys.dirKey(child.path) : keys.fileKey(child.path);
      return limit(async () => {
        const info = await headOrAbsent(container, key);
        if (info === undefined) return;
        const fields = headFields(info, this.ctx.options, this.ctx.now());
        // A symlink shows up here (listed as a file); a file/directory swap is left to the next lookup.
        if ((fields.kind === 'dir') === isDir) children[i] = store.upsert(child.path, fields);
      });
    });
    // Exact attributes are a refinement: a failed HEAD leaves the listing's attributes, it does not fail readdir.
    const failed = (await Promise.allSettled(work)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      this.ctx.log('warn', `--exact-attrs: ${failed.length} HEAD requests failed listing ${dir}; their default attributes are shown`, {
        error: failed[0]!.reason instanceof Error ? failed[0]!.reason.message : String(failed[0]!.reason),
      });
    }
  }
}
