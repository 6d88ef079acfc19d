/**
 * What the namespace tests share: buckets on the memory backend (with its
 * request counters), the local backend and Ceph RGW; a manual clock so TTLs
 * are tested without sleeping; and Vfs instances on a cache directory that
 * a test can reopen (a remount) with the same or other options.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { Backend } from '../../drivers/contract.js';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import { LocalBackend } from '../../drivers/local.js';
import { MemoryBackend } from '../../drivers/memory.js';
import { S3Backend } from '../../drivers/s3.js';
import { Driver, type Container } from '../../drivers/storage.js';
import type { LogLevel } from '../../cache/metadata/store.js';
import { createFileSystem, type Vfs, type VfsOptions } from '../../vfs/vfs.js';
import { useRgw } from '../servers/rgw.js';
import { removeBucket } from '../helpers/buckets.js';

export const OPTIONS = {
  attrTtlMs: 30_000,
  dirTtlMs: 30_000,
  negativeTtlMs: 5_000,
  uid: 1000,
  gid: 1000,
  fileMode: 0o644,
  dirMode: 0o755,
  exactAttrs: false,
  readOnly: false,
} as const;

export class ManualClock {
  ms = Date.UTC(2024, 0, 2, 3, 4, 5);
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface LogLine {
  level: LogLevel;
  message: string;
}

export type TargetName = 'memory' | 'local' | 'rgw';

export interface Bucket {
  name: TargetName;
  backend: Backend;
  /** The memory backend under any decorator, for request counters (memory target only). */
  memory: MemoryBackend | undefined;
  /** Wraps the backend: inject faults here (rules start empty). */
  faults: FaultBackend;
  container: Container;
}

/** A new empty directory, removed at the end of `t` (t.testdir() is one directory per test, wiped on each call). */
export async function scratchDir(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh bucket on `name`, removed at the end of `t`; undefined (with a SKIPPED line) when the server cannot run. */
export async function freshBucket(t: Test, name: TargetName): Promise<Bucket | undefined> {
  const bucket = `vfs-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  let backend: Backend;
  let memory: MemoryBackend | undefined;
  if (name === 'memory') {
    backend = memory = new MemoryBackend();
  } else if (name === 'local') {
    backend = new LocalBackend({ root: await scratchDir(t, 'bucketfs-vfs-bucket-') });
  } else {
    const server = await useRgw();
    if ('skipped' in server) {
      const line = `SKIPPED: ${t.name} on RGW: ${server.skipped}`;
      console.log(line);
      if (process.env['CI'] === 'true') t.fail(`${line} (under CI every backend must run)`);
      return undefined;
    }
    backend = new S3Backend({
      endpoint: server.endpoint,
      region: server.region,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
  }
  await backend.createBucket(bucket);
  const faults = new FaultBackend(backend);
  t.teardown(async () => {
    if (name !== 'memory') await removeBucket(backend, bucket);
    await backend.close();
  });
  return { name, backend, memory, faults, container: new Driver(faults).container(bucket) };
}


export interface Rig {
  bucket: Bucket;
  container: Container;
  cacheDir: string;
  clock: ManualClock;
  logs: LogLine[];
  vfs: Vfs;
  /** A new Vfs on the same cache directory and bucket (a remount); closed at the end of the test. */
  remount(overrides?: Partial<VfsOptions>): Promise<Vfs>;
  /** Calls of the memory backend since the last reset, by operation (memory target only). */
  requests(): Record<string, number>;
  resetRequests(): void;
}

export async function rig(t: Test, bucket: Bucket, overrides: Partial<VfsOptions> = {}): Promise<Rig> {
  const cacheDir = await scratchDir(t, 'bucketfs-vfs-cache-');
  const clock = new ManualClock();
  const logs: LogLine[] = [];
  const make = async (more: Partial<VfsOptions> = {}): Promise<Vfs> => {
    const vfs = await createFileSystem({
      ...OPTIONS,
      container: bucket.container,
      prefix: '',
      cacheDir,
      now: clock.now,
      log: (level, message) => logs.push({ level, message }),
      ...overrides,
      ...more,
    });
    t.teardown(() => vfs.close());
    return vfs;
  };
  const vfs = await make();
  const counters = (): Record<string, number> => bucket.memory?.counters ?? {};
  return {
    bucket, container: bucket.container, cacheDir, clock, logs, vfs,
    remount: make,
    requests: () => Object.fromEntries(Object.entries(counters()).filter(([, n]) => n > 0)),
    resetRequests: () => bucket.memory?.resetCounters(),
  };
}

/** Puts objects straight into the bucket (as another tool would). */
export async function seed(container: Container, objects: Record<string, string | Buffer>, metadata?: Record<string, string>): Promise<void> {
  for (const [key, body] of Object.entries(objects)) {
    await container.put(key, Buffer.from(body), metadata === undefined ? {} : { metadata });
  }
}

/** Every key in the bucket, sorted. */
export async function allKeys(container: Container): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of container.pages()) keys.push(...page.objects.map((o) => o.key));
  return keys;
}
