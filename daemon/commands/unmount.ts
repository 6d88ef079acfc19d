/**
 * `bucketfs unmount MOUNTPOINT`: unmounts (fusermount -u, else umount) and
 * waits until the daemon that served it has flushed and exited, when its pid
 * file can be found. The work lives in ../mount/unmount.ts (loaded on use).
 */
import { defineCommand, withLocation } from '../command.js';
import type { UnmountArgs } from '../mount/unmount.js';

export const unmount = defineCommand<UnmountArgs>({
  command: 'unmount <mountpoint>',
  describe: 'Unmount a bucket mounted with bucketfs mount; waits for its daemon to finish',
  examples: [
    ['$0 unmount /mnt/photos', 'unmount and wait for the daemon to exit'],
    ['$0 unmount /mnt/b --cache-dir /var/cache/b', 'the mount used its own cache dir'],
  ],
  options: (yargs) =>
    withLocation(yargs, 'mountpoint', 'Where the bucket is mounted')
      .option('cache-dir', { type: 'string', describe: 'The cache dir the mount was started with, if not the default' }),
  run: async (args, io) => (await import('../mount/unmount.js')).runUnmount(args, io),
});
