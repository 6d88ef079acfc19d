/**
 * What every operation module of the minio backend shares: the connection,
 * the namer for messages, and `guarded`, the one place a failure is
 * translated into the contract's errors.
 */
import { keyProblem } from '../checks.js';
import { OtherError } from '../errors.js';
import { uriEscape } from '../wire/s3-format.js';
import type { Connection } from './connection.js';
import { translate } from './errors.js';
import type { Namer } from './errors.js';

export interface MinioContext {
  readonly conn: Connection;
  readonly namer: Namer;
  readonly maxKeyBytes: number;
}

/** Runs one operation on `where`; whatever it throws leaves as a StorageError. */
export async function guarded<T>(ctx: MinioContext, where: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw translate(e, where, ctx.namer);
  }
}

/** Refuses keys S3 cannot store, before any request (see keyProblem). */
export function checkKey(ctx: MinioContext, bucket: string, key: string): void {
  const why = keyProblem(key, ctx.maxKeyBytes);
  if (why === undefined) return;
  const where = ctx.namer.url(bucket, key.length > 80 ? `${key.slice(0, 40)}…` : key);
  throw new OtherError(`${where}: invalid key: ${why}`, { reason: 'InvalidKey' });
}

/** Builds a query string from parameters, skipping undefined ones; `true` is a bare flag (`?uploads`). */
export function query(params: Record<string, string | number | true | undefined>): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => (v === true ? k : `${k}=${uriEscape(String(v))}`))
    .join('&');
}
