/**
 * `bucketfs unmount MOUNTPOINT|NAME:`: flushes what the mount has pending,
 * unmounts, and waits until its daemon has finished and exited; `--force`
 * abandons pending work with a loud warning. `NAME:` is the mountpoint of
 * [remotes.NAME] in the config file (what the systemd unit stops). The work
 * lives in ../mount/unmount.ts (loaded on use).
 */
import { defineCommand, withJson, withLocation, type Io } from '../command.js';
import { loadConfig } from '../config/file.js';
import { namedRemote } from '../config/resolve.js';
import { UsageError } from '../exit-codes.js';
import type { UnmountArgs } from '../mount/unmount.js';

/** `photos:` → the mountpoint the config gives remote photos; anything else is a path. */
async function mountpointOf(text: string, io: Io): Promise<string> {
  const named = namedRemote(text);
  if (named === undefined) return text;
  const config = await loadConfig(io.env);
  const mountpoint = config.remotes.get(named[0])?.mountpoint;
  if (mountpoint === undefined) {
    const where = config.path ?? 'the config file (none found)';
    throw new UsageError(`'${text}': ${where} gives no mountpoint for remote '${named[0]}'; name the mountpoint instead`);
  }
  return mountpoint;
}

export const unmount = defineCommand<UnmountArgs>({
  command: 'unmount <mountpoint>',
  describe: 'Flush and unmount a bucket mounted with bucketfs mount; waits for its daemon to finish',
  examples: [
    ['$0 unmount /mnt/photos', 'upload what is pending, unmount, wait for the daemon to exit'],
    ['$0 unmount photos:', 'the mountpoint of [remotes.photos] in the config file'],
    ['$0 unmount /mnt/photos --force', 'give up on pending uploads (listed in a warning) and unmount now'],
  ],
  options: (yargs) =>
    withJson(withLocation(yargs, 'mountpoint', 'Where the bucket is mounted, or NAME: for the mountpoint of a config remote'))
      .option('cache-dir', { type: 'string', describe: 'The cache dir the mount was started with, if not the default' })
      .option('force', { type: 'boolean', default: false, describe: 'Do not flush: detach the mount and kill its daemon; pending uploads and writes to open files are lost' }),
  run: async (args, io) => (await import('../mount/unmount.js')).runUnmount({ ...args, mountpoint: await mountpointOf(args.mountpoint, io) }, io),
});
