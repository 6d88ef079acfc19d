/**
 * `bucketfs cache clean (REMOTE | --cache-dir DIR)`: deletes a mount's cache
 * dir (cached metadata and data) when no running daemon holds it. Refuses,
 * with the reason, when a daemon holds it (unmount first), when the
 * directory does not look like a bucketfs cache (a wrong --cache-dir must
 * not delete someone's files), and when it still holds uploads acknowledged
 * to writers but not yet in the bucket (the next mount uploads them) unless
 * --discard-pending says to lose them.
 */
import { access, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { DATABASE_FILE } from '../../cache/metadata/store.js';
import { JOURNAL_FILE, WritebackJournal } from '../../cache/writeback/journal.js';
import { defineCommand, withJson, type Io } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { printable, writeJson, writeLines } from '../format.js';
import { defaultCacheDir, isRunning, readDaemonRecord } from '../mount/daemon-file.js';

interface CacheArgs {
  action: 'clean';
  remote?: string;
  cacheDir?: string;
  discardPending: boolean;
  json: boolean;
}

/** Why the cache dir may not be deleted. */
class CacheInUseError extends Error {
  override readonly name = 'CacheInUseError';
  readonly code = 'EBUSY';
}

const exists = (path: string) => access(path).then(() => true, () => false);

async function pendingUploads(dir: string): Promise<number> {
  if (!(await exists(join(dir, JOURNAL_FILE)))) return 0;
  const journal = WritebackJournal.open(dir);
  try {
    return journal.all().length;
  } finally {
    journal.close();
  }
}

async function refusal(dir: string, discardPending: boolean): Promise<Error | undefined> {
  const holder = await readDaemonRecord(dir);
  if (holder !== undefined && (await isRunning(holder))) {
    return new CacheInUseError(`cache dir ${dir} is in use by bucketfs process ${holder.pid} (mounted on ${holder.mountpoint}); unmount it first`);
  }
  const known = await Promise.all([DATABASE_FILE, JOURNAL_FILE, 'daemon.json', 'chunks', 'staging'].map((name) => exists(join(dir, name))));
  if (!known.some(Boolean)) return new UsageError(`${dir} does not look like a bucketfs cache dir (no ${DATABASE_FILE}); not deleting it`);
  const pending = await pendingUploads(dir);
  if (pending > 0 && !discardPending) {
    return new CacheInUseError(`cache dir ${dir} holds ${pending} uploads not yet in the bucket; mount it again to upload them, or add --discard-pending to lose them`);
  }
  return undefined;
}

async function clean(args: CacheArgs, io: Io): Promise<void> {
  if ((args.remote === undefined) === (args.cacheDir === undefined)) throw new UsageError('cache clean needs a REMOTE or --cache-dir DIR (one of them)');
  const dir = args.cacheDir === undefined ? defaultCacheDir(args.remote ?? '', io.env) : resolve(args.cacheDir);
  if (!(await exists(dir))) {
    if (args.json) writeJson(io, { cacheDir: dir, removed: false });
    else writeLines(io, [`no cache dir at ${printable(dir)}: nothing to clean`]);
    return;
  }
  const refused = await refusal(dir, args.discardPending);
  if (refused !== undefined) throw refused;
  await rm(dir, { recursive: true, force: true });
  if (args.json) writeJson(io, { cacheDir: dir, removed: true });
  else writeLines(io, [`removed cache dir ${printable(dir)}`]);
}

export const cacheCommand = defineCommand<CacheArgs>({
  command: 'cache <action> [remote]',
  describe: 'Manage mount caches: `cache clean` deletes the cache dir of a remote that is not mounted',
  examples: [
    ["$0 cache clean 's3://photos?endpoint=http://127.0.0.1:7480'", 'the default cache dir of that remote, as it was mounted'],
    ['$0 cache clean --cache-dir /var/cache/bucketfs/photos', 'a cache dir given to bucketfs mount --cache-dir'],
  ],
  options: (yargs) =>
    withJson(yargs
      .positional('action', { choices: ['clean'] as const, describe: 'What to do' })
      .positional('remote', { type: 'string', describe: 'The remote URL exactly as mounted (its default cache dir)' })
      .option('cache-dir', { type: 'string', describe: 'The cache dir to delete' })
      .option('discard-pending', { type: 'boolean', default: false, describe: 'Delete even uploads not yet in the bucket (they are lost)' })) as unknown as Argv<CacheArgs>,
  run: clean,
});
