/**
 * Appends and small changes to large objects, counted request by request on
 * the memory backend (a recording decorator under the data path, faults
 * injected with FaultBackend):
 * - sync mode: an append to a 64 MiB object copies the old bytes
 *   server-side and sends only the appended ones; a failed copy is EIO at
 *   close with the previous object intact and no multipart upload left;
 * - async mode: appends share the acknowledged snapshot file (no copy of
 *   it), a newer acknowledgement cancels the upload in flight (a barrier
 *   taken before waits for the newer one), only the newest version is
 *   completed and only the new bytes are sent; the copies of a run of
 *   appends start ahead and are made once; a file appended to without pause
 *   still lands (bounded deferral); a write or truncate inside the snapshot
 *   copies it first; a restart after a crash between appends uploads
 *   exactly the newest acknowledged version.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { Test } from 'tap';
import type { ObjectRef, PartResult, Body, PutOptions, WriteResult } from '../../drivers/contract.js';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import { ForwardingBackend, type Operation } from '../../drivers/decorators/forwarding.js';
import type { MemoryBackend } from '../../drivers/memory.js';
import type { ByteRange } from '../../drivers/range.js';
import { Driver } from '../../drivers/storage.js';
import { createDataPath, type FileDataPath } from '../../vfs/data/index.js';
import { O_APPEND, O_RDWR, O_WRONLY } from '../../vfs/types.js';
import { errnoOf, memoryRig, MiB, objectBytes, openKey, type Rig, type RigOptions } from './data-harness.js';

const BASE = randomBytes(64 * MiB);
const FAST = { baseMs: 10, maxMs: 40, permanentMs: 200 };

/** Counts requests by operation, bytes sent (PUT, UploadPart that succeeded) and the ranges copied server-side. */
class Recorder extends ForwardingBackend {
  readonly ops = new Map<Operation, number>();
  sent = 0;
  copied: ByteRange[] = [];

  count(op: Operation): number {
    return this.ops.get(op) ?? 0;
  }

  reset(): void {
    this.ops.clear();
    this.sent = 0;
    this.copied = [];
  }

  protected override around<T>(op: Operation, call: () => Promise<T>): Promise<T> {
    this.ops.set(op, this.count(op) + 1);
    return call();
  }

  override async put(bucket: string, key: string, body: Body, options?: PutOptions): Promise<WriteResult> {
    const result = await super.put(bucket, key, body, options);
    if (Buffer.isBuffer(body)) this.sent += body.length;
    return result;
  }

  override async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    const result = await super.uploadPart(bucket, key, uploadId, partNumber, body);
    this.sent += body.length;
    return result;
  }

  override uploadPartCopy(bucket: string, key: string, uploadId: string, partNumber: number, source: ObjectRef, range: ByteRange): Promise<PartResult> {
    this.copied.push(range);
    return super.uploadPartCopy(bucket, key, uploadId, partNumber, source, range);
  }
}

type AppendRig = Rig & { memory: MemoryBackend; fault: FaultBackend; recorder: Recorder };

async function appendRig(t: Test, options: RigOptions = {}): Promise<AppendRig> {
  let fault: FaultBackend | undefined;
  let recorder: Recorder | undefined;
  const rig = await memoryRig(t, options, (memory) => (recorder = new Recorder((fault = new FaultBackend(memory)))));
  t.teardown(() => fault?.clear());
  await rig.container.put('log', BASE);
  (recorder as Recorder).reset();
  return { ...rig, fault: fault as FaultBackend, recorder: recorder as Recorder };
}

const asyncOptions: RigOptions = { writeMode: 'async', writeback: { backoff: FAST } };

/** One `printf >> file`: open with O_APPEND, write, close. */
async function append(rig: Pick<Rig, 'container' | 'data'>, data: FileDataPath, bytes: Buffer): Promise<void> {
  const fh = await openKey(rig, 'log', O_WRONLY | O_APPEND, data);
  await data.write(fh, bytes, bytes.length, 0);
  await data.release(fh);
}

const totalOf = (ranges: ByteRange[]) => ranges.reduce((sum, r) => sum + ((r.end ?? r.start) - r.start), 0);
const stagingFiles = (rig: Rig) => readdir(`${rig.cacheDir}/staging`);

t.test('sync: an append to a 64 MiB object copies the old bytes and sends only the new ones', async (t) => {
  const rig = await appendRig(t);
  let model = BASE;
  for (const round of [1, 2]) {
    rig.recorder.reset();
    const tail = randomBytes(1024);
    await append(rig, rig.data, tail);
    model = Buffer.concat([model, tail]);
    t.equal(rig.recorder.sent, 1024, `append ${round}: only the appended KiB is sent`);
    t.equal(totalOf(rig.recorder.copied), model.length - 1024, `append ${round}: every old byte is copied server-side`);
    t.equal(rig.recorder.copied.length, 4, `append ${round}: in four parallel copies`);
    t.equal(rig.recorder.count('completeMultipart'), 1, `append ${round}: one multipart upload`);
    t.ok((await objectBytes(rig.container, 'log')).equals(model), `append ${round}: the object holds the old bytes and the new ones`);
  }
  t.same(await rig.memory.listMultipartUploads('data'), [], 'no multipart upload is left');
});

t.test('sync: a change inside the object as well falls back to the part grid (only the changed part is sent)', async (t) => {
  const rig = await appendRig(t);
  const fh = await openKey(rig, 'log', O_RDWR);
  const patch = randomBytes(4096);
  await rig.data.write(fh, patch, patch.length, 40 * MiB);
  const tail = randomBytes(1024);
  await rig.data.write(fh, tail, tail.length, BASE.length);
  await rig.data.release(fh);
  const model = Buffer.concat([BASE, tail]);
  patch.copy(model, 40 * MiB);
  t.equal(rig.recorder.sent, 32 * MiB + 1024, 'the second 32 MiB part (holding both changes) is sent');
  t.equal(totalOf(rig.recorder.copied), 32 * MiB, 'the first part is copied');
  t.ok((await objectBytes(rig.container, 'log')).equals(model), 'the object holds both changes');
});

t.test('sync: a failed copy is EIO at close; the previous object stays; no multipart upload is left', async (t) => {
  const rig = await appendRig(t);
  rig.fault.inject({ op: 'uploadPartCopy', error: 'Transient', times: 1 });
  const fh = await openKey(rig, 'log', O_WRONLY | O_APPEND);
  const tail = randomBytes(1024);
  await rig.data.write(fh, tail, tail.length, 0);
  t.equal(await errnoOf(rig.data.flush(fh)), 'EIO', 'flush fails with EIO');
  t.ok((await objectBytes(rig.container, 'log')).equals(BASE), 'the bucket keeps the previous object');
  for (let i = 0; i < 50 && (await rig.memory.listMultipartUploads('data')).length > 0; i++) await sleep(10);
  t.same(await rig.memory.listMultipartUploads('data'), [], 'the multipart upload was aborted');
  await rig.data.release(fh);
  t.ok((await objectBytes(rig.container, 'log')).equals(Buffer.concat([BASE, tail])), 'the next close uploads the append');
});

t.test('async: appends share the snapshot file, cancel the upload in flight, and send only the new bytes', async (t) => {
  const rig = await appendRig(t, asyncOptions);
  // The first upload's new bytes are on the wire (its copies done) while the later appends are acknowledged.
  rig.fault.inject({ op: 'uploadPart', hang: true });
  let model = BASE;
  let barrier: Promise<number> | undefined;
  for (let i = 0; i < 10; i++) {
    const tail = randomBytes(1024);
    await append(rig, rig.data, tail);
    model = Buffer.concat([model, tail]);
    if (i > 0) continue;
    for (let wait = 0; wait < 100 && rig.recorder.count('uploadPart') === 0; wait++) await sleep(10);
    // A barrier (fsync, sync) taken now must not resolve when the upload it waits for is cancelled.
    barrier = rig.data.flushAll().then(async () => (await rig.memory.head('data', 'log')).size);
  }
  t.equal(rig.recorder.count('uploadPart'), 1, 'the first version was uploading');
  t.equal((await stagingFiles(rig)).length, 1, 'no copy of the 64 MiB snapshot was made');
  rig.fault.clear();
  t.equal(await barrier, model.length, 'the barrier resolved once the newer version was in the bucket');
  await rig.data.flushAll();
  t.ok((await objectBytes(rig.container, 'log')).equals(model), 'the bucket holds every append');
  t.equal(rig.recorder.count('completeMultipart'), 1, 'only the newest version was completed');
  t.equal(rig.recorder.count('abortMultipart'), 1, 'the superseded upload was aborted');
  t.equal(rig.recorder.sent, 10 * 1024, 'only the appended bytes were sent');
  t.equal(totalOf(rig.recorder.copied.slice(-4)), BASE.length, 'the old bytes were copied server-side');
  t.same(await rig.memory.listMultipartUploads('data'), [], 'no multipart upload is left');
});

t.test('async: a run of appends: the copies start ahead, one upload completes them with the new bytes', async (t) => {
  const rig = await appendRig(t, asyncOptions);
  // Copies slow enough that the whole run of appends is acknowledged while they run.
  rig.fault.inject({ op: 'uploadPartCopy', latencyMs: 500, times: 4 });
  let model = BASE;
  for (let i = 0; i < 5; i++) {
    const tail = randomBytes(1024);
    await append(rig, rig.data, tail);
    model = Buffer.concat([model, tail]);
  }
  await rig.data.flushAll();
  t.ok((await objectBytes(rig.container, 'log')).equals(model), 'the bucket holds every append');
  t.equal(rig.recorder.count('createMultipart'), 1, 'one multipart upload');
  t.same(rig.recorder.copied.map((r) => [r.start, r.end]), [0, 1, 2, 3].map((i) => [i * 16 * MiB, (i + 1) * 16 * MiB]), 'the old bytes copied once, in four parallel copies');
  t.equal(rig.recorder.sent, 5 * 1024, 'only the appended bytes were sent');
  t.equal(rig.recorder.count('completeMultipart'), 1, 'completed once, by the newest version');
  t.same(await rig.memory.listMultipartUploads('data'), [], 'no multipart upload is left');

  // A slow appender: each append lands before the next; the next copies from the object that landed.
  const before = rig.recorder.copied.length;
  rig.recorder.reset();
  const fh = await openKey(rig, 'log', O_WRONLY | O_APPEND);
  for (let i = 0; i < 2; i++) {
    const tail = randomBytes(1000);
    await rig.data.write(fh, tail, tail.length, 0);
    await rig.data.fsync(fh);
    await rig.data.flushAll();
    model = Buffer.concat([model, tail]);
  }
  await rig.data.release(fh);
  await rig.data.flushAll();
  t.ok(before > 0 && totalOf(rig.recorder.copied) === 2 * model.length - 3000, 'each upload copied every byte it did not append');
  t.equal(rig.recorder.sent, 2000, 'and sent only its own appended bytes');
  t.ok((await objectBytes(rig.container, 'log')).equals(model), 'the bucket holds the appends');
});

t.test('async: a file appended to without pause still reaches the bucket (bounded deferral)', async (t) => {
  const rig = await appendRig(t, { writeMode: 'async', writeback: { backoff: FAST, maxDeferMs: 300 } });
  // Each upload takes longer than the pause between two appends: without the bound, every one would be cancelled.
  rig.fault.inject({ op: 'uploadPart', latencyMs: 150 });
  let model = BASE;
  let landedWhileAppending = 0;
  for (const until = Date.now() + 1500; Date.now() < until; ) {
    const tail = randomBytes(100);
    await append(rig, rig.data, tail);
    model = Buffer.concat([model, tail]);
    landedWhileAppending = rig.recorder.count('completeMultipart');
    await sleep(5);
  }
  t.ok(landedWhileAppending >= 1, `versions landed while the appends went on: ${landedWhileAppending}`);
  await rig.data.flushAll();
  t.ok((await objectBytes(rig.container, 'log')).equals(model), 'the bucket holds every append');
  t.same(await rig.memory.listMultipartUploads('data'), [], 'no multipart upload is left');
});

t.test('async: a write or truncate inside the snapshot copies it; one past its end does not', async (t) => {
  const rig = await appendRig(t, asyncOptions);
  rig.fault.inject({ op: 'completeMultipart', hang: true });
  const first = randomBytes(1024);
  await append(rig, rig.data, first);
  const fh = await openKey(rig, 'log', O_RDWR);
  const more = randomBytes(4096);
  await rig.data.write(fh, more, more.length, BASE.length + 1024);
  await rig.data.truncate(fh, BASE.length + 2048);
  t.equal((await stagingFiles(rig)).length, 1, 'an append and a truncate past the acknowledged end share the snapshot');
  await rig.data.truncate(fh, BASE.length - 10);
  t.equal((await stagingFiles(rig)).length, 2, 'a truncate into the acknowledged bytes copies the snapshot first');
  const patch = Buffer.from('patched');
  await rig.data.write(fh, patch, patch.length, 100);
  await rig.data.release(fh);
  rig.fault.clear();
  await rig.data.flushAll();
  const model = Buffer.from(BASE.subarray(0, BASE.length - 10));
  patch.copy(model, 100);
  t.ok((await objectBytes(rig.container, 'log')).equals(model), 'the bucket holds the truncated, patched file');
  for (let i = 0; i < 50 && (await stagingFiles(rig)).length > 1; i++) await sleep(10);
  t.ok((await stagingFiles(rig)).length <= 1, 'the old snapshot file is gone');
});

t.test('async: a crash between appends: the restart uploads exactly the newest acknowledged version', async (t) => {
  const rig = await appendRig(t, asyncOptions);
  // The first run's uploads never complete: the process "dies" with them pending.
  rig.fault.inject({ op: 'completeMultipart', hang: true });
  const acked = [randomBytes(1024), randomBytes(1024)];
  for (const tail of acked) await append(rig, rig.data, tail);
  // A third append is written but never closed: not acknowledged.
  const fh = await openKey(rig, 'log', O_WRONLY | O_APPEND);
  const unacked = randomBytes(4096);
  await rig.data.write(fh, unacked, unacked.length, 0);
  t.equal((await stagingFiles(rig)).length, 1, 'every version shares one snapshot file');
  // The second run talks to the bucket directly (the first one's requests stay hung, as if it were dead).
  const second = createDataPath({ container: new Driver(rig.memory).container('data'), cacheDir: rig.cacheDir, writeMode: 'async', writeback: { backoff: FAST }, hooks: { uploaded: () => undefined } });
  t.teardown(() => second.close());
  await second.start();
  await second.flushAll();
  t.ok((await objectBytes(rig.container, 'log')).equals(Buffer.concat([BASE, ...acked])), 'the bucket holds exactly the acknowledged appends');
  t.same(await rig.memory.listMultipartUploads('data'), [], 'the multipart upload the crash cut off was aborted');
  rig.fault.clear();
});
