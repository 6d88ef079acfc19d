/**
 * `bucketfs flush MOUNTPOINT [--json]`: a barrier — returns once everything
 * the mount acknowledged to writers before the call is in the bucket, with a
 * progress bar on a terminal. Fails (exit 1) naming the files that could not
 * be uploaded; they stay pending in the daemon. Ctrl-C stops waiting, not
 * the uploads.
 */
import { defineCommand, withJson, withLocation, type Io } from '../command.js';
import { clientFor, ControlError } from '../control/client.js';
import type { FlushEvent } from '../control/protocol.js';
import { InterruptedError } from '../exit-codes.js';
import { formatDuration, printable, writeJson, writeLines } from '../format.js';
import { startCountProgress } from '../progress.js';

interface FlushArgs {
  mountpoint: string;
  json: boolean;
}

async function flush(args: FlushArgs, io: Io): Promise<void> {
  const client = await clientFor(args.mountpoint, io.env);
  const progress = startCountProgress(io, 'flushing', !args.json);
  let last: FlushEvent | undefined;
  try {
    const onLine = (line: string) => {
      last = JSON.parse(line) as FlushEvent;
      if (last.event === 'progress') progress.update(last.done, last.total);
    };
    await client.send('POST', '/flush', { onLine, signal: io.signal });
  } catch (e) {
    if (io.signal.aborted) throw new InterruptedError('stopped waiting for the flush; the daemon goes on uploading');
    throw e;
  } finally {
    progress.stop();
  }
  const mountpoint = client.record.mountpoint;
  const outcome = last as FlushEvent | undefined;
  if (outcome?.event === 'failed') throw new Error(`flush of ${mountpoint} failed: ${outcome.error}`);
  if (outcome?.event !== 'done') throw new ControlError(`the bucketfs daemon for ${mountpoint} ended the flush without an outcome`, 'EPROTO');
  if (args.json) writeJson(io, { mountpoint, files: outcome.files, seconds: outcome.seconds });
  else writeLines(io, [`flushed ${printable(mountpoint)}: ${outcome.files} files uploaded in ${formatDuration(outcome.seconds * 1000)}`]);
}

export const flushCommand = defineCommand<FlushArgs>({
  command: 'flush <mountpoint>',
  describe: 'Wait until everything written to a mount so far is in the bucket',
  examples: [
    ['$0 flush /mnt/photos', 'upload what is pending, with a progress bar on a terminal'],
    ['$0 flush /mnt/photos --json && tar -C /backup ...', 'a barrier in a script'],
  ],
  options: (yargs) => withJson(withLocation(yargs, 'mountpoint', 'Where the bucket is mounted')),
  run: flush,
});
