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

/** Hands a listing's pages out as they are merged: each name once, files once no directory of their name can follow. */
class PageOut {
  private held: Entry[] = [];
  private readonly given = new Set<string>();

  constructor(private readonly onPage: (children: Entry[]) => void) {}

  add(merged: readonly Entry[]): void {
    const entries = this.held.length > 0 ? [...this.held, ...merged] : merged;
    this.held = [];
    // Files come in listing order, directories (prefixes) after them: the last name listed is the greatest of those.
    let dirs: Set<string> | undefined;
    let last = '';
    let lastFile = -1;
    entries.forEach((entry, i) => {
      if (entry.kind !== 'dir') {
        lastFile = i;
        return;
      }
      const name = nameOf(entry.path);
      (dirs ??= new Set()).add(name);
      if (compareNames(name, last) > 0) last = name;
    });
    if (lastFile >= 0 && compareNames(nameOf(entries[lastFile]!.path), last) > 0) last = nameOf(entries[lastFile]!.path);
    // `name/…` sorts after `name` and before any name past it: a file is settled once a greater name than `name/` was listed.
    let settled = lastFile;
    while (settled >= 0 && (entries[settled]!.kind === 'dir' || compareNames(last, `${nameOf(entries[settled]!.path)}/`) <= 0)) settled--;
    const ready: Entry[] = [];
    entries.forEach((entry, i) => {
      const name = nameOf(entry.path);
      if (entry.kind !== 'dir') {
        // A directory of the same name hides the file.
        if (dirs?.has(name) === true) return;
        if (i > settled) {
          this.held.push(entry);
          return;
        }
      }
      if (this.given.has(name)) return;
      this.given.add(name);
      ready.push(entry);
    });
    if (ready.length > 0) this.onPage(ready);
  }
}

export class Lister {
  private readonly inflight = new Map<string, Running>();

  constructor(private readonly ctx: NamespaceContext) {}

  /**
   * Lists `dir` into the store and returns its children in byte order of
   * their names; for 'lookups', undefined when the directory has more than
   * LOOKUP_MAX_PAGES pages (the pages read are merged all the same). A
   * listing of `dir` already running is shared when it serves the purpose.
   * `onPage`, for a listing this call starts, is given each page's children
   * as merged, each name once and as it will stay: a file is held back until
   * a page shows that no directory of its name can follow (one would hide
   * it), and with --exact-attrs nothing is given before the end (the
   * listing's attributes wait for their HEADs).
   */
  refresh(dir: string, purpose: ListingPurpose = 'readdir', onPage?: (children: Entry[]) => void): Promise<Entry[] | undefined> {
    const running = this.inflight.get(dir);
    if (running !== undefined) {
      if (running.purpose === 'readdir' || purpose === 'lookups') return running.done;
      return running.done.catch(() => undefined).then(() => this.refresh(dir, purpose, onPage));
    }
    const done = this.run(dir, purpose, onPage).finally(() => this.inflight.delete(dir));
    this.inflight.set(dir, { purpose, done });
    return done;
  }

  /** The listing of `dir` running now, if any. */
  running(dir: string): Promise<unknown> | undefined {
    return this.inflight.get(dir)?.done;
  }

  private async run(dir: string, purpose: ListingPurpose, onPage: ((children: Entry[]) => void) | undefined): Promise<Entry[] | undefined> {
    const { store, container } = this.ctx;
    const startedAt = this.ctx.now();
    const pass = this.newPass(dir);
    const names = new Set<string>();
    const pageOut = onPage === undefined || this.ctx.options.exactAttrs ? undefined : new PageOut(onPage);
    // For lookups, no request past LOOKUP_MAX_PAGES: the ranges side by side are for readdir.
    const pages = purpose === 'lookups'
      ? listSequential(container, pass.prefix, PAGE_SIZE, LOOKUP_MAX_PAGES)
      : listSplit(container, pass.prefix, { pageSize: PAGE_SIZE });
    let cut = false;
    for await (const page of pages) {
      const merged = store.applyListingPage(dir, pass.generation, this.childrenOf(page, pass));
      for (const entry of merged) names.add(nameOf(entry.path));
      pageOut?.add(merged);
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
