/**
 * `bucketfs check`: what a mount of a bucket would hide or leave behind.
 * - Keys that cannot be shown as files: a segment the namespace refuses
 *   (invalidNameReason, the mount's own rule: `a//b`, `.`/`..`, NUL, longer
 *   than 255 bytes), and objects hidden by a directory of the same name.
 * - Orphaned multipart uploads under the prefix: older than `minAgeSeconds`
 *   (younger ones may be some client's upload in progress) and not one of
 *   the mount's own pending uploads; aborted on request.
 * One flat listing of the prefix (no delimiter: ⌈keys/1000⌉ requests) feeds
 * both the key check and, in the daemon, the cache comparison.
 */
import type { ObjectInfo } from '../../drivers/contract.js';
import type { Container } from '../../drivers/storage.js';
import { invalidNameReason } from '../../vfs/namespace/keys.js';
import { FOLDER_SUFFIX } from '../../vfs/object-format.js';
import type { CheckOptions, CheckReport, HostileKey, OrphanUpload } from './protocol.js';

/** A default long enough for any upload that is still going, short enough to catch yesterday's crash. */
export const DEFAULT_ORPHAN_AGE_SECONDS = 3600;

/** Every object under `prefix`, page by page. */
export async function listAll(container: Container, prefix: string): Promise<ObjectInfo[]> {
  const objects: ObjectInfo[] = [];
  for await (const page of container.pages({ prefix })) {
    objects.push(...page.objects);
  }
  return objects;
}

/** Why `relative` (a key without the mount's prefix) cannot be shown as it is, or undefined. */
export function keyProblem(relative: string): string | undefined {
  if (relative === '') return undefined;
  const segments = relative.split('/');
  // A trailing '/' is a directory marker: its last segment is empty by design.
  if (relative.endsWith('/')) segments.pop();
  for (const segment of segments) {
    const reason = invalidNameReason(segment);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** Keys the mount skips, and objects hidden by a directory of the same name. */
export function hostileKeys(objects: readonly ObjectInfo[], prefix: string): HostileKey[] {
  const found: HostileKey[] = [];
  const dirs = new Set<string>();
  for (const { key } of objects) {
    for (let i = key.indexOf('/', prefix.length); i !== -1; i = key.indexOf('/', i + 1)) dirs.add(key.slice(0, i));
  }
  for (const { key } of objects) {
    const relative = key.slice(prefix.length);
    const reason = keyProblem(relative);
    if (reason !== undefined) found.push({ key, reason: `cannot be a file name: ${reason}` });
    else if (!key.endsWith('/') && !key.endsWith(FOLDER_SUFFIX) && dirs.has(key)) found.push({ key, reason: 'hidden by a directory of the same name' });
  }
  return found;
}

/** Multipart uploads under `prefix` that nobody is finishing; aborted when asked. */
export async function orphanUploads(container: Container, prefix: string, options: CheckOptions, busyKeys: ReadonlySet<string> = new Set()): Promise<OrphanUpload[]> {
  const backend = container.driver.backend;
  if (!backend.capabilities.multipart) return [];
  const minAgeMs = (options.minAgeSeconds ?? DEFAULT_ORPHAN_AGE_SECONDS) * 1000;
  const uploads = await backend.listMultipartUploads(container.name, { prefix });
  const orphans = uploads.filter((u) => !busyKeys.has(u.key) && (u.initiated === undefined || Date.now() - u.initiated.getTime() >= minAgeMs));
  const report: OrphanUpload[] = [];
  for (const u of orphans) {
    const orphan: OrphanUpload = { key: u.key, uploadId: u.uploadId, ...(u.initiated === undefined ? {} : { initiated: u.initiated.toISOString() }) };
    if (options.abortOrphans === true) {
      await backend.abortMultipart(container.name, u.key, u.uploadId);
      orphan.aborted = true;
    }
    report.push(orphan);
  }
  return report;
}

/** What the daemon adds to a check: its pending uploads and its metadata cache. */
export interface MountSide {
  busyKeys: ReadonlySet<string>;
  compareCache(objects: readonly ObjectInfo[]): Promise<NonNullable<CheckReport['cache']>>;
}

/** The whole check of one remote; `mount` when it runs inside the daemon serving it. */
export async function runCheck(container: Container, prefix: string, remote: string, options: CheckOptions, mount?: MountSide): Promise<CheckReport> {
  const objects = await listAll(container, prefix);
  const hostile = hostileKeys(objects, prefix);
  const orphans = await orphanUploads(container, prefix, options, mount?.busyKeys);
  const cache = mount === undefined ? undefined : await mount.compareCache(objects);
  const clean = hostile.length === 0 && orphans.length === 0 && (cache?.disagreements.length ?? 0) === 0;
  return { remote, keysScanned: objects.length, hostileKeys: hostile, orphanUploads: orphans, ...(cache === undefined ? {} : { cache }), clean };
}
