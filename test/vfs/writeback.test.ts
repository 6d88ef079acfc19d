/**
 * The async write mode on the memory backend, failures injected with
 * FaultBackend: close returns before the upload, flushAll is a barrier,
 * transient failures are retried with backoff, permanent ones show in
 * stats, a newer version supersedes a queued one, unlink drops a pending
 * upload and rename retargets it, and a restart on the same cache directory
 * replays the journal (multipart uploads cut off are aborted).
 */
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { Test } from 'tap';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import type { MemoryBackend } from '../../drivers/memory.js';
import type { PendingObject } from '../../vfs/data-contract.js';
import { createDataPath, type FileDataPath } from '../../vfs/data/index.js';
import { OPEN_HOLD_MS } from '../../vfs/data/writeback.js';
import { O_CREAT, O_RDONLY, O_WRONLY } from '../../vfs/types.js';
import { errnoOf, memoryRig, MiB, objectBytes, openKey, readThrough, type Rig } from './data-harness.js';

const FAST = { baseMs: 10, maxMs: 40, permanentMs: 200 };

async function asyncRig(t: Test, concurrency = 4): Promise<Rig & { memory: MemoryBackend; fault: FaultBackend }> {
  let fault: FaultBackend | undefined;
  const options = { writeMode: 'async' as const, writeback: { backoff: FAST, concurrency }, partSize: 8 * MiB, multipartThreshold: 8 * MiB };
  const rig = await memoryRig(t, options, (memory) => (fault = new FaultBackend(memory)));
  t.teardown(() => fault?.clear());
  return { ...rig, fault: fault as FaultBackend };
}

/** Creates `key` with `body` and closes it (acknowledged in async mode). */
async function writeFile(rig: Pick<Rig, 'container' | 'data'>, key: string, body: Buffer | string, data = rig.data): Promise<void> {
  const bytes = Buffer.from(body);
  const fh = await openKey(rig, key, O_CREAT | O_WRONLY, data);
  await data.write(fh, bytes, bytes.length, 0);
  await data.release(fh);
}

async function exists(rig: Rig & { memory: MemoryBackend }, key: string): Promise<boolean> {
  return rig.memory.head('data', key).then(
    () => true,
    () => false,
  );
}

t.test('close returns before the upload; reads see the local bytes; flushAll waits for the bucket', async (t) => {
  const rig = await asyncRig(t);
  rig.fault.inject({ op: 'put', latencyMs: 300 });
  const started = Date.now();
  await writeFile(rig, 'a', 'acknowledged');
  t.ok(Date.now() - started < 250, 'close did not wait for the 300 ms PUT');
  t.notOk(await exists(rig, 'a'), 'not in the bucket yet');
  t.ok(rig.data.isDirty('/a'), 'the file is pending');
  t.same(rig.data.stats().uploads.pending.map((p) => [p.path, p.bytes]), [['/a', 12]], 'status lists the pending upload');
  const fh = await openKey(rig, 'a', O_RDONLY);
  t.equal((await readThrough(rig.data, fh, 0, 100)).toString(), 'acknowledged', 'a reopen reads the acknowledged bytes');
  await rig.data.release(fh);
  const progress: [number, number][] = [];
  await rig.data.flushAll((done, total) => progress.push([done, total]));
  t.equal((await objectBytes(rig.container, 'a')).toString(), 'acknowledged', 'flushAll resolved once the object was in the bucket');
  t.same(progress.at(-1), [1, 1], 'progress reached 1 of 1');
  t.same(rig.data.stats().uploads.pending, [], 'nothing pending');
  t.notOk(rig.data.isDirty('/a'), 'clean after the upload');
  t.equal(rig.uploads.length, 1, 'the namespace was told once');
});

t.test('transient failures are retried with backoff, then succeed', async (t) => {
  const rig = await asyncRig(t);
  rig.fault.inject({ op: 'put', error: 'Transient', times: 3 });
  await writeFile(rig, 'r', 'retry me');
  await rig.data.flushAll();
  t.equal((await objectBytes(rig.container, 'r')).toString(), 'retry me');
  t.equal(rig.data.stats().uploads.retries, 3, 'three failed attempts were retried');
});

t.test('a permanent error shows in stats, flushAll rejects naming the file, and it is not retried in a tight loop', async (t) => {
  const rig = await asyncRig(t);
  rig.fault.inject({ op: 'put', error: 'AccessDenied' });
  await writeFile(rig, 'p', 'denied');
  t.equal(await errnoOf(rig.data.flushAll()), 'EIO', 'the barrier fails');
  await t.rejects(rig.data.flushAll(), /\/p/, 'naming the path');
  const [pending] = rig.data.stats().uploads.pending;
  t.equal(pending?.path, '/p');
  t.match(pending?.lastError, /AccessDenied|denied/i, 'the last error is shown');
  t.ok((pending?.nextAttemptAt ?? 0) > Date.now() + 50, 'the next attempt waits the long delay');
  const attempts = rig.fault.injected.get('put') ?? 0;
  await sleep(100);
  t.equal(rig.fault.injected.get('put') ?? 0, attempts, 'no attempt in the meantime');
  rig.fault.clear();
  await rig.data.flushAll();
  t.equal((await objectBytes(rig.container, 'p')).toString(), 'denied', 'uploaded once the cause is gone');
});

t.test('a newer version supersedes a queued one; uploads of one file stay in order', async (t) => {
  const rig = await asyncRig(t);
  rig.fault.inject({ op: 'put', latencyMs: 200, times: 1 });
  for (const version of ['v1', 'v2', 'v3']) await writeFile(rig, 's', version);
  await rig.data.flushAll();
  t.equal((await objectBytes(rig.container, 's')).toString(), 'v3', 'the bucket holds the last version');
  t.equal(rig.memory.counters.put, 2, 'v1 (in flight) and v3 were sent; v2 was superseded');
});

t.test('a flush while the file stays open waits for its last close: one upload, not two', async (t) => {
  const rig = await asyncRig(t);
  // A shell's `printf … > f`: the new file is flushed once empty (its descriptor was duplicated), written, flushed, released.
  const fh = await openKey(rig, 'held', O_CREAT | O_WRONLY);
  await rig.data.flush(fh);
  await sleep(20);
  t.equal(rig.memory.counters.put, 0, 'the empty version waits while the file is open');
  await rig.data.write(fh, Buffer.from('content'), 7, 0);
  await rig.data.flush(fh);
  await rig.data.release(fh);
  await rig.data.flushAll();
  t.equal((await objectBytes(rig.container, 'held')).toString(), 'content');
  t.equal(rig.memory.counters.put, 1, 'only the version of the last close was sent');

  // Left open: the flushed version lands once the hold ends, with no close and no barrier.
  const open = await openKey(rig, 'open', O_CREAT | O_WRONLY);
  await rig.data.write(open, Buffer.from('still open'), 10, 0);
  await rig.data.flush(open);
  const landed = Date.now();
  // The hold is 100 ms; a loaded machine (the whole suite on two cores) has taken over 2 s to run the upload.
  while (!(await exists(rig, 'open')) && Date.now() - landed < 15_000) await sleep(10);
  t.ok(await exists(rig, 'open'), 'uploaded while the file stays open');
  t.ok(Date.now() - landed >= OPEN_HOLD_MS - 10, `after the hold of ${OPEN_HOLD_MS} ms`);
  await rig.data.release(open);
});

t.test('a file kept open and fsynced faster than the hold still lands', async (t) => {
  const rig = await asyncRig(t);
  const fh = await openKey(rig, 'log', O_CREAT | O_WRONLY);
  const started = Date.now();
  let size = 0;
  while (!(await exists(rig, 'log')) && Date.now() - started < 5000) {
    await rig.data.write(fh, Buffer.from('line\n'), 5, size);
    size += 5;
    await rig.data.fsync(fh);
    await sleep(OPEN_HOLD_MS / 4);
  }
  t.ok(await exists(rig, 'log'), `an upload landed within ${Date.now() - started} ms while fsyncs went on`);
  await rig.data.release(fh);
  await rig.data.flushAll();
  t.equal((await objectBytes(rig.container, 'log')).length, size, 'the last close lands every byte');
});

t.test('a write after close copies the snapshot, never changes what is uploading', async (t) => {
  const rig = await asyncRig(t);
  rig.fault.inject({ op: 'put', latencyMs: 200, times: 1 });
  const body = Buffer.alloc(3 * MiB, 1);
  await writeFile(rig, 'c', body);
  const fh = await openKey(rig, 'c', O_WRONLY);
  await rig.data.write(fh, Buffer.from('XYZ'), 3, 0);
  const mid = Buffer.alloc(3 * MiB, 1);
  mid.write('XYZ', 0);
  const snapshots = (await readdir(`${rig.cacheDir}/staging`)).length;
  t.equal(snapshots, 2, 'the written file got its own copy');
  await rig.data.release(fh);
  await rig.data.flushAll();
  t.ok((await objectBytes(rig.container, 'c')).equals(mid), 'the bucket ends with the second version');
  t.equal(rig.memory.counters.put, 2, 'both versions were uploaded, in order');
});

t.test('unlink drops a pending upload; rename retargets it', async (t) => {
  const rig = await asyncRig(t, 1);
  rig.fault.inject({ op: 'put', key: 'slow', latencyMs: 200, times: 1 });
  await writeFile(rig, 'slow', 'first in line');
  await writeFile(rig, 'gone', 'unlinked before upload');
  await writeFile(rig, 'old', 'renamed before upload');
  rig.data.unlinkOpen('/gone');
  rig.data.renameOpen('/old', '/new', 'new');
  t.same(rig.data.stats().uploads.pending.map((p) => p.key).sort(), ['new', 'slow'], 'the journal follows');
  await rig.data.flushAll();
  t.notOk(await exists(rig, 'gone'), 'the unlinked file never reached the bucket');
  t.notOk(await exists(rig, 'old'), 'nothing under the old name');
  t.equal((await objectBytes(rig.container, 'new')).toString(), 'renamed before upload', 'uploaded under the new name');
});

t.test('unlink or rename while the upload is in flight: nothing stays under the lost name', async (t) => {
  const rig = await asyncRig(t);
  rig.fault.inject({ op: 'put', latencyMs: 150 });
  await writeFile(rig, 'x', 'unlinked in flight');
  await writeFile(rig, 'y', 'renamed in flight');
  await sleep(50);
  rig.data.unlinkOpen('/x');
  rig.data.renameOpen('/y', '/z', 'z');
  await rig.data.flushAll();
  await sleep(50);
  t.notOk(await exists(rig, 'x'), 'the unlinked file was deleted after it landed');
  t.notOk(await exists(rig, 'y'), 'the old name was deleted after it landed');
  t.equal((await objectBytes(rig.container, 'z')).toString(), 'renamed in flight');
});

t.test('a restart on the same cache replays the journal: pending files first, multipart leftovers aborted', async (t) => {
  const rig = await asyncRig(t);
  // The first run's uploads never finish (a vanished server): the process "dies" with them pending.
  rig.fault.inject({ op: ['put', 'completeMultipart'], hang: true });
  const big = Buffer.alloc(24 * MiB, 7);
  await writeFile(rig, 'big', big);
  for (let i = 0; i < 100 && (await rig.memory.listMultipartUploads('data')).length === 0; i++) await sleep(20);
  t.equal((await rig.memory.listMultipartUploads('data')).length, 1, 'a multipart upload is in progress');
  await writeFile(rig, 'small', 'journaled');
  const pendingHook: PendingObject[] = [];
  const second: FileDataPath = createDataPath({
    container: rig.container, cacheDir: rig.cacheDir, writeMode: 'async', writeback: { backoff: FAST }, partSize: 8 * MiB, multipartThreshold: 8 * MiB,
    hooks: { uploaded: () => undefined, pending: (o) => pendingHook.push(o) },
  });
  rig.fault.inject({ op: 'get', error: 'Transient' });
  t.teardown(() => second.close());
  await second.start();
  t.same(pendingHook.map((o) => [o.path, o.size]).sort(), [['/big', big.length], ['/small', 9]], 'both files are pending again');
  const fh = await openKey({ container: rig.container, data: second }, 'small', O_RDONLY, second);
  t.equal((await readThrough(second, fh, 0, 100)).toString(), 'journaled', 'served from the snapshot, not the bucket');
  await second.release(fh);
  rig.fault.clear();
  await second.flushAll();
  t.equal((await objectBytes(rig.container, 'small')).toString(), 'journaled');
  t.ok((await objectBytes(rig.container, 'big')).equals(big), 'the big file is complete');
  for (let i = 0; i < 50 && (await rig.memory.listMultipartUploads('data')).length > 0; i++) await sleep(20);
  t.same(await rig.memory.listMultipartUploads('data'), [], 'no multipart upload is left behind');
});

t.test('stopping with the server unreachable keeps the journal for the next mount', async (t) => {
  const rig = await asyncRig(t);
  rig.fault.inject({ op: 'put', error: 'Transient' });
  await writeFile(rig, 'kept', 'survives the stop');
  await t.rejects(rig.data.close(), /stay pending/, 'close says what stays pending');
  rig.fault.clear();
  const uploads: string[] = [];
  const next = createDataPath({ container: rig.container, cacheDir: rig.cacheDir, writeMode: 'async', hooks: { uploaded: (o) => uploads.push(o.path) } });
  t.teardown(() => next.close());
  await next.start();
  await next.flushAll();
  t.equal((await objectBytes(rig.container, 'kept')).toString(), 'survives the stop');
  t.same(uploads, ['/kept'], 'the namespace was told');
  t.same(await readdir(`${rig.cacheDir}/staging`), [], 'the snapshot is gone once uploaded and idle');
});
