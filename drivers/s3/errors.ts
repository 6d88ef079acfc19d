/**
 * The edge where AWS SDK failures become StorageErrors. Every call the s3
 * backend makes goes through `s3Call`, so no SDK error escapes drivers/s3.
 * Messages name the object (`s3://bucket/key`) and the operation, never a
 * credential.
 */
import {
  isNetworkError,
  isStorageError,
  kindFromS3Code,
  storageError,
  type StorageError,
} from '../errors.js';

/** What failed, for the message and for reasons a body-less reply cannot give. */
export interface Where {
  /** The S3 operation name, e.g. 'HeadObject'. */
  op: string;
  bucket?: string;
  key?: string;
  /**
   * Reason of a body-less 404 (HEAD requests carry no error code): 'NoSuchBucket'
   * for HeadBucket; for HeadObject the caller finds out which one it was.
   */
  notFound?: 'NoSuchKey' | 'NoSuchBucket';
}

interface SdkErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { statusCode?: unknown };
}

/** Names the SDK gives errors that carry no S3 error code. */
const NOT_S3_CODES = new Set(['Error', 'Unknown', 'UnknownError', 'TypeError', 'RangeError', 'SyntaxError']);

export function s3Url(bucket?: string, key?: string): string {
  if (bucket === undefined) return 's3://';
  return key === undefined ? `s3://${bucket}` : `s3://${bucket}/${key}`;
}

export function httpStatusOf(e: unknown): number | undefined {
  const err = e as SdkErrorShape | null;
  const status = err?.$metadata?.httpStatusCode ?? err?.$response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function s3CodeOf(e: unknown): string | undefined {
  const err = e as SdkErrorShape | null;
  for (const candidate of [err?.Code, err?.name]) {
    if (typeof candidate === 'string' && candidate !== '' && !NOT_S3_CODES.has(candidate)) return candidate;
  }
  return undefined;
}

function describe(e: unknown, code: string | undefined, status: number | undefined): string {
  const parts: string[] = [];
  if (code !== undefined) parts.push(code);
  if (status !== undefined) parts.push(`(HTTP ${status})`);
  const message = e instanceof Error ? e.message : String(e);
  // The SDK's placeholder messages add nothing to the code and status.
  if (message && message !== 'UnknownError' && message !== code) parts.push(message.split('\n')[0] ?? '');
  return parts.join(' ');
}

/** Translates any failure of an SDK call into a StorageError with `cause`. */
export function translateS3Error(e: unknown, where: Where): StorageError {
  if (isStorageError(e)) return e;
  const status = httpStatusOf(e);
  const code = s3CodeOf(e);
  const prefix = `${s3Url(where.bucket, where.key)}: ${where.op}`;
  if (status === undefined && isNetworkError(e)) {
    const netCode = (e as SdkErrorShape).code;
    const reason = typeof netCode === 'string' ? netCode : code;
    return storageError('Transient', `${prefix}: network failure: ${describe(e, undefined, undefined)}`, {
      cause: e,
      ...(reason === undefined ? {} : { reason }),
    });
  }
  const kind = kindFromS3Code(code, status);
  let reason = code;
  if (kind === 'NotFound' && (code === undefined || code === 'NotFound')) reason = where.notFound ?? 'NotFound';
  return storageError(kind, `${prefix} failed: ${describe(e, code, status)}`, {
    cause: e,
    ...(reason === undefined ? {} : { reason }),
    ...(status === undefined ? {} : { status }),
  });
}

/** Runs one SDK call and translates its failure. */
export async function s3Call<T>(where: Where, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw translateS3Error(e, where);
  }
}
