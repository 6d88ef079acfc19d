/**
 * Small tools shared by the conformance topics: the run context, the
 * SKIPPED line of a feature the server lacks, reading a body, checking a
 * typed error, bounded-concurrency writes, whole listings, batched cleanup,
 * and the reference rule for delimiter listings.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Test } from 'tap';
import type { Backend, ListOptions, ObjectInfo } from '../../drivers/contract.js';
import { isStorageError, type ErrorKind } from '../../drivers/errors.js';
import type { ConformanceTarget, ServerFeature } from './target.js';

export type Tap = Test;

export interface Ctx {
  target: ConformanceTarget;
  backend: Backend;
  bucket: string;
  /** Unique to this run; every key the suite writes starts with it. */
  root: string;
}

export function makeContext(target: ConformanceTarget): Ctx {
  const root = `conformance-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}/`;
  return { target, backend: target.backend, bucket: target.bucket, root };
}

/** Prints the loud SKIPPED line when the server lacks `feature`; true means "skip it". */
export function lacks(t: Tap, ctx: Pick<Ctx, 'target'>, feature: ServerFeature): boolean {
  const reason = ctx.target.serverLacks?.[feature];
  if (reason === undefined) return false;
  const line = `SKIPPED: ${ctx.target.name}: ${feature}: ${reason}`;
  console.log(line);
  t.comment(line);
  return true;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

export async function getBody(ctx: Ctx, key: string): Promise<Buffer> {
  const { body } = await ctx.backend.get(ctx.bucket, key);
  return readAll(body);
}

export function randomBody(size: number): Buffer {
  return randomBytes(size);
}

export interface ExpectedError {
  kind: ErrorKind;
  reason?: string;
  /** Text the message must contain. */
  mentions?: string;
  /** The original error must be attached as `cause`. */
  cause?: boolean;
}

/** Asserts that `action` fails with a StorageError of the expected kind (and reason, message, cause). */
export async function expectError(t: Tap, action: () => unknown, want: ExpectedError, label: string): Promise<void> {
  let error: unknown;
  try {
    await action();
  } catch (e) {
    error = e;
  }
  if (error === undefined) {
    t.fail(`${label}: expected a ${want.kind} error, but it succeeded`);
    return;
  }
  if (!isStorageError(error)) {
    t.fail(`${label}: expected a StorageError of kind ${want.kind}`, { found: String(error), error });
    return;
  }
  const found = {
    kind: error.kind,
    reason: error.reason,
    mentions: want.mentions !== undefined && error.message.includes(want.mentions) ? want.mentions : error.message,
    cause: error.cause !== undefined,
  };
  const expected: Partial<typeof found> = { kind: want.kind };
  if (want.reason !== undefined) expected.reason = want.reason;
  if (want.mentions !== undefined) expected.mentions = want.mentions;
  if (want.cause) expected.cause = true;
  t.match(found, expected, label);
}

/** A call the backend's capabilities rule out must fail as Unsupported, saying so. */
export function expectUnsupported(t: Tap, action: () => unknown, label: string): Promise<void> {
  return expectError(t, action, { kind: 'Unsupported', mentions: 'not supported by' }, `${label} is refused as unsupported`);
}

/** Runs `task` over `items`, at most `limit` at a time. */
export async function forEachLimit<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function byteSorted(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export interface Listing {
  objects: ObjectInfo[];
  prefixes: string[];
  /** Keys plus prefixes of each page, in order. */
  pageSizes: number[];
}

/** Follows tokens to the end; fails the test rather than loop forever on a token that repeats. */
export async function listAll(t: Tap, ctx: Ctx, options: Omit<ListOptions, 'token'> = {}): Promise<Listing> {
  const listing: Listing = { objects: [], prefixes: [], pageSizes: [] };
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await ctx.backend.listPage(ctx.bucket, token === undefined ? options : { ...options, token });
    listing.objects.push(...page.objects);
    listing.prefixes.push(...page.prefixes);
    listing.pageSizes.push(page.objects.length + page.prefixes.length);
    token = page.nextToken;
    if (token !== undefined && seen.has(token)) {
      t.fail('listPage returned the same continuation token twice', { token });
      break;
    }
    if (token !== undefined) seen.add(token);
  } while (token !== undefined);
  return listing;
}

/** What S3 lists for `keys` under `prefix` with `delimiter`: rolled-up common prefixes, and the other keys. */
export function expectedListing(keys: Iterable<string>, prefix: string, delimiter?: string): { keys: string[]; prefixes: string[] } {
  const objects: string[] = [];
  const prefixes = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (delimiter && at >= 0) prefixes.add(key.slice(0, at + delimiter.length));
    else objects.push(key);
  }
  return { keys: byteSorted(objects), prefixes: byteSorted(prefixes) };
}

/**
 * How many single deletes may run at once: one where the server lacks
 * batchDelete, since its deletes of several keys at once fail.
 */
export function deleteConcurrency(target: ConformanceTarget): number {
  return target.serverLacks?.batchDelete === undefined ? 8 : 1;
}

/**
 * Deletes `keys` in batches of at most `limits.maxDeleteBatch`, or one at a
 * time on a server whose batch delete is broken (the suite's cleanup must not
 * depend on it); throws if any key could not be deleted.
 */
export async function deleteKeys(ctx: Pick<Ctx, 'target' | 'backend' | 'bucket'>, keys: readonly string[]): Promise<void> {
  if (ctx.target.serverLacks?.batchDelete !== undefined) {
    for (const key of keys) await ctx.backend.delete(ctx.bucket, key);
    return;
  }
  const batch = ctx.backend.limits.maxDeleteBatch;
  for (let i = 0; i < keys.length; i += batch) {
    const result = await ctx.backend.deleteMany(ctx.bucket, keys.slice(i, i + batch));
    if (result.errors.length > 0) {
      throw new Error(`deleteMany failed for ${result.errors.length} keys`, { cause: result.errors[0]?.error });
    }
  }
}

/** Runs `check` on every item and collects what failed, so one assertion reports every offender. */
export async function failuresOf<T>(
  items: readonly T[],
  check: (item: T) => Promise<string | undefined>,
  limit = 8,
): Promise<{ item: string; problem: string }[]> {
  const failures: { item: string; problem: string }[] = [];
  await forEachLimit(items, limit, async (item) => {
    let problem: string | undefined;
    try {
      problem = await check(item);
    } catch (error) {
      problem = `threw ${String(error)}`;
    }
    if (problem !== undefined) failures.push({ item: JSON.stringify(item), problem });
  });
  return failures;
}
