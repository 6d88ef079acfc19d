/**
 * `bucketfs cp SRC DST [-r]`: upload (local → remote), download (remote →
 * local, atomic per file), or copy between remotes (server-side on one
 * service, streamed otherwise). copy-plan.ts decides what goes where,
 * transfers.ts moves the bytes; this file wires options, progress and the
 * report. Ctrl-C stops new requests, aborts uploads in flight, exits 130.
 */
import { isStorageError } from '../../drivers/errors.js';
import { withJson, withRecursive, defineCommand, type Io } from '../command.js';
import { planDownload, planRemoteCopy, planUpload } from '../copy-plan.js';
import { UsageError } from '../exit-codes.js';
import { CommandFailure, inContext } from '../failure.js';
import { formatDuration, formatSize, parseSize, writeJson } from '../format.js';
import { explainMissing, isRemoteUrl, parseTarget, displayTarget, withTarget, type OpenTarget } from '../locations.js';
import { startProgress } from '../progress.js';
import { runTransfers, type Transfer } from '../transfers.js';
import { DEFAULT_CONCURRENCY } from '../../drivers/transfer.js';

interface CpArgs {
  source: string;
  destination: string;
  recursive: boolean;
  'part-size': number | undefined;
  concurrency: number;
  json: boolean;
}

/** How a location is named in messages: a remote's display form (never its query or any secret), or the path. */
function nameOf(location: string): string {
  return isRemoteUrl(location) ? displayTarget(parseTarget(location)) : location;
}

async function plan(args: CpArgs, io: Io, execute: (transfers: Transfer[], source?: OpenTarget) => Promise<void>): Promise<void> {
  const { source, destination, recursive } = args;
  const remoteSource = isRemoteUrl(source);
  const remoteDestination = isRemoteUrl(destination);
  if (remoteSource && remoteDestination) {
    return withTarget(source, io, (src) => withTarget(destination, io, async (dst) => execute(await planRemoteCopy(src, dst, recursive))));
  }
  if (remoteSource) return withTarget(source, io, async (src) => execute(await planDownload(src, destination, recursive), src));
  if (remoteDestination) return withTarget(destination, io, async (dst) => execute(await planUpload(source, dst, recursive)));
  throw new UsageError(`both ${source} and ${destination} are local paths; use cp(1) for that`);
}

/** A single download that found nothing says so, pointing at -r when a prefix of that name exists. */
async function explainSingleDownload(e: unknown, source: OpenTarget | undefined, recursive: boolean): Promise<unknown> {
  if (source === undefined || recursive || !(e instanceof CommandFailure) || !isStorageError(e.failure, 'NotFound')) return e;
  const explained = await explainMissing(source, e.failure, 'use -r to copy everything under it');
  return explained === e.failure ? e : new CommandFailure(e.what, explained, e.remote);
}

async function copy(args: CpArgs, io: Io): Promise<void> {
  const started = Date.now();
  await plan(args, io, async (transfers, source) => {
    const sizes = transfers.map((t) => t.size);
    const bytes = sizes.includes(undefined) ? undefined : sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0);
    const progress = startProgress(io, { files: transfers.length, bytes }, !args.json);
    let moved: number;
    try {
      moved = await runTransfers(transfers, { partSize: args['part-size'], concurrency: args.concurrency, signal: io.signal }, progress);
    } catch (e) {
      throw await explainSingleDownload(e, source, args.recursive);
    } finally {
      progress.stop();
    }
    report(args, io, transfers, moved, Date.now() - started);
  });
}

function report(args: CpArgs, io: Io, transfers: Transfer[], bytes: number, ms: number): void {
  if (args.json) {
    writeJson(io, {
      source: nameOf(args.source),
      destination: nameOf(args.destination),
      files: transfers.length,
      bytes,
      seconds: ms / 1000,
      transfers: transfers.map(({ from, to, size }) => ({ from, to, ...(size !== undefined && { size }) })),
    });
  } else if (io.stderr.isTTY === true) {
    io.stderr.write(`copied ${transfers.length} file${transfers.length === 1 ? '' : 's'} (${formatSize(bytes)}) in ${formatDuration(ms)}\n`);
  }
}

export const cp = defineCommand<CpArgs>({
  command: 'cp <source> <destination>',
  describe: 'Copy files and objects: upload, download (atomic), or between remotes',
  examples: [
    ['$0 cp ./report.pdf s3://docs/2024/', 'upload into the 2024/ prefix (keeps the name)'],
    ['$0 cp s3://docs/2024/report.pdf ./report.pdf', 'download; the file appears only when complete'],
    ['$0 cp -r ./photos s3://backup/', 'upload a directory tree as s3://backup/photos/…'],
    ['$0 cp -r s3://backup/photos/ ./restored', 'download the contents of photos/ into ./restored'],
    ['$0 cp s3://a/x.bin minio://127.0.0.1:9000/b/x.bin', 'copy between remotes (server-side on one service)'],
  ],
  options: (yargs) =>
    withJson(withRecursive(yargs, 'Copy directories and prefixes (SRC ending in / copies its contents)'))
      .positional('source', { type: 'string', demandOption: true, describe: 'A remote URL or a local path' })
      .positional('destination', { type: 'string', demandOption: true, describe: 'A remote URL or a local path; ending in / means "into"' })
      .option('part-size', { type: 'string', describe: 'Multipart part size, e.g. 8MiB (default 8MiB, raised for huge objects)', coerce: (v?: string) => (v === undefined ? undefined : parseSize(v)) })
      .option('concurrency', { alias: 'j', type: 'number', default: DEFAULT_CONCURRENCY, describe: 'Requests in flight (objects and their parts)' })
      .check((argv) => {
        const n = argv.concurrency;
        if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error('--concurrency must be an integer from 1 to 64');
        return true;
      }),
  run: (args, io) => inContext(`cannot copy ${nameOf(args.source)} to ${nameOf(args.destination)}`, () => copy(args, io)),
});
