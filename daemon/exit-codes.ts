/**
 * The exit codes of the bucketfs command line, one per kind of failure, so
 * scripts can tell "not there" from "not allowed" from "try again later":
 *
 *   code  meaning                      typical causes
 *   ----  ---------------------------  ------------------------------------------------
 *      0  success
 *      1  other failure                checksum mismatch, a key that cannot be a file name
 *      2  usage                        bad arguments, malformed URL, unknown scheme,
 *                                      a prefix named without -r, local → local copies
 *      3  not found                    missing bucket, object, prefix or local file
 *      4  access denied                wrong or missing credentials, insecure credentials
 *                                      file, permission denied
 *      5  precondition / conflict      object changed during a transfer, file in the way
 *                                      of a directory, bucket not empty
 *      6  unsupported                  a feature the backend does not have
 *      7  transient / unreachable      endpoint unreachable, server 5xx, timeouts, throttling
 *    130  interrupted                  SIGINT (128 + 2, as shells report it)
 *
 * This module owns the mapping and the CLI's own error classes; it never prints.
 */
import { isNetworkError, isStorageError, type ErrorKind } from '../drivers/errors.js';

export const EXIT = {
  ok: 0,
  other: 1,
  usage: 2,
  notFound: 3,
  accessDenied: 4,
  conflict: 5,
  unsupported: 6,
  transient: 7,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in how the tool was called: wrong arguments, an impossible combination. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'Usage';
}

/** The user pressed Ctrl-C; in-flight work has been stopped and cleaned up. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  readonly code = 'Interrupted';
  constructor(detail?: string) {
    super(detail === undefined ? 'interrupted' : `interrupted: ${detail}`);
  }
}

/**
 * A failure whose line is already printed (a background daemon's start-up
 * failure, relayed as it wrote it): only its exit code is left to give.
 */
export class ReportedFailure extends Error {
  override readonly name = 'ReportedFailure';
  readonly code = 'Reported';
  constructor(readonly exitCode: number) {
    super(`failed with exit code ${exitCode}`);
  }
}

/** Reasons (from drivers/) that mean "the command line or URL is wrong" rather than the storage. */
const USAGE_REASONS = new Set(['InvalidRemote', 'NoSuchProfile']);
/** Reasons that are about credentials, whatever kind the driver gave them. */
const CREDENTIAL_REASONS = new Set(['NoCredentials', 'InsecureCredentialsFile', 'BadCredentialsFile', 'CredentialsProviderError']);

function codeForKind(kind: ErrorKind): ExitCode {
  switch (kind) {
    case 'NotFound':
      return EXIT.notFound;
    case 'AccessDenied':
      return EXIT.accessDenied;
    case 'AlreadyExists':
    case 'NotEmpty':
    case 'PreconditionFailed':
      return EXIT.conflict;
    case 'Unsupported':
      return EXIT.unsupported;
    case 'Transient':
      return EXIT.transient;
    case 'Other':
      return EXIT.other;
    default: {
      const unmapped: never = kind;
      return unmapped;
    }
  }
}

/** Local file-system errors by errno code. */
const ERRNO_CODES: Record<string, ExitCode> = {
  ENOENT: EXIT.notFound,
  EACCES: EXIT.accessDenied,
  EPERM: EXIT.accessDenied,
  EROFS: EXIT.accessDenied,
  EEXIST: EXIT.conflict,
  ENOTDIR: EXIT.conflict,
  EISDIR: EXIT.conflict,
  ENOTEMPTY: EXIT.conflict,
  EBUSY: EXIT.conflict,
};

/** The exit code for any error a command can throw. */
export function exitCodeFor(e: unknown): ExitCode {
  if (e instanceof InterruptedError) return EXIT.interrupted;
  if (e instanceof ReportedFailure) return e.exitCode as ExitCode;
  if (e instanceof UsageError) return EXIT.usage;
  if (isStorageError(e)) {
    if (e.reason !== undefined && USAGE_REASONS.has(e.reason)) return EXIT.usage;
    if (e.reason !== undefined && CREDENTIAL_REASONS.has(e.reason)) return EXIT.accessDenied;
    return codeForKind(e.kind);
  }
  if (isNetworkError(e)) return EXIT.transient;
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof errno === 'string' && errno in ERRNO_CODES) return ERRNO_CODES[errno] ?? EXIT.other;
  return EXIT.other;
}
