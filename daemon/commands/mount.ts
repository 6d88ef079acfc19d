/**
 * `bucketfs mount REMOTE [MOUNTPOINT] [options]`: serves the bucket as a
 * POSIX directory tree. In the background by default (returns once the mount
 * serves), in the foreground with -f or under systemd. The options come from
 * the one table in ../config/options.ts (flags here, -o strings, BUCKETFS_*
 * variables and the config file alike); the work lives in ../mount/, loaded
 * only when this command runs: the FUSE binding and SQLite are native modules
 * the other commands (and machines without libfuse) never need.
 */
import type { Argv } from 'yargs';
import { defineCommand, withJson, withLocation } from '../command.js';
import { builtinSettings, envName, OPTIONS, snakeName, type OptionSpec, type RawValue } from '../config/options.js';
import type { MountRequest } from '../config/resolve.js';

interface MountCommandArgs {
  remote: string;
  mountpoint?: string;
  o?: string | string[];
  foreground: boolean;
  json: boolean;
  daemonReadyFd?: number;
  [flag: string]: unknown;
}

function shownDefault(spec: OptionSpec): string {
  if (spec.shownDefault !== undefined) return spec.shownDefault;
  const value = builtinSettings()[spec.key];
  return spec.type === 'mode' ? (value as number).toString(8) : String(value);
}

function declareOptions(yargs: Argv): Argv {
  let declared = yargs;
  for (const spec of OPTIONS) {
    declared = declared.option(spec.flag, {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      describe: `${spec.describe}${spec.choices === undefined ? '' : ` (${spec.choices.join('|')})`} [default: ${shownDefault(spec)}; -o ${snakeName(spec)}, ${envName(spec)}]`,
      group: 'Mount options (also as -o name=value, BUCKETFS_NAME, or in the config file):',
    });
  }
  return declared;
}

function options(yargs: Argv): Argv<MountCommandArgs> {
  const positional = withLocation(yargs, 'remote', 'Remote URL of the bucket (and prefix), or NAME: / NAME:sub/prefix for [remotes.NAME] of the config file')
    .positional('mountpoint', { type: 'string', describe: 'An existing, empty directory (optional when the config names one for the remote)' });
  return withJson(declareOptions(positional))
    .option('foreground', { alias: 'f', type: 'boolean', default: false, describe: 'Stay attached: serve until Ctrl-C, SIGTERM or bucketfs unmount' })
    .option('o', { type: 'string', requiresArg: true, describe: 'Mount options, comma-separated, as in fstab: -o ro,uid=1000,cache_size=4G (mount(8)\'s _netdev, nofail… are accepted and ignored)' })
    .option('daemon-ready-fd', { type: 'number', hidden: true }) as unknown as Argv<MountCommandArgs>;
}

/** The options given as flags, as raw values for the resolver (it parses and checks them). */
function flagValues(args: MountCommandArgs): Map<OptionSpec, RawValue> {
  const out = new Map<OptionSpec, RawValue>();
  for (const spec of OPTIONS) {
    const value = args[spec.flag];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out.set(spec, { value, where: `--${spec.flag}` });
  }
  return out;
}

function request(args: MountCommandArgs): MountRequest {
  const strings = args.o === undefined ? [] : Array.isArray(args.o) ? args.o : [args.o];
  return { remote: args.remote, mountpoint: args.mountpoint, flags: flagValues(args), mountStrings: strings.map(String) };
}

export const mount = defineCommand<MountCommandArgs>({
  command: 'mount <remote> [mountpoint]',
  describe: 'Mount a bucket as a directory; returns once it serves (-f: stay in the foreground)',
  examples: [
    ['$0 mount s3://photos /mnt/photos', 'mount in the background; stop with bucketfs unmount /mnt/photos'],
    ["$0 mount 's3://data/2024/?endpoint=http://127.0.0.1:9000' /mnt/data -o ro,cache_size=4G", 'one prefix, read-only, a 4 GiB cache'],
    ['$0 mount photos: /mnt/photos', 'the remote [remotes.photos] of ~/.config/bucketfs/config.toml'],
    ['$0 mount file:///srv/bucket /mnt/b -f --uid 1000 --file-mode 640', 'a local directory as the bucket, in the foreground'],
  ],
  options,
  run: async (args, io) => {
    const { startMount } = await import('../mount/start.js');
    await startMount(request(args), { foreground: args.foreground, readyFd: args.daemonReadyFd, json: args.json }, io);
  },
});
