/**
 * `bucketfs demo [DIR]`: the quick start. Makes a demo bucket on the embedded
 * local driver (a plain directory, DIR/bucket, with a few sample files) and
 * mounts it on DIR/mnt in the foreground, exactly as `bucketfs mount
 * file://DIR/bucket DIR/mnt` would; Ctrl-C unmounts. Re-running it reuses the
 * bucket, so what was written through the mount is still there.
 */
import { mkdir, writeFile, access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { defineCommand } from '../command.js';
import { builtinSettings } from '../config/options.js';
import type { MountArgs } from '../mount/run.js';

interface DemoArgs {
  dir: string;
}

const SAMPLES: Record<string, string> = {
  'README.txt': 'This directory is a bucket: every file here is an object of the local driver.\n',
  'photos/2024/cat.txt': 'a cat, in plain text\n',
  'photos/2024/dog.txt': 'a dog, in plain text\n',
  'notes/todo.md': '- mount a real bucket: bucketfs mount s3://bucket /mnt/point\n',
};

/** Creates the demo bucket once; an existing one is left as the user left it. */
async function prepareBucket(bucket: string): Promise<boolean> {
  try {
    await access(bucket);
    return false;
  } catch {
    for (const [name, body] of Object.entries(SAMPLES)) {
      await mkdir(join(bucket, name, '..'), { recursive: true });
      await writeFile(join(bucket, name), body);
    }
    return true;
  }
}

export const demo = defineCommand<DemoArgs>({
  command: 'demo [dir]',
  describe: 'Mount a demo bucket (a local directory) on DIR/mnt, in the foreground; Ctrl-C unmounts',
  examples: [
    ['$0 demo', 'bucket in ./bucketfs-demo/bucket, mounted on ./bucketfs-demo/mnt'],
    ['$0 demo /tmp/try', 'the same under /tmp/try'],
  ],
  options: (yargs) =>
    yargs.positional('dir', { type: 'string', default: 'bucketfs-demo', describe: 'Where the demo bucket and mountpoint live' }) as unknown as Argv<DemoArgs>,
  run: async (args, io) => {
    const dir = resolve(args.dir);
    const bucket = join(dir, 'bucket');
    const mountpoint = join(dir, 'mnt');
    const created = await prepareBucket(bucket);
    await mkdir(mountpoint, { recursive: true });
    io.stderr.write(
      `bucketfs: demo bucket ${created ? 'created' : 'reused'} at ${bucket}\n` +
        `bucketfs: try, in another terminal: ls -lR ${mountpoint}; echo hello > ${mountpoint}/hello.txt; ls ${bucket}\n`,
    );
    const mountArgs: MountArgs = { ...builtinSettings(), remote: `file://${bucket}`, mountpoint, cacheDir: join(dir, 'cache') };
    await (await import('../mount/run.js')).runMount(mountArgs, io);
  },
});
