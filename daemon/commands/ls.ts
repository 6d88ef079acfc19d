/**
 * `bucketfs ls REMOTE [-l] [-r] [--json]`: lists what is under a remote's
 * prefix, one level (delimiter '/') unless -r, streaming page by page. Names
 * are relative to the listed prefix; prefixes end in '/'. A URL naming one
 * object lists that object. An empty listing is checked once more, so a
 * missing bucket or prefix is reported as such instead of printing nothing.
 */
import type { ListPage, ObjectInfo } from '../../drivers/contract.js';
import { NotFoundError, isStorageError } from '../../drivers/errors.js';
import { withJson, withLocation, withRecursive, defineCommand, type Io } from '../command.js';
import { inContext } from '../failure.js';
import { formatDate, printable, tableRow, writeJson, writeLines } from '../format.js';
import { lastSegment, withTarget, type OpenTarget } from '../locations.js';

interface LsArgs {
  remote: string;
  long: boolean;
  recursive: boolean;
  json: boolean;
}

type Entry = { type: 'object'; name: string; info: ObjectInfo } | { type: 'prefix'; name: string; prefix: string };

/** Size right-aligned to 1 TB in bytes, ISO dates, md5 etags (32) with a multipart suffix. */
const LONG_WIDTHS = [13, 20, 36] as const;

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** One page's objects and prefixes as a single list in key order (each is sorted; together they interleave). */
function pageEntries(page: ListPage, base: string): Entry[] {
  const entries: (Entry & { sortKey: string })[] = [
    // The listed prefix's own directory marker (`photos/2024/` itself) is not an entry of it.
    ...page.objects.filter((info) => info.key !== base)
      .map((info) => ({ type: 'object' as const, name: info.key.slice(base.length), info, sortKey: info.key })),
    ...page.prefixes.map((prefix) => ({ type: 'prefix' as const, name: prefix.slice(base.length), prefix, sortKey: prefix })),
  ];
  return entries.sort((a, b) => byteOrder(a.sortKey, b.sortKey));
}

function textLine(entry: Entry, long: boolean): string {
  const name = printable(entry.name);
  if (!long) return name;
  if (entry.type === 'prefix') return tableRow(['PRE', '', '', name], LONG_WIDTHS, ['right']);
  const { size, lastModified, etag } = entry.info;
  return tableRow([String(size), formatDate(lastModified), etag, name], LONG_WIDTHS, ['right']);
}

function entryJson(entry: Entry): Record<string, unknown> {
  if (entry.type === 'prefix') return { type: 'prefix', name: entry.name, prefix: entry.prefix };
  const { key, size, lastModified, etag, storageClass } = entry.info;
  return { type: 'object', name: entry.name, key, size, lastModified, etag, ...(storageClass !== undefined && { storageClass }) };
}

/** The single object a URL without a trailing '/' names, when nothing lies under it as a prefix. */
async function namedObject(target: OpenTarget): Promise<Entry | undefined> {
  if (target.isRoot || target.endsWithSlash) return undefined;
  try {
    return { type: 'object', name: lastSegment(target), info: await target.container.head(target.key) };
  } catch (e) {
    if (isStorageError(e, 'NotFound') && e.reason !== 'NoSuchBucket') return undefined;
    throw e;
  }
}

/** Nothing was listed: an empty bucket is fine; a missing bucket or prefix is an error. */
async function checkEmpty(target: OpenTarget): Promise<void> {
  await target.backend.headBucket(target.spec.bucket);
  if (!target.isRoot) throw new NotFoundError(`nothing under ${target.display}`, { reason: 'NoSuchPrefix' });
}

async function list(target: OpenTarget, args: LsArgs, io: Io): Promise<void> {
  const collected: Entry[] = [];
  // Text streams out page by page; JSON is one document, so it waits for the end.
  const emit = (entries: Entry[]) => {
    if (args.json) collected.push(...entries);
    else writeLines(io, entries.map((entry) => textLine(entry, args.long)));
  };
  let count = 0;
  for await (const page of target.container.pages({ prefix: target.prefix, ...(!args.recursive && { delimiter: '/' }) })) {
    const entries = pageEntries(page, target.prefix);
    count += entries.length;
    emit(entries);
  }
  if (count === 0) {
    const single = await namedObject(target);
    if (single === undefined) await checkEmpty(target);
    else emit([single]);
  }
  if (args.json) {
    writeJson(io, { remote: target.display, prefix: target.prefix, recursive: args.recursive, entries: collected.map(entryJson) });
  }
}

export const ls = defineCommand<LsArgs>({
  command: 'ls <remote>',
  describe: 'List the objects and prefixes under a remote',
  examples: [
    ['$0 ls s3://photos/2024/', 'names one level under 2024/ (prefixes end in /)'],
    ['$0 ls -lr file:///srv/bucket', 'every object, with size, last modified and etag'],
    ['$0 ls --json minio://127.0.0.1:9000/data', 'the listing as one JSON document'],
  ],
  options: (yargs) =>
    withJson(withRecursive(withLocation(yargs, 'remote', 'Remote URL: a bucket, a prefix or an object'), 'List every object under the prefix'))
      .option('long', { alias: 'l', type: 'boolean', default: false, describe: 'Show size (bytes), last modified (UTC) and etag' }),
  run: (args, io) =>
    withTarget(args.remote, io, (target) => inContext(`cannot list ${target.display}`, () => list(target, args, io), target.spec)),
});
