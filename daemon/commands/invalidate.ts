/**
 * `bucketfs invalidate MOUNTPOINT [PATH]` or `bucketfs invalidate PATH`:
 * the mount forgets what it cached about PATH (a file, or a directory and
 * everything below it: attributes, listings, clean data), so a change made
 * to the bucket by another tool shows at once instead of after the TTLs.
 * Dirty data is never dropped.
 */
import type { Argv } from 'yargs';
import { defineCommand, withJson, withLocation, type Io } from '../command.js';
import { clientFor, clientForPath, type ControlClient } from '../control/client.js';
import type { InvalidateResponse } from '../control/protocol.js';
import { UsageError } from '../exit-codes.js';
import { printable, writeJson, writeLines } from '../format.js';

interface InvalidateArgs {
  target: string;
  path?: string;
  json: boolean;
}

/** MOUNTPOINT PATH (PATH inside the mount, '/' its root), or one PATH anywhere inside a mount. */
async function resolveTarget(args: InvalidateArgs, io: Io): Promise<{ client: ControlClient; inner: string }> {
  if (args.path === undefined) return clientForPath(args.target, io.env);
  const inner = `/${args.path.replace(/^\/+/, '').replace(/\/+$/, '')}`;
  if (inner.split('/').some((s) => s === '.' || s === '..')) throw new UsageError(`invalid path '${args.path}' inside the mount (no . or .. segments)`);
  return { client: await clientFor(args.target, io.env), inner };
}

async function invalidate(args: InvalidateArgs, io: Io): Promise<void> {
  const { client, inner } = await resolveTarget(args, io);
  const result = await client.json<InvalidateResponse>('POST', '/invalidate', { body: { path: inner } });
  if (args.json) writeJson(io, { mountpoint: client.record.mountpoint, ...result });
  else writeLines(io, [`invalidated ${printable(inner)} on ${printable(client.record.mountpoint)}: ${result.entries} cached entries, ${result.chunks} cached chunks dropped`]);
}

export const invalidateCommand = defineCommand<InvalidateArgs>({
  command: 'invalidate <target> [path]',
  describe: 'Make a mount forget what it cached about a path, so changes made elsewhere show at once',
  examples: [
    ['$0 invalidate /mnt/photos/2024', 'a directory inside a mount, and everything below it'],
    ['$0 invalidate /mnt/photos 2024/cat.jpg', 'the mountpoint, then a path inside it'],
    ['$0 invalidate /mnt/photos --json', 'the whole mount, reported as JSON'],
  ],
  options: (yargs) =>
    withJson(withLocation(yargs, 'target', 'A mountpoint, or a path inside a mount').positional('path', { type: 'string', describe: 'Path inside the mount (default: TARGET itself)' })) as unknown as Argv<InvalidateArgs>,
  run: invalidate,
});
