/**
 * Turns any failure into the one line a user sees:
 *   bucketfs: <what failed, naming the remote>: <why>[; <how to fix it>]
 * and its exit code (exit-codes.ts). The line never carries a secret: URLs
 * lose any user:password part and the values of secret environment variables
 * are blanked, whatever the error said. Stacks only under BUCKETFS_DEBUG=1.
 */
import { inspect } from 'node:util';
import { isNetworkError, isStorageError, type StorageError } from '../drivers/errors.js';
import { defaultCredentialsFile, envHint } from '../drivers/credentials.js';
import type { RemoteSpec } from '../drivers/remote.js';
import type { Io } from './command.js';
import { EXIT, InterruptedError, ReportedFailure, UsageError, exitCodeFor } from './exit-codes.js';
import { oneLine } from './format.js';

/** A failure and what was being done when it happened ("cannot stat s3://b/k"); the innermost context wins. */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  constructor(readonly what: string, readonly failure: unknown, readonly remote?: RemoteSpec) {
    super(what, { cause: failure });
  }
}

/** Runs `work`, naming what it was doing if it fails. */
export async function inContext<T>(what: string, work: () => Promise<T>, remote?: RemoteSpec): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof CommandFailure || e instanceof InterruptedError || e instanceof UsageError) throw e;
    throw new CommandFailure(what, e, remote);
  }
}

const FRIENDLY_REASONS: Record<string, string> = {
  NoSuchBucket: 'the bucket does not exist',
  NoSuchKey: 'no such object',
  // The AWS SDK's default chain found nothing (s3 remotes fall back to it).
  CredentialsProviderError: 'no credentials found',
};

/** Where credentials come from, for a remote that needs them. */
function credentialSources(spec: RemoteSpec, env: NodeJS.ProcessEnv): string | undefined {
  if (spec.kind !== 's3' && spec.kind !== 'minio' && spec.kind !== 'oss') return undefined;
  return `${envHint(spec.kind)}, or a profile in ${defaultCredentialsFile(env)}`;
}

function credentialsHint(e: StorageError, spec: RemoteSpec, env: NodeJS.ProcessEnv): string | undefined {
  const sources = credentialSources(spec, env);
  if (sources === undefined) return undefined;
  if (e.reason === 'CredentialsProviderError') return `set ${sources}`;
  if (e.kind === 'AccessDenied' && e.reason !== 'InsecureCredentialsFile') return `check the credentials (${sources})`;
  return undefined;
}

function endpointOf(spec: RemoteSpec): string {
  if (spec.host !== undefined) return spec.port === undefined ? spec.host : `${spec.host}:${spec.port}`;
  return spec.options['endpoint'] ?? `the ${spec.kind} endpoint`;
}

function storageWhy(e: StorageError, remote: RemoteSpec | undefined, env: NodeJS.ProcessEnv): string {
  const why = ((e.reason !== undefined && FRIENDLY_REASONS[e.reason]) || e.message).replace(/\.+$/, '');
  if (remote === undefined) return why;
  const hint = credentialsHint(e, remote, env);
  if (hint !== undefined) return `${why}; ${hint}`;
  if (e.kind === 'Transient' && isNetworkError(e)) return `${why}; is ${endpointOf(remote)} up and reachable?`;
  return why;
}

/** Node's "ENOENT: no such file or directory, open '/x'" → "/x: no such file or directory". */
function errnoWhy(e: NodeJS.ErrnoException): string {
  const text = e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/s, '');
  return e.path === undefined ? text : `${e.path}: ${text}`;
}

function why(e: unknown, remote: RemoteSpec | undefined, env: NodeJS.ProcessEnv): string {
  if (isStorageError(e)) return storageWhy(e, remote, env);
  const errno = e as NodeJS.ErrnoException;
  if (typeof errno?.code === 'string' && typeof errno.syscall === 'string') return errnoWhy(errno);
  return e instanceof Error ? e.message : String(e);
}

/** The text of the failure line, before scrubbing. */
function describe(e: unknown, env: NodeJS.ProcessEnv): string {
  if (e instanceof CommandFailure) {
    const inner = e.failure;
    // These messages already name the remote or file, and say how to fix it.
    if (isStorageError(inner) && (inner.reason === 'InvalidRemote' || inner.reason === 'NoCredentials')) return inner.message;
    return `${e.what}: ${why(inner, e.remote, env)}`;
  }
  return why(e, undefined, env);
}

const SECRET_NAME = /SECRET|PASSWORD|TOKEN|PRIVATE/i;
/** Shorter values would blank ordinary words. */
const MIN_SECRET_LENGTH = 6;

/** Removes user:password from URLs and the values of secret environment variables. */
export function scrubSecrets(text: string, env: NodeJS.ProcessEnv): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@/\s'"]*@/gi, '$1***@');
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.length >= MIN_SECRET_LENGTH && SECRET_NAME.test(name)) out = out.split(value).join('[redacted]');
  }
  return out;
}

export function failureLine(e: unknown, env: NodeJS.ProcessEnv): string {
  return `bucketfs: ${scrubSecrets(oneLine(describe(e, env)), env)}`;
}

/** Prints the failure line (and, under BUCKETFS_DEBUG=1, the error chain) and returns the exit code. */
export function reportFailure(e: unknown, io: Io): number {
  if (e instanceof ReportedFailure) return e.exitCode;
  io.stderr.write(`${failureLine(e, io.env)}\n`);
  if (io.env['BUCKETFS_DEBUG'] === '1') io.stderr.write(`${scrubSecrets(inspect(e, { depth: 6 }), io.env)}\n`);
  const inner = e instanceof CommandFailure ? e.failure : e;
  const code = exitCodeFor(inner);
  return code === EXIT.ok ? EXIT.other : code;
}
