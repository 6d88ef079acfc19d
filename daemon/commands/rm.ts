/**
 * `bucketfs rm REMOTE [-r] [-f]`: deletes one object, or with -r every
 * object under the prefix (listed completely first, so deleting cannot
 * disturb the listing's continuation, then removed in batches of the
 * backend's `maxDeleteBatch`). Like rm(1), a missing object is an error
 * unless -f.
 */
import { NotFoundError } from '../../drivers/errors.js';
import { withJson, withLocation, withRecursive, defineCommand, type Io } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { inContext } from '../failure.js';
import { writeJson, writeLines } from '../format.js';
import { displayKey, explainMissing, withTarget, type OpenTarget } from '../locations.js';

interface RmArgs {
  remote: string;
  recursive: boolean;
  force: boolean;
  json: boolean;
}

async function removeOne(target: OpenTarget, args: RmArgs): Promise<string[]> {
  if (target.isRoot) {
    throw new UsageError(`${target.display} names a whole bucket; name an object, or use -r to remove everything in it`);
  }
  if (!args.force) {
    await target.container.head(target.key).catch(async (e: unknown) => {
      throw await explainMissing(target, e, 'use -r to remove everything under it');
    });
  }
  await target.container.deleteObject(target.key);
  return [target.key];
}

async function keysUnder(target: OpenTarget): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of target.container.pages({ prefix: target.prefix })) keys.push(...page.objects.map((o) => o.key));
  return keys;
}

async function removeAll(target: OpenTarget, args: RmArgs): Promise<string[]> {
  const keys = await keysUnder(target);
  if (keys.length === 0) {
    // `rm -r s3://b/file` of a plain object behaves like rm -r of a file.
    if (!target.isRoot && !target.endsWithSlash) return removeOne(target, args);
    if (args.force || target.isRoot) return [];
    throw new NotFoundError(`nothing under ${target.display}`, { reason: 'NoSuchPrefix' });
  }
  const { deleted, errors } = await target.container.deleteMany(keys);
  const first = errors[0];
  if (first !== undefined) {
    const what = `cannot remove ${errors.length} of ${keys.length} objects under ${target.display} (first: ${displayKey(target.spec, first.key)})`;
    await inContext(what, () => Promise.reject(first.error), target.spec);
  }
  return deleted;
}

async function remove(target: OpenTarget, args: RmArgs, io: Io): Promise<void> {
  const removed = args.recursive ? await removeAll(target, args) : await removeOne(target, args);
  if (args.json) writeJson(io, { remote: target.display, removed: removed.length, keys: removed });
  else if (args.recursive) writeLines(io, [`removed ${removed.length} object${removed.length === 1 ? '' : 's'} under ${target.display}`]);
}

export const rm = defineCommand<RmArgs>({
  command: 'rm <remote>',
  describe: 'Delete an object, or with -r everything under a prefix',
  examples: [
    ['$0 rm s3://photos/2024/cat.jpg', 'delete one object'],
    ['$0 rm -r s3://photos/tmp/', 'delete every object under tmp/ (batched)'],
    ['$0 rm -f s3://photos/maybe.txt', 'no error if it does not exist'],
  ],
  options: (yargs) =>
    withJson(withRecursive(withLocation(yargs, 'remote', 'Remote URL of an object, or of a prefix with -r'), 'Delete everything under the prefix'))
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'No error when nothing exists there' }),
  run: (args, io) =>
    withTarget(args.remote, io, (target) => inContext(`cannot remove ${target.display}`, () => remove(target, args, io), target.spec)),
});
