/**
 * `bucketfs mount REMOTE MOUNTPOINT [options]`: serves the bucket as a POSIX
 * directory tree, in the foreground, until SIGINT/SIGTERM or `bucketfs
 * unmount`. The work lives in ../mount/, loaded only when this command runs:
 * the FUSE binding and SQLite are native modules that the other commands
 * (and machines without libfuse) never need.
 */
import type { Argv } from 'yargs';
import { defineCommand, withLocation } from '../command.js';
import type { MountArgs } from '../mount/run.js';

/** "644", "0644", "0o644" → 0o644; only permission bits. */
function parseMode(text: string | number): number {
  const match = /^(?:0o?)?([0-7]{1,4})$/i.exec(String(text).trim());
  if (match === null) throw new Error(`invalid mode '${text}' (expected octal permission bits, e.g. 644)`);
  return parseInt(match[1]!, 8);
}

function checkNumbers(args: unknown): true {
  const argv = args as MountArgs;
  for (const [flag, value] of [['--attr-ttl', argv.attrTtl], ['--dir-ttl', argv.dirTtl], ['--negative-ttl', argv.negativeTtl]] as const) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} must be a number of seconds, 0 or more`);
  }
  for (const [flag, value] of [['--uid', argv.uid], ['--gid', argv.gid]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_fffe) throw new Error(`${flag} must be a numeric id`);
  }
  return true;
}

/** The defaults of every mount option; `bucketfs demo` mounts with them too. */
export const MOUNT_DEFAULTS = {
  attrTtl: 30,
  dirTtl: 30,
  negativeTtl: 5,
  fileMode: 0o644,
  dirMode: 0o755,
  exactAttrs: false,
  allowOther: false,
  readOnly: false,
} as const;

function options(yargs: Argv) {
  const owner = (id: number | undefined) => id ?? 0;
  return withLocation(withLocation(yargs, 'remote', 'Remote URL of the bucket (and prefix) to mount'), 'mountpoint', 'An existing, empty directory')
    .option('cache-dir', { type: 'string', describe: 'Cache directory (default: $XDG_CACHE_HOME/bucketfs/<hash of REMOTE>)' })
    .option('attr-ttl', { type: 'number', default: MOUNT_DEFAULTS.attrTtl, describe: 'Seconds cached attributes are trusted before a lookup asks the bucket again' })
    .option('dir-ttl', { type: 'number', default: MOUNT_DEFAULTS.dirTtl, describe: 'Seconds a directory listing stays fresh' })
    .option('negative-ttl', { type: 'number', default: MOUNT_DEFAULTS.negativeTtl, describe: 'Seconds a "does not exist" answer is cached' })
    .option('uid', { type: 'number', default: owner(process.getuid?.()), describe: 'Owner of files without stored attributes' })
    .option('gid', { type: 'number', default: owner(process.getgid?.()), describe: 'Group of files without stored attributes' })
    .option('file-mode', { type: 'string', default: '644', describe: 'Mode (octal) of files without stored attributes', coerce: parseMode })
    .option('dir-mode', { type: 'string', default: '755', describe: 'Mode (octal) of directories without stored attributes', coerce: parseMode })
    .option('exact-attrs', { type: 'boolean', default: MOUNT_DEFAULTS.exactAttrs, describe: 'Listings also read each object\'s stored attributes (for trees written by s3fs, rclone…; one HEAD per entry)' })
    .option('allow-other', { type: 'boolean', default: MOUNT_DEFAULTS.allowOther, describe: 'Let other users use the mount (non-root needs user_allow_other in /etc/fuse.conf)' })
    .option('read-only', { type: 'boolean', default: MOUNT_DEFAULTS.readOnly, describe: 'Mount read-only' })
    .check(checkNumbers);
}

export const mount = defineCommand<MountArgs>({
  command: 'mount <remote> <mountpoint>',
  describe: 'Mount a bucket as a directory (foreground; stop with Ctrl-C, SIGTERM or bucketfs unmount)',
  examples: [
    ['$0 mount s3://photos /mnt/photos', 'serve the bucket until stopped'],
    ["$0 mount 's3://data/2024/?endpoint=http://127.0.0.1:9000' /mnt/data --read-only", 'one prefix, read-only'],
    ['$0 mount file:///srv/bucket /mnt/b --uid 1000 --gid 1000 --file-mode 640', 'a local directory as the bucket'],
  ],
  options: (yargs) => options(yargs) as unknown as Argv<MountArgs>,
  run: async (args, io) => (await import('../mount/run.js')).runMount(args, io),
});
