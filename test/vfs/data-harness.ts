/**
 * What the data-path tests share: a data path over a fresh bucket on the
 * memory backend (request counters), the local backend or Ceph RGW, with the
 * `uploaded` hook recorded; open helpers that build the OpenTarget the
 * namespace would (HEAD first, as open() revalidates); and a seeded PRNG so
 * randomised runs repeat exactly.
 */
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import type { Backend, Metadata } from '../../drivers/contract.js';
import { isStorageError } from '../../drivers/errors.js';
import { LocalBackend } from '../../drivers/local.js';
import { MemoryBackend } from '../../drivers/memory.js';
import { S3Backend } from '../../drivers/s3.js';
import { Driver, type Container } from '../../drivers/storage.js';
import type { OpenTarget, UploadedObject } from '../../vfs/data-contract.js';
import { createDataPath, type DataPathOptions, type FileDataPath } from '../../vfs/data/index.js';
import { errnoName } from '../../vfs/errno.js';
import { useRgw } from '../servers/rgw.js';
import { removeBucket } from '../helpers/buckets.js';

export const MiB = 1024 * 1024;

export interface Rig {
  name: string;
  backend: Backend;
  container: Container;
  cacheDir: string;
  data: FileDataPath;
  uploads: UploadedObject[];
  /** A second data path on the same container (a fresh cache dir unless given). */
  another(options?: Partial<DataPathOptions>): FileDataPath;
}

export type RigOptions = Partial<Omit<DataPathOptions, 'container' | 'hooks'>>;

/**
 * t.testdir(), made after a teardown hook exists: tap then runs the
 * teardowns (closing data paths, which finish background chunk writes)
 * before it removes the directory, not after.
 */
function testdir(t: Test): string {
  t.teardown(() => undefined);
  return t.testdir();
}

/** `root` is the test's t.testdir(), taken once: each call of t.testdir() wipes it. */
function rigOn(t: Test, name: string, backend: Backend, bucket: string, root: string, options: RigOptions): Rig {
  const cacheDir = options.cacheDir ?? `${root}/cache`;
  const container = new Driver(backend).container(bucket);
  const uploads: UploadedObject[] = [];
  const made: FileDataPath[] = [];
  const make = (more: Partial<DataPathOptions>) => {
    const data = createDataPath({ container, cacheDir, hooks: { uploaded: (o) => uploads.push(o) }, ...options, ...more });
    made.push(data);
    return data;
  };
  t.teardown(async () => {
    for (const data of made) await data.close().catch(() => undefined);
  });
  return { name, backend, container, cacheDir, data: make({}), uploads, another: (more = {}) => make({ cacheDir: `${root}/cache-${made.length}`, ...more }) };
}

/** A rig on a fresh in-memory bucket; `wrap` puts a decorator (FaultBackend…) between the data path and the store. */
export async function memoryRig(t: Test, options: RigOptions = {}, wrap?: (b: MemoryBackend) => Backend): Promise<Rig & { memory: MemoryBackend }> {
  const memory = new MemoryBackend();
  await memory.createBucket('data');
  return { ...rigOn(t, 'memory', wrap ? wrap(memory) : memory, 'data', testdir(t), options), memory };
}

export async function localRig(t: Test, options: RigOptions = {}): Promise<Rig> {
  const root = testdir(t);
  const backend = new LocalBackend({ root: `${root}/store` });
  await backend.createBucket('data');
  t.teardown(() => backend.close());
  return rigOn(t, 'local', backend, 'data', root, options);
}

/** A rig on a fresh RGW bucket (removed in teardown), or undefined after a SKIPPED line. */
export async function rgwRig(t: Test, options: RigOptions = {}, wrap?: (b: Backend) => Backend): Promise<Rig | undefined> {
  const server = await useRgw();
  if ('skipped' in server) {
    const line = `SKIPPED: data path on Ceph RGW: ${server.skipped}`;
    console.log(line);
    if (process.env['CI'] === 'true') t.fail(`${line} (under CI every backend must run)`);
    return undefined;
  }
  const backend = new S3Backend({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  const bucket = `data-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  await backend.createBucket(bucket);
  t.teardown(async () => {
    await removeBucket(backend, bucket);
    await backend.close();
  });
  return rigOn(t, 'rgw', wrap ? wrap(backend) : backend, bucket, testdir(t), options);
}


/** The OpenTarget of `key`: HEADed when it exists (as the namespace's open does), new otherwise. */
export async function targetOf(container: Container, key: string, metadata: Metadata = {}): Promise<OpenTarget> {
  try {
    const info = await container.head(key);
    return { path: `/${key}`, key, exists: true, size: info.size, etag: info.etag, metadata: info.metadata ?? metadata };
  } catch (e) {
    if (!isStorageError(e, 'NotFound')) throw e;
    return { path: `/${key}`, key, exists: false, size: 0, etag: undefined, metadata };
  }
}

export async function openKey(rig: Pick<Rig, 'container' | 'data'>, key: string, flags: number, data = rig.data): Promise<number> {
  return data.open(await targetOf(rig.container, key), flags);
}

/** Reads [position, position + length) through a handle in `piece`-sized reads (like the kernel's 128 KiB). */
export async function readThrough(data: FileDataPath, fh: number, position: number, length: number, piece = 128 * 1024): Promise<Buffer> {
  const out: Buffer[] = [];
  for (let at = position; at < position + length; at += piece) {
    const buffer = Buffer.alloc(Math.min(piece, position + length - at));
    const n = await data.read(fh, buffer, buffer.length, at);
    out.push(buffer.subarray(0, n));
    if (n < buffer.length) break;
  }
  return Buffer.concat(out);
}

export async function objectBytes(container: Container, key: string): Promise<Buffer> {
  const info = await container.head(key);
  return container.getRange(key, { start: 0, end: info.size });
}

/** The errno name a promise rejects with (undefined when it resolves). */
export async function errnoOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return errnoName(e);
  }
}

/** mulberry32: small, seeded, so a failing random run repeats exactly. */
export function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
  };
}
