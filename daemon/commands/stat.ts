/**
 * `bucketfs stat REMOTE [--json]`: one HEAD, printed: size, etag, last
 * modified, content type, storage class, version id, user metadata, and the
 * tags when the backend has tagging.
 */
import type { ObjectInfo } from '../../drivers/contract.js';
import { isStorageError } from '../../drivers/errors.js';
import { withJson, withLocation, defineCommand, type Io } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { inContext } from '../failure.js';
import { fieldLines, formatDate, formatSize, printable, writeJson, writeLines } from '../format.js';
import { explainMissing, withTarget, type OpenTarget } from '../locations.js';

interface StatArgs {
  remote: string;
  json: boolean;
}

/** The object's tags, or undefined when the backend has no tagging. */
async function tagsOf(target: OpenTarget): Promise<Record<string, string> | undefined> {
  if (!target.backend.capabilities.tagging) return undefined;
  try {
    return await target.backend.getTags(target.spec.bucket, target.key);
  } catch (e) {
    if (isStorageError(e, 'Unsupported')) return undefined;
    if (isStorageError(e, 'NotFound') && e.reason === 'NoSuchTagSet') return {};
    throw e;
  }
}

/** Name/value pairs as they may be printed (names and values can hold control characters). */
function pairs(values: Record<string, string> | undefined): [string, string][] {
  return Object.entries(values ?? {}).map(([name, value]) => [printable(name), printable(value)]);
}

function textReport(target: OpenTarget, info: ObjectInfo, tags: Record<string, string> | undefined): string[] {
  const optional = (label: string, value: string | undefined): [string, string][] => (value === undefined ? [] : [[label, printable(value)]]);
  return fieldLines([
    ['Remote', printable(target.display)],
    ['Size', `${info.size} (${formatSize(info.size)})`],
    ['ETag', info.etag],
    ['Last modified', formatDate(info.lastModified)],
    ...optional('Content type', info.contentType),
    ...optional('Storage class', info.storageClass),
    ...optional('Version id', info.versionId),
    ['Metadata', pairs(info.metadata)],
    ...(tags === undefined ? [] : [['Tags', pairs(tags)] as const]),
  ]);
}

function jsonReport(target: OpenTarget, info: ObjectInfo, tags: Record<string, string> | undefined): Record<string, unknown> {
  return {
    remote: target.display,
    bucket: target.spec.bucket,
    key: info.key,
    size: info.size,
    etag: info.etag,
    lastModified: info.lastModified,
    contentType: info.contentType ?? null,
    storageClass: info.storageClass ?? null,
    versionId: info.versionId ?? null,
    metadata: info.metadata ?? {},
    ...(tags !== undefined && { tags }),
    ...(info.extra !== undefined && Object.keys(info.extra).length > 0 && { extra: info.extra }),
  };
}

async function statObject(target: OpenTarget, args: StatArgs, io: Io): Promise<void> {
  if (target.isRoot) throw new UsageError(`${target.display} names a bucket, not an object (try: bucketfs ls ${target.display})`);
  const info = await target.container.head(target.key).catch(async (e: unknown) => {
    throw await explainMissing(target, e, 'list it with bucketfs ls');
  });
  const tags = await tagsOf(target);
  if (args.json) writeJson(io, jsonReport(target, info, tags));
  else writeLines(io, textReport(target, info, tags));
}

export const stat = defineCommand<StatArgs>({
  command: 'stat <remote>',
  describe: "Show one object's size, etag, dates, content type, storage class, metadata and tags",
  examples: [
    ['$0 stat s3://photos/2024/cat.jpg', 'the object\'s details'],
    ["$0 stat --json 'file:///srv/bucket?prefix=notes.txt'", 'as one JSON document'],
  ],
  options: (yargs) => withJson(withLocation(yargs, 'remote', 'Remote URL naming one object')),
  run: (args, io) =>
    withTarget(args.remote, io, (target) => inContext(`cannot stat ${target.display}`, () => statObject(target, args, io), target.spec)),
});
