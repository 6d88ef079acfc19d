/**
 * Carries out a sealed directory-rename journal: copies every listed key to
 * its new name (16 server-side copies in flight), then deletes the old keys
 * in batches, recording progress as it goes; finally drops the journal.
 * Every step is idempotent, so running a journal again after a crash or a
 * failure completes it: keys not yet copied are copied, copied keys are
 * deleted, keys that vanished meanwhile are skipped. Between batches it
 * yields to the event loop, so other operations go on during a long rename.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import pLimit from 'p-limit';
import { isStorageError } from '../../drivers/errors.js';
import type { Container } from '../../drivers/storage.js';
import type { RenameJournalStore } from '../../cache/metadata/journal.js';
import { ITEM_COPIED, ITEM_PENDING, type JournalItem, type RenameJournal } from '../../cache/metadata/types.js';
import { copyObject } from './remote.js';

/** Server-side copies in flight at once. */
export const COPY_CONCURRENCY = 16;
/** Journal items handled per step: one transaction of progress marks each. */
const BATCH = 1000;

type CopyOutcome = 'copied' | 'gone';

/** Told of each key copied, with the copy's etag (a multipart copy changes it). */
export type CopiedFn = (fromKey: string, etag: string) => void;

export class JournalRunner {
  constructor(private readonly container: Container, private readonly journals: RenameJournalStore) {}

  async run(journal: RenameJournal, copied: CopiedFn = () => undefined): Promise<void> {
    await this.copyAll(journal, copied);
    await this.deleteAll(journal);
    this.journals.finish(journal.id);
  }

  private async copyAll(journal: RenameJournal, copied: CopiedFn): Promise<void> {
    const limit = pLimit(COPY_CONCURRENCY);
    for (let items = this.journals.items(journal.id, ITEM_PENDING, BATCH); items.length > 0; items = this.journals.items(journal.id, ITEM_PENDING, BATCH)) {
      const results = await Promise.allSettled(items.map((item) => limit(() => this.copyOne(journal, item, copied))));
      const outcome = (wanted: CopyOutcome) =>
        items.filter((_, i) => { const r = results[i]!; return r.status === 'fulfilled' && r.value === wanted; }).map((item) => item.key);
      this.journals.markCopied(journal.id, outcome('copied'));
      this.journals.markDone(journal.id, outcome('gone'));
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
      await yieldToEventLoop();
    }
  }

  private async copyOne(journal: RenameJournal, item: JournalItem, copied: CopiedFn): Promise<CopyOutcome> {
    const dest = journal.toKey + item.key.slice(journal.fromKey.length);
    try {
      copied(item.key, (await copyObject(this.container, item, dest)).etag);
      return 'copied';
    } catch (e) {
      // Deleted by someone else since the listing: nothing left to move.
      if (isStorageError(e, 'NotFound') && e.reason !== 'NoSuchBucket') return 'gone';
      throw e;
    }
  }

  private async deleteAll(journal: RenameJournal): Promise<void> {
    for (let items = this.journals.items(journal.id, ITEM_COPIED, BATCH); items.length > 0; items = this.journals.items(journal.id, ITEM_COPIED, BATCH)) {
      const result = await this.container.deleteMany(items.map((item) => item.key));
      const failed = new Set(result.errors.map((e) => e.key));
      this.journals.markDone(journal.id, items.map((item) => item.key).filter((key) => !failed.has(key)));
      if (result.errors.length > 0) throw result.errors[0]!.error;
      await yieldToEventLoop();
    }
  }
}
