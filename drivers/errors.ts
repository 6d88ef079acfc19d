/**
 * The one closed set of storage errors. Every backend translates its SDK's
 * failures into exactly these kinds at its edge; nothing above drivers/ ever
 * sees an SDK error. An unknown failure is `Other`, never `NotFound`.
 *
 * Messages name the remote object (`s3://bucket/key`) and never a credential.
 */

export const ERROR_KINDS = [
  'NotFound',
  'AlreadyExists',
  'NotEmpty',
  'PreconditionFailed',
  'AccessDenied',
  'Unsupported',
  'Transient',
  'Other',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

export interface StorageErrorOptions {
  cause?: unknown;
  /** A finer, stable reason within the kind, e.g. 'NoSuchBucket', 'InvalidRange', 'InvalidKey'. */
  reason?: string;
  /** HTTP status when the failure came from a server. */
  status?: number;
}

export class StorageError extends Error {
  readonly kind: ErrorKind;
  readonly reason: string | undefined;
  readonly status: number | undefined;

  constructor(kind: ErrorKind, message: string, options: StorageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.name = `${kind}Error`;
    this.reason = options.reason;
    this.status = options.status;
  }

  /** Stable machine-readable code: the kind. */
  get code(): ErrorKind {
    return this.kind;
  }
}

function kindClass<K extends ErrorKind>(kind: K) {
  return class extends StorageError {
    constructor(message: string, options: StorageErrorOptions = {}) {
      super(kind, message, options);
    }
  };
}

export class NotFoundError extends kindClass('NotFound') {}
export class AlreadyExistsError extends kindClass('AlreadyExists') {}
export class NotEmptyError extends kindClass('NotEmpty') {}
export class PreconditionFailedError extends kindClass('PreconditionFailed') {}
export class AccessDeniedError extends kindClass('AccessDenied') {}
export class UnsupportedError extends kindClass('Unsupported') {}
export class TransientError extends kindClass('Transient') {}
export class OtherError extends kindClass('Other') {}

const CLASSES: { [K in ErrorKind]: new (message: string, options?: StorageErrorOptions) => StorageError } = {
  NotFound: NotFoundError,
  AlreadyExists: AlreadyExistsError,
  NotEmpty: NotEmptyError,
  PreconditionFailed: PreconditionFailedError,
  AccessDenied: AccessDeniedError,
  Unsupported: UnsupportedError,
  Transient: TransientError,
  Other: OtherError,
};

/** Builds the error class of `kind`; used by the translators at each backend's edge. */
export function storageError(kind: ErrorKind, message: string, options: StorageErrorOptions = {}): StorageError {
  return new CLASSES[kind](message, options);
}

export function isStorageError(e: unknown, kind?: ErrorKind): e is StorageError {
  return e instanceof StorageError && (kind === undefined || e.kind === kind);
}

/** The Unsupported error every backend raises for a feature it lacks. */
export function unsupported(backend: string, feature: string, detail?: string): UnsupportedError {
  return new UnsupportedError(`${feature} is not supported by ${backend}${detail ? `: ${detail}` : ''}`, {
    reason: 'NotSupported',
  });
}

/**
 * Maps an S3-style error code and HTTP status (S3, MinIO, OSS and RGW all
 * speak these) onto a kind. Codes win over statuses; an unknown 4xx is
 * `Other`, an unknown 5xx or 429 is `Transient`.
 */
export function kindFromS3Code(code: string | undefined, status: number | undefined): ErrorKind {
  switch (code) {
    case 'NoSuchKey':
    case 'NoSuchBucket':
    case 'NoSuchUpload':
    case 'NoSuchVersion':
    case 'NoSuchTagSet':
    case 'NotFound':
      return 'NotFound';
    case 'BucketAlreadyExists':
    case 'BucketAlreadyOwnedByYou':
    case 'ObjectAlreadyExists':
    case 'FileAlreadyExists':
      return 'AlreadyExists';
    case 'BucketNotEmpty':
      return 'NotEmpty';
    case 'PreconditionFailed':
    case 'ConditionalRequestConflict':
      return 'PreconditionFailed';
    case 'AccessDenied':
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'AllAccessDisabled':
    case 'AccountProblem':
    case 'ExpiredToken':
    case 'InvalidToken':
    case 'Forbidden':
      return 'AccessDenied';
    case 'NotImplemented':
      return 'Unsupported';
    case 'InvalidObjectState':
    case 'InvalidRange':
      // An archived object that needs a restore answers 403, a range past the end 416: neither is a credentials problem.
      return 'Other';
    case 'SlowDown':
    case 'ServiceUnavailable':
    case 'InternalError':
    case 'RequestTimeout':
    case 'RequestTimeTooSkewed':
    case 'Throttling':
    case 'ThrottlingException':
    case 'TooManyRequests':
      return 'Transient';
    default:
      break;
  }
  if (status === undefined) return 'Other';
  if (status === 404) return 'NotFound';
  if (status === 401 || status === 403) return 'AccessDenied';
  if (status === 409) return 'Other';
  if (status === 412) return 'PreconditionFailed';
  if (status === 501) return 'Unsupported';
  if (status === 429 || status >= 500) return 'Transient';
  return 'Other';
}

const TRANSIENT_NET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'TimeoutError',
  'RequestTimeout',
]);

/** True for errors of the network itself (refused, reset, timed out): worth a retry. */
export function isNetworkError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { code?: unknown; name?: unknown; cause?: unknown };
  if (typeof err.code === 'string' && TRANSIENT_NET_CODES.has(err.code)) return true;
  if (typeof err.name === 'string' && TRANSIENT_NET_CODES.has(err.name)) return true;
  return err.cause !== undefined && err.cause !== e && isNetworkError(err.cause);
}
