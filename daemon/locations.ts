/**
 * Command-line locations: what a remote URL names (an object key, a prefix,
 * a whole bucket), how to print it, and opening it for one command with the
 * interrupt decorator in place. Anything with a `scheme://` is a remote;
 * everything else is a local path. Nothing here prints.
 */
import { basename } from 'node:path';
import type { Backend } from '../drivers/contract.js';
import { NotFoundError, OtherError, isStorageError } from '../drivers/errors.js';
import { openRemote, parseRemote, type RemoteSpec } from '../drivers/remote.js';
import { Driver, type Container } from '../drivers/storage.js';
import type { Io } from './command.js';
import { inContext } from './failure.js';
import { InterruptibleBackend } from './interrupt.js';

export function isRemoteUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

export interface RemoteTarget {
  url: string;
  spec: RemoteSpec;
  /** The object key the URL names, exactly as written ('' for the bucket itself). */
  key: string;
  /** The prefix to list: '' or ending in '/'. */
  prefix: string;
  /** The URL names the bucket itself (no key). */
  isRoot: boolean;
  /** The URL's key ends in '/': a "directory", its contents when it is a copy source. */
  endsWithSlash: boolean;
}

/** Parses a remote URL (InvalidRemote on a malformed URL or unknown scheme). */
export function parseTarget(url: string): RemoteTarget {
  let spec: RemoteSpec;
  let written: string;
  try {
    spec = parseRemote(url);
    // parseRemote normalises the prefix to end in '/'; whether the URL itself did decides object vs directory.
    written = spec.kind === 'local' ? (spec.options['prefix'] ?? '') : decodeURIComponent(new URL(url).pathname);
  } catch (e) {
    if (!(e instanceof URIError)) throw e;
    throw new OtherError(`invalid remote '${url}': malformed %-escape`, { reason: 'InvalidRemote', cause: e });
  }
  const endsWithSlash = spec.prefix !== '' && written.endsWith('/');
  const key = spec.prefix === '' || endsWithSlash ? spec.prefix : spec.prefix.slice(0, -1);
  return { url, spec, key, prefix: spec.prefix, isRoot: spec.prefix === '', endsWithSlash };
}

/** How a key of this remote is printed: `s3://bucket/key`, `file:///dir?prefix=key`. */
export function displayKey(spec: RemoteSpec, key: string): string {
  switch (spec.kind) {
    case 'local':
      return `file://${spec.root === '/' ? '' : spec.root}/${spec.bucket}${key === '' ? '' : `?prefix=${key}`}`;
    case 'minio':
      return `minio://${spec.host ?? ''}${spec.port === undefined ? '' : `:${spec.port}`}/${spec.bucket}/${key}`;
    default:
      return `${spec.kind}://${spec.bucket}/${key}`;
  }
}

export function displayTarget(target: RemoteTarget): string {
  return displayKey(target.spec, target.key);
}

/** The last path segment of a key or prefix ('photos/2024/' → '2024'); the bucket name for the root. */
export function lastSegment(target: RemoteTarget): string {
  const trimmed = target.key.replace(/\/+$/, '');
  return trimmed === '' ? target.spec.bucket : basename(trimmed);
}

/** An open remote for the duration of one command. */
export interface OpenTarget extends RemoteTarget {
  backend: Backend;
  container: Container;
  display: string;
}

/** Opens `url`, runs `work`, and always closes the remote. */
export async function withTarget<T>(url: string, io: Io, work: (target: OpenTarget) => Promise<T>): Promise<T> {
  const target = parseTarget(url);
  const display = displayTarget(target);
  const remote = await inContext(`cannot open ${display}`, () => openRemote(url, { env: io.env }), target.spec);
  try {
    const backend = new InterruptibleBackend(remote.driver.backend, io.signal);
    const container = new Driver(backend).container(target.spec.bucket);
    return await work({ ...target, backend, container, display });
  } finally {
    await remote.close().catch(() => undefined);
  }
}

/** True when anything (an object or a deeper prefix) exists under `prefix`. One list request. */
export async function hasEntries(target: OpenTarget, prefix: string): Promise<boolean> {
  const page = await target.container.listPage({ prefix, delimiter: '/', maxKeys: 1 });
  return page.objects.length + page.prefixes.length > 0;
}

/**
 * A NotFound for an object that is in fact a prefix becomes a NotFound that
 * says so, with `advice` (e.g. "use -r"); any other error is returned as is.
 */
export async function explainMissing(target: OpenTarget, e: unknown, advice: string): Promise<unknown> {
  if (!isStorageError(e, 'NotFound') || e.reason === 'NoSuchBucket' || target.isRoot) return e;
  const prefix = target.endsWithSlash ? target.key : `${target.key}/`;
  if (!(await hasEntries(target, prefix).catch(() => false))) return e;
  return new NotFoundError(`no such object, but a prefix of that name exists: ${advice}`, { reason: 'IsPrefix', cause: e });
}
