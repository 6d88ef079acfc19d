/**
 * What `cp SRC DST` means, decided before any byte moves: which objects and
 * files, and where each one lands. Rules (like cp(1), plus rsync's trailing
 * slash for "contents of"):
 * - one file or object: into DST when DST ends in '/', is a bucket, an
 *   existing directory or an existing prefix; otherwise DST is the new name;
 * - -r: SRC ending in '/' copies its contents into DST; otherwise SRC is
 *   copied into DST under its own name when DST ends in '/' or exists, and
 *   becomes DST when it does not;
 * - a key that cannot be a safe local file name ('..', empty segments, an
 *   absolute path) is never written outside the destination: the copy fails.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { NotFoundError, OtherError } from '../drivers/errors.js';
import type { ObjectInfo } from '../drivers/contract.js';
import { UsageError } from './exit-codes.js';
import { explainMissing, hasEntries, lastSegment, type OpenTarget } from './locations.js';
import { directoryTransfer, downloadTransfer, remoteTransfer, uploadTransfer, type Transfer } from './transfers.js';

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Whether a remote destination is a "directory": a bucket, a URL ending in '/', or an existing prefix. */
async function remoteIsDirectory(dst: OpenTarget): Promise<boolean> {
  return dst.isRoot || dst.endsWithSlash || hasEntries(dst, dst.prefix);
}

/** The key a single object lands at. */
async function singleKey(dst: OpenTarget, name: string): Promise<string> {
  return (await remoteIsDirectory(dst)) ? `${dst.prefix}${name}` : dst.key;
}

/** The prefix a tree lands under. */
async function treePrefix(dst: OpenTarget, name: string, contentsOnly: boolean): Promise<string> {
  if (contentsOnly || !(await remoteIsDirectory(dst))) return dst.prefix;
  return `${dst.prefix}${name}/`;
}

interface LocalFile {
  path: string;
  /** '/'-separated path below the walked directory. */
  relative: string;
  size: number;
}

/** Regular files under `dir` (symlinks to files followed, symlinked directories not, so no loops). */
async function walk(dir: string, relative = ''): Promise<LocalFile[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  const files: LocalFile[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const rel = `${relative}${entry.name}`;
    if (entry.isDirectory()) files.push(...(await walk(path, `${rel}/`)));
    else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path)).isFile())) {
      files.push({ path, relative: rel, size: (await stat(path)).size });
    }
  }
  return files;
}

export async function planUpload(src: string, dst: OpenTarget, recursive: boolean): Promise<Transfer[]> {
  const info = await stat(src);
  if (info.isDirectory()) {
    if (!recursive) throw new UsageError(`${src} is a directory (use -r to copy it)`);
    const contentsOnly = /\/\.?$/.test(src);
    const base = await treePrefix(dst, basename(resolve(src)), contentsOnly);
    return (await walk(src)).map((file) => uploadTransfer(file.path, dst, `${base}${file.relative}`, file.size));
  }
  if (!info.isFile()) throw new UsageError(`${src} is not a regular file`);
  return [uploadTransfer(src, dst, await singleKey(dst, basename(src)), info.size)];
}

/** Every object under `prefix`, listed in full before copying (a copy into the same prefix cannot chase itself). */
async function objectsUnder(src: OpenTarget, prefix: string): Promise<ObjectInfo[]> {
  const objects: ObjectInfo[] = [];
  for await (const page of src.container.pages({ prefix })) objects.push(...page.objects);
  return objects;
}

/** The objects a recursive copy takes: those under the prefix, else the one object a plain URL names. */
async function sourceObjects(src: OpenTarget): Promise<ObjectInfo[]> {
  const objects = await objectsUnder(src, src.prefix);
  if (objects.length > 0) return objects;
  if (!src.isRoot && !src.endsWithSlash) return [await src.container.head(src.key)];
  await src.backend.headBucket(src.spec.bucket);
  if (src.isRoot) return [];
  throw new NotFoundError(`nothing under ${src.display}`, { reason: 'NoSuchPrefix' });
}

/** A key below the copied prefix as local path segments, or undefined when it cannot be one safely. */
function localSegments(relative: string): string[] | undefined {
  const segments = relative.replace(/\/$/, '').split('/');
  const unsafe = segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'));
  return unsafe ? undefined : segments;
}

function unsafeKeysError(src: OpenTarget, keys: string[]): OtherError {
  const shown = keys.slice(0, 3).map((k) => JSON.stringify(k)).join(', ');
  return new OtherError(
    `${keys.length} key${keys.length === 1 ? '' : 's'} under ${src.display} cannot be local file names (${shown}); nothing was copied`,
    { reason: 'UnsafeKey' },
  );
}

/** A key that is its own prefix ('photos/' with no data) is a directory marker. */
const isMarker = (info: ObjectInfo, relative: string) => relative === '' || (relative.endsWith('/') && info.size === 0);

async function planDownloadTree(src: OpenTarget, dst: string): Promise<Transfer[]> {
  const objects = await sourceObjects(src);
  const single = objects.length === 1 && objects[0]?.key === src.key && !src.isRoot && !src.endsWithSlash;
  if (single) return planDownloadOne(src, dst, objects[0]?.size);
  const root = !src.endsWithSlash && (await isDirectory(dst)) ? join(dst, lastSegment(src)) : dst;
  const transfers: Transfer[] = [];
  const unsafe: string[] = [];
  for (const info of objects) {
    const relative = info.key.slice(src.prefix.length);
    const segments = localSegments(relative);
    if (relative !== '' && segments === undefined) unsafe.push(info.key);
    else if (isMarker(info, relative)) transfers.push(directoryTransfer(src, info.key, join(root, ...(segments ?? []))));
    else transfers.push(downloadTransfer(src, info.key, join(root, ...(segments ?? [])), info.size, true));
  }
  if (unsafe.length > 0) throw unsafeKeysError(src, unsafe);
  return transfers;
}

async function planDownloadOne(src: OpenTarget, dst: string, size: number | undefined): Promise<Transfer[]> {
  const name = lastSegment(src);
  if (localSegments(name)?.length !== 1) throw unsafeKeysError(src, [src.key]);
  const into = dst.endsWith('/') || (await isDirectory(dst));
  const path = into ? join(dst, name) : dst;
  // Checked here so a missing directory is named plainly, not through the temp file's name.
  if (!(await isDirectory(resolve(path, '..')))) {
    throw Object.assign(new Error(`${resolve(path, '..')}: no such directory`), { code: 'ENOENT' });
  }
  return [downloadTransfer(src, src.key, path, size, false)];
}

export async function planDownload(src: OpenTarget, dst: string, recursive: boolean): Promise<Transfer[]> {
  if (recursive) return planDownloadTree(src, dst);
  if (src.isRoot || src.endsWithSlash) throw new UsageError(`${src.display} is a prefix (use -r to copy everything under it)`);
  return planDownloadOne(src, dst, undefined);
}

/** One service (same kind, endpoint, root, credentials profile): a server-side copy can reach both buckets. */
function sameService(a: OpenTarget, b: OpenTarget): boolean {
  const { prefix: _a, ...optionsA } = a.spec.options;
  const { prefix: _b, ...optionsB } = b.spec.options;
  const sameEndpoint = a.spec.kind === b.spec.kind && a.spec.host === b.spec.host && a.spec.port === b.spec.port && a.spec.root === b.spec.root;
  const sameOptions = JSON.stringify(Object.entries(optionsA).sort()) === JSON.stringify(Object.entries(optionsB).sort());
  // memory:// buckets are separate backends, so only a copy within one bucket stays server-side.
  const bucketsShareBackend = a.spec.kind !== 'memory' || a.spec.bucket === b.spec.bucket;
  return sameEndpoint && sameOptions && bucketsShareBackend && b.backend.capabilities.serverSideCopy;
}

function checkNotItself(src: OpenTarget, dst: OpenTarget, pairs: readonly [string, string][]): void {
  if (!sameService(src, dst) || src.spec.bucket !== dst.spec.bucket) return;
  const same = pairs.find(([from, to]) => from === to);
  if (same) throw new UsageError(`source and destination are the same object: ${src.display}`);
}

export async function planRemoteCopy(src: OpenTarget, dst: OpenTarget, recursive: boolean): Promise<Transfer[]> {
  if (!recursive && (src.isRoot || src.endsWithSlash)) throw new UsageError(`${src.display} is a prefix (use -r to copy everything under it)`);
  const objects = recursive ? await sourceObjects(src) : [await headSource(src)];
  const single = objects.length === 1 && objects[0]?.key === src.key;
  const base = single ? '' : await treePrefix(dst, lastSegment(src), src.endsWithSlash);
  const dstSingle = single ? await singleKey(dst, lastSegment(src)) : '';
  const pairs = objects.map((info): [string, string] => [info.key, single ? dstSingle : `${base}${info.key.slice(src.prefix.length)}`]);
  checkNotItself(src, dst, pairs);
  const serverSide = sameService(src, dst);
  return objects.map((info, i) => remoteTransfer(src, info.key, dst, pairs[i]?.[1] ?? '', info.size, serverSide));
}

async function headSource(src: OpenTarget): Promise<ObjectInfo> {
  return src.container.head(src.key).catch(async (e: unknown) => {
    throw await explainMissing(src, e, 'use -r to copy everything under it');
  });
}
