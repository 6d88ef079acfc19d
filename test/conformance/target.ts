/**
 * What a conformance run needs from a driver's test file. Each backend's test
 * entry (test/drivers/<name>.test.ts) builds one of these and calls
 * `runConformance` (test/conformance/index.ts): the suite is written once and
 * every backend passes the same checks.
 */
import type { Backend } from '../../drivers/contract.js';

export interface ConformanceTarget {
  /** Shown in test names and SKIPPED lines, e.g. 's3 (RGW)', 'minio (RGW)', 'local'. */
  name: string;
  /** The backend as users get it from openRemote (decorators included). */
  backend: Backend;
  /** A fresh empty bucket the suite owns for this run (already created). */
  bucket: string;
  /** Makes a new bucket name that does not exist yet (for bucket-level tests). */
  freshBucketName(): string;
  /** The same server with wrong credentials, for the AccessDenied mapping; absent where no credentials exist (local, memory). */
  denied?: Backend;
  /** A backend whose server answers 5xx or is unreachable, for the Transient mapping. */
  failing?: Backend;
  /** Features this server lacks although the backend supports them (e.g. s3rver: no versioning). Each is reported as a SKIPPED line by the suite, never a silent pass. */
  serverLacks?: Partial<Record<ServerFeature, string>>;
}

/**
 * What a server may lack. Most name an optional feature; the rest name a
 * part of S3's behaviour the suite checks that a partial server gets wrong:
 * - keys: `longKeySegments` (a 1,024-byte key with no '/' in it),
 *   `emptySegments` ('a//b'), `dotSegments` ('.' and '..' kept as written),
 *   `controlCharKeys` (CR listed as CR), `copySpecialKeys` (copy sources
 *   holding + # ? & $ , ; @ = :), `keyOrder` (listings in UTF-8 byte order);
 * - listings: `nestedPrefixes` (a common prefix whose keys all lie deeper);
 * - writes: `atomicWrites` (concurrent writers of one key leave one whole body),
 *   `batchDelete` (deleting several keys at once, in one request or in parallel),
 *   `tagsOnPut` (tags sent with a PUT), `partSizeRule` (EntityTooSmall),
 *   `listMultipartUploads`.
 */
export type ServerFeature =
  | 'versions'
  | 'uploadPartCopy'
  | 'listParts'
  | 'listMultipartUploads'
  | 'abortMultipart'
  | 'partSizeRule'
  | 'multipartEtag'
  | 'deleteTags'
  | 'tagsOnPut'
  | 'conditionalWrite'
  | 'signedUrls'
  | 'acls'
  | 'restore'
  | 'notifications'
  | 'atomicWrites'
  | 'batchDelete'
  | 'nestedPrefixes'
  | 'keyOrder'
  | 'longKeySegments'
  | 'emptySegments'
  | 'dotSegments'
  | 'controlCharKeys'
  | 'copySpecialKeys';
