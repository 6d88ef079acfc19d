/**
 * The edge of the minio backend: every failure of a request (an
 * HttpStatusError from the transport, a socket error, a minio-js argument
 * error) becomes one StorageError of errors.ts here, with the original as
 * `cause`. Messages name the remote as `minio://host:port/bucket/key` and
 * never carry a credential.
 */
import { isNetworkError, isStorageError, kindFromS3Code, storageError } from '../errors.js';
import type { StorageError } from '../errors.js';
import { printable } from '../names.js';
import { HttpStatusError } from './connection.js';

const MIN_SECRET_LENGTH = 8;

/** Names remotes in messages: `minio://127.0.0.1:7480/bucket/key`. */
export class Namer {
  constructor(
    private readonly authority: string,
    private readonly secrets: readonly string[],
  ) {}

  url(bucket?: string, key?: string): string {
    const path = bucket === undefined ? '' : `/${bucket}${key === undefined ? '' : `/${key}`}`;
    return `minio://${this.authority}${printable(path)}`;
  }

  /**
   * Last line of defence: no secret reaches a message even if a library echoed
   * it. Strings too short to be real secrets are left alone: masking them
   * would only garble ordinary words.
   */
  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join('***');
    return out;
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/** Minio-js's own argument errors, by class name (its classes are not all exported). */
const MINIO_ARGUMENT_REASONS: Record<string, string> = {
  InvalidBucketNameError: 'InvalidBucketName',
  InvalidObjectNameError: 'InvalidKey',
  InvalidPrefixError: 'InvalidKey',
  InvalidArgumentError: 'InvalidArgument',
  ExpiresParamError: 'InvalidArgument',
  InvalidXMLError: 'InvalidResponse',
};

/** Node's own refusals of a header or URL we built (bad metadata name, lone surrogate…). */
const NODE_ARGUMENT_CODES = new Set(['ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN', 'ERR_UNESCAPED_CHARACTERS']);

function translateHttp(e: HttpStatusError, where: string, namer: Namer): StorageError {
  const kind = kindFromS3Code(e.code, e.status);
  const reason = e.code ?? `HTTP${e.status}`;
  return storageError(kind, namer.scrub(`${where}: ${e.message}`), { cause: e, reason, status: e.status });
}

/** Translates any failure of an operation on `where` (a `minio://…` name) into a StorageError. */
export function translate(e: unknown, where: string, namer: Namer): StorageError {
  if (isStorageError(e)) return e;
  if (e instanceof HttpStatusError) return translateHttp(e, where, namer);
  const message = namer.scrub(`${where}: ${describe(e)}`);
  if (isNetworkError(e)) {
    const code = (e as { code?: unknown }).code;
    return storageError('Transient', message, { cause: e, reason: typeof code === 'string' ? code : 'NetworkError' });
  }
  if (e instanceof Error) {
    const minioReason = MINIO_ARGUMENT_REASONS[e.name];
    if (minioReason !== undefined) return storageError('Other', message, { cause: e, reason: minioReason });
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NODE_ARGUMENT_CODES.has(code)) {
      return storageError('Other', message, { cause: e, reason: 'InvalidArgument' });
    }
    if (e instanceof URIError) return storageError('Other', message, { cause: e, reason: 'InvalidKey' });
  }
  return storageError('Other', message, { cause: e });
}
