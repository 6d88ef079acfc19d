/**
 * The few bucket requests the namespace makes, each in its cheapest form:
 * HEAD that answers "absent" instead of throwing, a one-key LIST to tell
 * whether a directory exists, directory markers, and server-side copies
 * that skip copyObject's HEAD when the source's size is already known.
 */
import type { Metadata, ObjectInfo, WriteResult } from '../../drivers/contract.js';
import { isStorageError } from '../../drivers/errors.js';
import type { Container } from '../../drivers/storage.js';
import { DIRECTORY_CONTENT_TYPE } from '../object-format.js';

/** HEAD; undefined when the object does not exist (a missing bucket still throws). */
export async function headOrAbsent(container: Container, key: string): Promise<ObjectInfo | undefined> {
  try {
    return await container.head(key);
  } catch (e) {
    if (isStorageError(e, 'NotFound') && e.reason !== 'NoSuchBucket') return undefined;
    throw e;
  }
}

export interface DirProbe {
  /** Something exists under the prefix. */
  exists: boolean;
  /** The marker object (`dir/`), when it exists. */
  marker: ObjectInfo | undefined;
}

/**
 * One LIST of max-keys 1 under `dirKey`: the marker sorts first among the
 * keys of its prefix, so one key says both whether the directory exists and
 * whether it has a marker.
 */
export async function probeDirectory(container: Container, dirKey: string): Promise<DirProbe> {
  const page = await container.listPage({ prefix: dirKey, delimiter: '/', maxKeys: 1 });
  const marker = page.objects.find((o) => o.key === dirKey);
  return { exists: page.objects.length > 0 || page.prefixes.length > 0, marker };
}

/** True when anything other than the marker lies under `dirKey` (one LIST of max-keys 2). */
export async function hasRemoteChildren(container: Container, dirKey: string): Promise<boolean> {
  const page = await container.listPage({ prefix: dirKey, delimiter: '/', maxKeys: 2 });
  return page.prefixes.length > 0 || page.objects.some((o) => o.key !== dirKey);
}

/** Writes the directory marker `dirKey` (empty, application/x-directory, s3fs style) carrying `metadata`. */
export function putMarker(container: Container, dirKey: string, metadata: Metadata): Promise<WriteResult> {
  return container.put(dirKey, Buffer.alloc(0), { contentType: DIRECTORY_CONTENT_TYPE, metadata });
}

export interface CopySource {
  key: string;
  /** The source's size when known: a copy within the backend's single-copy limit then needs no HEAD. */
  size?: number | undefined;
}

/**
 * Server-side copy `source` → `destKey`, replacing the metadata when
 * `metadata` is given (a self-copy with new metadata is how attributes
 * change). Above the backend's single-copy limit, or with an unknown size,
 * container.copy heads the source and copies part by part when needed.
 */
export function copyObject(
  container: Container,
  source: CopySource,
  destKey: string,
  replace?: { metadata: Metadata; contentType?: string | undefined },
): Promise<WriteResult> {
  const options = replace === undefined ? {} : {
    metadata: replace.metadata,
    ...(replace.contentType !== undefined && { contentType: replace.contentType }),
  };
  const backend = container.driver.backend;
  if (source.size !== undefined && source.size <= backend.limits.maxCopySize) {
    return backend.copy({ bucket: container.name, key: source.key }, { bucket: container.name, key: destKey }, options);
  }
  return container.copy(source.key, destKey, options);
}
