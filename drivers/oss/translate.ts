/**
 * The edge where OSS failures become StorageErrors: error replies (XML body,
 * or the base64 `x-oss-err` header a body-less HEAD reply carries) and
 * transport failures thrown by ali-oss/urllib. Messages name the object as
 * `oss://bucket/key` and the operation; they never carry a credential.
 */
import {
  isNetworkError,
  isStorageError,
  kindFromS3Code,
  storageError,
  type ErrorKind,
  type StorageError,
} from '../errors.js';

/** What was being done, for messages. */
export interface Where {
  op: string;
  url: string;
}

export function ossUrl(bucket?: string, key?: string): string {
  if (bucket === undefined) return 'oss://';
  return key === undefined ? `oss://${bucket}` : `oss://${bucket}/${key}`;
}

export function at(op: string, bucket?: string, key?: string): Where {
  return { op, url: ossUrl(bucket, key) };
}

/** The code and message OSS put in an error reply, when it gave any. */
export interface ErrorDetail {
  code?: string;
  message?: string;
}

/**
 * OSS codes whose S3 meaning would mislead kindFromS3Code: a wrong append
 * position answers 409 (the position is the precondition that failed).
 */
const KIND_OVERRIDES: Record<string, ErrorKind> = {
  // Only sent when this backend asked for x-oss-forbid-overwrite: the conditional create failed.
  FileAlreadyExists: 'PreconditionFailed',
  ObjectNotAppendable: 'Other',
  PositionNotEqualToLength: 'PreconditionFailed',
};

/** The StorageError for an error reply. */
export function replyError(status: number, detail: ErrorDetail, where: Where, cause?: unknown): StorageError {
  const code = detail.code;
  const kind = (code !== undefined && KIND_OVERRIDES[code]) || kindFromS3Code(code, status);
  const what = code ?? `HTTP ${status}`;
  const message = `${where.url}: ${where.op} failed: ${what}${detail.message ? `: ${detail.message}` : ''} (HTTP ${status})`;
  return storageError(kind, message, {
    ...(code !== undefined && { reason: code }),
    status,
    cause: cause ?? Object.assign(new Error(`${what} (HTTP ${status})`), { code, status }),
  });
}

/** The StorageError for a per-key failure inside a successful reply (DeleteMultipleObjects). */
export function codeError(detail: { code: string; message: string }, where: Where): StorageError {
  const kind = KIND_OVERRIDES[detail.code] ?? kindFromS3Code(detail.code, undefined);
  return storageError(kind, `${where.url}: ${where.op} failed: ${detail.code}: ${detail.message}`, {
    reason: detail.code,
    cause: Object.assign(new Error(detail.message), { code: detail.code }),
  });
}

/** Names urllib and ali-oss give failures of the connection itself. */
const TRANSPORT_ERROR_NAMES = new Set([
  'RequestError',
  'ResponseError',
  'ConnectionTimeoutError',
  'ResponseTimeoutError',
  'SocketAssignTimeoutError',
  'SocketError',
]);

interface ThrownShape {
  name?: unknown;
  status?: unknown;
  code?: unknown;
  message?: unknown;
}

/** The StorageError for an exception: transport failures are Transient, anything unknown is Other. */
export function thrownError(e: unknown, where: Where): StorageError {
  if (isStorageError(e)) return e;
  const err = (typeof e === 'object' && e !== null ? e : {}) as ThrownShape;
  const name = typeof err.name === 'string' ? err.name : '';
  const text = typeof err.message === 'string' ? err.message.split('\n')[0] : String(e);
  // urllib marks a failed connection with status -1 and a timeout with -2.
  const transport =
    err.status === -1 || err.status === -2 || TRANSPORT_ERROR_NAMES.has(name) || isNetworkError(e);
  const kind: ErrorKind = transport ? 'Transient' : 'Other';
  return storageError(kind, `${where.url}: ${where.op} failed: ${name || 'Error'}: ${text}`, {
    cause: e,
    reason: transport ? 'NetworkError' : name || 'Unknown',
  });
}
