/**
 * rename(2) on a bucket. A file (or symlink) is copied server side with its
 * metadata (ctime updated), then the old key is deleted; an open file moves
 * in the data path too, and its next upload goes to the new key. A directory
 * is every key under its prefix (marker included) copied then deleted, driven
 * by a journal in the metadata store that is sealed before the first copy, so
 * a crash or failure midway is finished at the next mount, before it serves.
 * Not atomic: during a directory rename both names show part of the tree.
 *
 * Refusals: a directory onto a non-empty directory ENOTEMPTY, onto a file
 * ENOTDIR; a file onto a directory EISDIR; a directory into its own subtree
 * EINVAL.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ROOT, isWithin, parentOf } from '../../cache/metadata/paths.js';
import type { Entry, RenameJournal } from '../../cache/metadata/types.js';
import type { DataPath } from '../data-contract.js';
import { vfsError } from '../types.js';
import { localFields, withAttrs } from './attrs.js';
import type { NamespaceContext } from './context.js';
import type { Entries } from './entries.js';
import { JournalRunner } from './journal-runner.js';
import type { Lookup } from './lookup.js';
import type { OpenFiles } from './open-files.js';
import { copyObject } from './remote.js';
import type { Setattr } from './setattr.js';

export class Renamer {
  private readonly runner: JournalRunner;

  constructor(
    private readonly ctx: NamespaceContext,
    private readonly lookup: Lookup,
    private readonly entries: Entries,
    private readonly setattr: Setattr,
    private readonly openFiles: OpenFiles,
    private readonly dataPath: DataPath,
  ) {
    this.runner = new JournalRunner(ctx.container, ctx.store.journal);
  }

  /** Refusals that need no lookup (checked before any lock is taken). */
  static checkPaths(from: string, to: string): void {
    if (from === ROOT || to === ROOT) throw vfsError('EBUSY', 'cannot rename the mount root');
    if (to.startsWith(`${from}/`)) throw vfsError('EINVAL', `cannot move ${from} into itself (${to})`);
  }

  async rename(from: string, to: string): Promise<void> {
    if (from === to) return;
    if (await this.finishEarlierAttempt(from, to)) return;
    await this.lookup.getDir(parentOf(from));
    const entry = await this.lookup.get(from);
    this.ctx.keys.checkStorable(to, entry.kind === 'dir');
    await this.lookup.getDir(parentOf(to));
    const target = await this.lookup.find(to);
    if (entry.kind === 'dir') {
      if (target !== undefined && target.kind !== 'dir') throw vfsError('ENOTDIR', `not a directory: ${to}`);
      if (target !== undefined) await this.entries.checkEmpty(to);
      await this.renameDirectory(from, to);
    } else {
      if (target?.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${to}`);
      await this.renameFile(from, to, entry);
    }
    if (parentOf(from) !== parentOf(to)) await this.entries.keepVisible(parentOf(from));
  }

  private async renameFile(from: string, to: string, entry: Entry): Promise<void> {
    const { ctx } = this;
    const fromKey = ctx.keys.fileKey(from);
    const toKey = ctx.keys.fileKey(to);
    const state = await this.setattr.current(from);
    const attrs = { ...state.attrs, ctimeNs: ctx.nowNs() };
    const metadata = withAttrs(state.metadata, attrs);
    const contentType = state.entry.contentType;
    let etag = entry.etag;
    // Closed but not uploaded yet (async write mode): the data path uploads it under the new name.
    const pending = this.openFiles.get(from) === undefined && this.dataPath.isDirty(from);
    if (!entry.localOnly) {
      etag = (await copyObject(ctx.container, { key: fromKey, size: state.entry.size }, toKey, { metadata, contentType })).etag;
      await ctx.container.deleteObject(fromKey);
    } else if (pending) {
      // An older version of it may be in the bucket under the old name.
      await ctx.container.deleteObject(fromKey);
    }
    this.dataPath.invalidate(fromKey);
    this.dataPath.invalidate(toKey);
    const pendingTo = this.openFiles.get(to) === undefined && this.dataPath.isDirty(to);
    if (this.openFiles.detach(to) !== undefined || pendingTo) this.dataPath.unlinkOpen(to);
    const open = this.openFiles.move(from, to, toKey);
    if (open !== undefined) {
      open.attrs = attrs;
      open.metadata = metadata;
      this.dataPath.renameOpen(from, to, toKey);
      if (!entry.localOnly && etag !== undefined && etag !== null) this.dataPath.contentCopied(to, toKey, etag);
      this.dataPath.updateMetadata(to, metadata);
    } else if (pending) {
      this.dataPath.renameOpen(from, to, toKey);
      this.dataPath.updateMetadata(to, metadata);
    }
    ctx.store.renameTree(from, to, ctx.now());
    const object = { size: state.entry.size, etag, metadata, contentType, localOnly: entry.localOnly };
    ctx.store.update(to, { ...localFields(entry.kind, attrs, object, ctx.now()), symlinkTarget: state.entry.symlinkTarget });
  }

  private async renameDirectory(from: string, to: string): Promise<void> {
    const { ctx } = this;
    const journal = ctx.store.journal.begin({ path: from, key: ctx.keys.dirKey(from) }, { path: to, key: ctx.keys.dirKey(to) }, ctx.now());
    try {
      for await (const page of ctx.container.pages({ prefix: journal.fromKey })) {
        ctx.store.journal.addItems(journal.id, page.objects.map((o) => ({ key: o.key, size: o.size })));
        await yieldToEventLoop();
      }
    } catch (e) {
      ctx.store.journal.finish(journal.id);
      throw e;
    }
    ctx.store.journal.seal(journal.id);
    // Open files below keep reading their object under its new key: a copy that changed its etag must repin them.
    const openKeys = new Set(this.openFiles.under(from).map((file) => file.key));
    const copiedEtags = new Map<string, string>();
    try {
      await this.runner.run({ ...journal, state: 'ready' }, (key, etag) => {
        if (openKeys.has(key)) copiedEtags.set(key, etag);
      });
    } catch (e) {
      const left = ctx.store.journal.remaining(journal.id);
      ctx.log('error', `rename ${from} → ${to} stopped with ${left} objects left to move; it is finished at the next mount`, {
        error: e instanceof Error ? e.message : String(e),
      });
      throw e;
    }
    this.moveCached(from, to, copiedEtags);
  }

  /**
   * The cache and open files follow a completed directory move. `copiedEtags`
   * (old key → etag of its copy) repins open files whose object's etag changed.
   */
  private moveCached(from: string, to: string, copiedEtags = new Map<string, string>()): void {
    const { ctx } = this;
    const repinned: { path: string; etag: string }[] = [];
    for (const [oldPath, file] of this.openFiles.moveTree(from, to, (path) => ctx.keys.fileKey(path))) {
      this.dataPath.renameOpen(oldPath, file.path, file.key);
      const etag = copiedEtags.get(ctx.keys.fileKey(oldPath));
      if (etag === undefined || etag === ctx.store.get(oldPath)?.etag) continue;
      this.dataPath.contentCopied(file.path, file.key, etag);
      repinned.push({ path: file.path, etag });
    }
    ctx.store.renameTree(from, to, ctx.now());
    for (const { path, etag } of repinned) ctx.store.update(path, { etag, lastModifiedMs: undefined });
  }

  /**
   * A directory rename that failed earlier in this run is still journaled.
   * Before another rename touching either of its trees, it is finished; when
   * it is the very same rename (the caller retrying), that completes the call.
   */
  private async finishEarlierAttempt(from: string, to: string): Promise<boolean> {
    const related = (a: string, b: string) => isWithin(a, b) || isWithin(b, a);
    for (const journal of this.ctx.store.journal.pending()) {
      const paths = [journal.fromPath, journal.toPath];
      if (!paths.some((p) => related(p, from) || related(p, to))) continue;
      await this.resume(journal);
      if (journal.fromPath === from && journal.toPath === to) return true;
    }
    return false;
  }

  /** Finishes directory renames a previous run left sealed but incomplete; drops unsealed ones. */
  async resumePending(): Promise<number> {
    const { store } = this.ctx;
    store.journal.dropUnsealed();
    const pending = store.journal.pending();
    for (const journal of pending) await this.resume(journal);
    return pending.length;
  }

  private async resume(journal: RenameJournal): Promise<void> {
    const { ctx } = this;
    const { fromPath, toPath } = journal;
    ctx.log('info', `finishing the rename of ${fromPath} to ${toPath} interrupted earlier (${ctx.store.journal.remaining(journal.id)} objects left)`);
    await this.runner.run(journal);
    if (ctx.store.get(fromPath) !== undefined) this.moveCached(fromPath, toPath);
    // What the cache knew of either side predates the move: ask the bucket again.
    ctx.store.invalidate(toPath, { tree: true });
    ctx.store.setListed(parentOf(fromPath), undefined);
    ctx.store.setListed(parentOf(toPath), undefined);
  }
}
