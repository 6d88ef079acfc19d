/**
 * Multipart writes of the data path on the memory backend (request counters,
 * plus a decorator counting the bytes sent): parts streamed while a large file
 * is written, incremental uploads of modified objects (changed parts sent,
 * the rest copied server-side), part re-sends after a rewrite, aborts on
 * failure, unlink, rename and truncate, and the multipart hooks. On Ceph RGW:
 * an append through UploadPartCopy and a streamed file.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import type { Backend, PartResult, PutOptions, Body, WriteResult } from '../../drivers/contract.js';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import { ForwardingBackend } from '../../drivers/decorators/forwarding.js';
import { DEFAULT_WRITE_PART_SIZE } from '../../vfs/data/index.js';
import { O_APPEND, O_CREAT, O_RDWR, O_TRUNC, O_WRONLY } from '../../vfs/types.js';
import { errnoOf, memoryRig, MiB, objectBytes, openKey, rgwRig, type Rig } from './data-harness.js';

/** Counts the body bytes of PUTs and parts: what went through the daemon to the bucket. */
class SentBytes extends ForwardingBackend {
  sent = 0;

  override put(bucket: string, key: string, body: Body, options?: PutOptions): Promise<WriteResult> {
    if (Buffer.isBuffer(body)) this.sent += body.length;
    else if (typeof body === 'string') this.sent += Buffer.byteLength(body);
    else this.sent += options?.size ?? 0;
    return super.put(bucket, key, body, options);
  }

  override uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    this.sent += body.length;
    return super.uploadPart(bucket, key, uploadId, partNumber, body);
  }
}

/** Most tests use 8 MiB parts (the threshold is then 16 MiB) to stay quick; the first uses the default. */
const P = 8 * MiB;
const content = randomBytes(100 * MiB);

async function writeSequential(rig: Rig, fh: number, data: Buffer, at = 0, piece = MiB): Promise<void> {
  for (let done = 0; done < data.length; done += piece) {
    const slice = data.subarray(done, done + piece);
    await rig.data.write(fh, slice, slice.length, at + done);
  }
}

async function noUploadsLeft(t: Test, rig: Rig, raw: Backend): Promise<void> {
  t.same(await raw.listMultipartUploads(rig.container.name), [], 'no multipart upload left in the bucket');
}

async function rigWithBytes(t: Test, options: Parameters<typeof memoryRig>[1] = {}) {
  let faults: FaultBackend | undefined;
  let bytes: SentBytes | undefined;
  const rig = await memoryRig(t, { partSize: P, ...options }, (memory) => (bytes = new SentBytes((faults = new FaultBackend(memory)))));
  return { ...rig, faults: faults as FaultBackend, bytes: bytes as SentBytes };
}

t.test('appending 10 bytes to a 64 MiB object sends 10 bytes and copies the rest (default part size)', async (t) => {
  const rig = await rigWithBytes(t, { partSize: DEFAULT_WRITE_PART_SIZE });
  const base = content.subarray(0, 64 * MiB);
  await rig.container.put('big', base);
  const fh = await openKey(rig, 'big', O_WRONLY | O_APPEND);
  rig.memory.resetCounters();
  rig.bytes.sent = 0;
  await rig.data.write(fh, Buffer.from('0123456789'), 10, 0);
  t.equal(rig.memory.counters.createMultipart, 0, 'no upload starts while appending (no part to stream)');
  rig.data.updateMetadata('/big', { mtime: '1700000001' }); // as the namespace does after each write
  await rig.data.release(fh);
  t.equal(rig.memory.counters.copy, 0, 'the upload started at close carries the newest metadata: no self-copy');
  t.same((await rig.container.head('big')).metadata, { mtime: '1700000001' });
  t.ok(rig.bytes.sent < 16 * MiB, `bytes sent: ${rig.bytes.sent}`);
  t.equal(rig.bytes.sent, 10, 'on the part grid only the new bytes are sent');
  // An append copies the old bytes in a few parallel part copies (upload.ts, planAppend in multipart.ts).
  t.ok(rig.memory.counters.uploadPartCopy >= 1, `the unchanged 64 MiB is copied server-side (${rig.memory.counters.uploadPartCopy} copies)`);
  t.equal(rig.memory.counters.get, 0, 'nothing fetched');
  t.ok((await objectBytes(rig.container, 'big')).equals(Buffer.concat([base, Buffer.from('0123456789')])), 'the object is base + append');
  await noUploadsLeft(t, rig, rig.memory);
});

t.test('appending to an object off the part grid sends only the new bytes', async (t) => {
  const rig = await rigWithBytes(t);
  const base = content.subarray(0, 60 * MiB + 5);
  await rig.container.put('big', base);
  const fh = await openKey(rig, 'big', O_WRONLY | O_APPEND);
  rig.bytes.sent = 0;
  const tail = randomBytes(3000);
  await rig.data.write(fh, tail, tail.length, 0);
  await rig.data.release(fh);
  t.equal(rig.bytes.sent, tail.length, 'only the new bytes: the whole base, tail included, is copied server-side');
  t.ok(rig.bytes.sent < 16 * MiB);
  t.ok((await objectBytes(rig.container, 'big')).equals(Buffer.concat([base, tail])));
});

t.test('a 100 MiB sequential write streams its parts before close', async (t) => {
  const rig = await rigWithBytes(t);
  const fh = await rig.data.open({ path: '/s', key: 's', exists: false, size: 0, etag: undefined, metadata: { mode: '33188' } }, O_CREAT | O_WRONLY);
  await writeSequential(rig, fh, content.subarray(0, 50 * MiB));
  // Metadata moving while the file streams (a write's mtime, a chmod) does not restart the upload.
  rig.data.updateMetadata('/s', { mode: '33261', mtime: '1700000000' });
  await writeSequential(rig, fh, content.subarray(50 * MiB), 50 * MiB);
  const fullBlocks = Math.floor(content.length / P);
  t.ok(rig.memory.counters.uploadPart >= fullBlocks - 4, `parts sent before close: ${rig.memory.counters.uploadPart} of ${fullBlocks} full blocks`);
  t.equal(rig.memory.counters.createMultipart, 1);
  await rig.data.release(fh);
  t.equal(rig.memory.counters.uploadPart, Math.ceil(content.length / P), 'each part sent once');
  t.equal(rig.bytes.sent, content.length);
  t.ok((await objectBytes(rig.container, 's')).equals(content), 'the object holds the file');
  t.same((await rig.container.head('s')).metadata, { mode: '33261', mtime: '1700000000' }, 'with its newest metadata');
  t.equal(rig.memory.counters.copy, 1, 'set by one server-side self-copy after completion');
  t.same(rig.uploads.map((u) => u.metadata['mode']), ['33261'], 'the upload hook has the stored metadata');
  const stats = rig.data.stats();
  t.equal(stats.bytesUploaded, content.length);
  t.equal(stats.cache.dirtyBytes, 0, 'nothing dirty after close');
  await noUploadsLeft(t, rig, rig.memory);
});

t.test('a block rewritten after it was sent is sent again', async (t) => {
  const rig = await rigWithBytes(t);
  const data = Buffer.from(content.subarray(0, 2 * P + 3 * MiB));
  const fh = await openKey(rig, 'r', O_CREAT | O_RDWR);
  await writeSequential(rig, fh, data);
  await rig.data.write(fh, Buffer.from('X'), 1, 5 * MiB);
  data[5 * MiB] = 'X'.charCodeAt(0);
  await rig.data.release(fh);
  t.equal(rig.memory.counters.uploadPart, 4, 'blocks 0 and 1 streamed, block 0 again, and the tail');
  t.ok((await objectBytes(rig.container, 'r')).equals(data));
});

t.test('a failed streamed part: EIO at flush, the previous object intact, the upload aborted; a retry works', async (t) => {
  const rig = await rigWithBytes(t);
  const previous = randomBytes(5000);
  await rig.container.put('f', previous);
  const fh = await openKey(rig, 'f', O_TRUNC | O_WRONLY);
  rig.faults.inject({ op: 'uploadPart', error: 'Transient', times: 1 });
  const data = content.subarray(0, 3 * P);
  await writeSequential(rig, fh, data);
  t.equal(await errnoOf(rig.data.flush(fh)), 'EIO', 'flush fails');
  t.ok((await objectBytes(rig.container, 'f')).equals(previous), 'the previous object is intact');
  await noUploadsLeft(t, rig, rig.memory);
  const stats = rig.data.stats();
  t.equal(stats.uploads.failed, 1);
  t.match(stats.errors[0]?.message ?? '', /upload to f failed/, 'the error is kept for status');
  await rig.data.flush(fh);
  t.ok((await objectBytes(rig.container, 'f')).equals(data), 'a later flush uploads the file');
  await rig.data.release(fh);
  await noUploadsLeft(t, rig, rig.memory);
});

t.test('a failed part copy aborts the incremental upload', async (t) => {
  const rig = await rigWithBytes(t);
  const base = content.subarray(0, 40 * MiB);
  await rig.container.put('c', base);
  const fh = await openKey(rig, 'c', O_WRONLY | O_APPEND);
  await rig.data.write(fh, Buffer.from('tail'), 4, 0);
  rig.faults.inject({ op: 'uploadPartCopy', error: 'Transient', times: 1 });
  t.equal(await errnoOf(rig.data.flush(fh)), 'EIO');
  t.ok((await objectBytes(rig.container, 'c')).equals(base), 'the object is unchanged');
  await noUploadsLeft(t, rig, rig.memory);
  await rig.data.release(fh);
  t.ok((await objectBytes(rig.container, 'c')).equals(Buffer.concat([base, Buffer.from('tail')])), 'the retry at release copies again');
});

t.test('the base changed in the bucket: no copy of the new bytes, EIO (the unchanged bytes are gone)', async (t) => {
  const rig = await rigWithBytes(t);
  await rig.container.put('m', content.subarray(0, 40 * MiB));
  const fh = await openKey(rig, 'm', O_WRONLY | O_APPEND);
  await rig.data.write(fh, Buffer.from('tail'), 4, 0);
  const other = randomBytes(1000);
  await rig.container.put('m', other);
  rig.memory.resetCounters();
  t.equal(await errnoOf(rig.data.flush(fh)), 'EIO');
  t.equal(rig.memory.counters.uploadPartCopy, 0, 'the HEAD saw the new etag: nothing copied');
  t.ok((await objectBytes(rig.container, 'm')).equals(other), 'the other writer wins');
  await noUploadsLeft(t, rig, rig.memory);
  rig.data.unlinkOpen('/m');
  await rig.data.release(fh);
});

t.test('unlink, rename and truncate to 0 of a streaming file abort its upload', async (t) => {
  const rig = await rigWithBytes(t);
  const data = content.subarray(0, 3 * P);

  const a = await openKey(rig, 'a', O_CREAT | O_WRONLY);
  await writeSequential(rig, a, data);
  t.ok(rig.memory.counters.createMultipart >= 1, 'streaming started');
  rig.data.unlinkOpen('/a');
  await rig.data.release(a);
  await noUploadsLeft(t, rig, rig.memory);
  t.equal(await errnoOf(rig.container.head('a')), 'ENOENT', 'nothing uploaded for the unlinked file');

  const b = await openKey(rig, 'b', O_CREAT | O_WRONLY);
  await writeSequential(rig, b, data);
  rig.data.renameOpen('/b', '/b2', 'b2');
  await rig.data.release(b);
  t.ok((await objectBytes(rig.container, 'b2')).equals(data), 'uploaded under the new name');
  t.equal(await errnoOf(rig.container.head('b')), 'ENOENT', 'not under the old one');
  await noUploadsLeft(t, rig, rig.memory);

  const c = await openKey(rig, 'c', O_CREAT | O_RDWR);
  await writeSequential(rig, c, data);
  await rig.data.truncate(c, 0);
  await noUploadsLeft(t, rig, rig.memory);
  await rig.data.write(c, Buffer.from('short'), 5, 0);
  rig.memory.resetCounters();
  await rig.data.release(c);
  t.equal(rig.memory.counters.put, 1, 'a small file again: one PUT');
  t.equal((await objectBytes(rig.container, 'c')).toString(), 'short');
});

t.test('multipart hooks see every upload id start and end', async (t) => {
  const started: string[] = [];
  const ended: string[] = [];
  const rig = await rigWithBytes(t, {
    multipartHooks: { onMultipartStarted: (_k, id) => started.push(id), onMultipartEnded: (_k, id) => ended.push(id) },
  });
  const fh = await openKey(rig, 'h', O_CREAT | O_WRONLY);
  await writeSequential(rig, fh, content.subarray(0, 2 * P));
  t.equal(started.length, 1, 'announced when streaming starts');
  t.same(ended, []);
  await rig.data.release(fh);
  t.same(ended, started, 'and when it completes');
});

t.test('stats and flushAll', async (t) => {
  const rig = await rigWithBytes(t);
  const x = await openKey(rig, 'x', O_CREAT | O_WRONLY);
  const y = await openKey(rig, 'y', O_CREAT | O_WRONLY);
  await rig.data.write(x, Buffer.from('xx'), 2, 0);
  await rig.data.write(y, Buffer.from('yyy'), 3, 0);
  let stats = rig.data.stats();
  t.equal(stats.writeMode, 'sync');
  t.equal(stats.cache.dirtyBytes, 5, 'dirty bytes counted');
  t.equal(stats.openFiles, 2);
  const progress: [number, number][] = [];
  await rig.data.flushAll((done, total) => progress.push([done, total]));
  t.same(progress, [[0, 2], [1, 2], [2, 2]], 'progress as files complete');
  t.equal((await objectBytes(rig.container, 'y')).toString(), 'yyy', 'flushAll uploaded open files');
  stats = rig.data.stats();
  t.equal(stats.cache.dirtyBytes, 0);
  t.equal(stats.uploads.completed, 2);
  t.equal(stats.bytesUploaded, 5);

  // A release that fails leaves the file pending; flushAll names it while the fault lasts.
  await rig.data.write(x, Buffer.from('more'), 4, 2);
  rig.faults.inject({ op: 'put', error: 'Transient' });
  t.equal(await errnoOf(rig.data.release(x)), 'EIO');
  stats = rig.data.stats();
  t.same(stats.uploads.pending.map((p) => p.path), ['/x'], 'the file left dirty by a failed close is pending');
  t.match(stats.uploads.pending[0]?.lastError ?? '', /upload to x failed/);
  await t.rejects(rig.data.flushAll(), /\/x/, 'flushAll rejects naming the file');
  rig.faults.clear();
  await rig.data.flushAll();
  t.equal((await objectBytes(rig.container, 'x')).toString(), 'xxmore');
  t.same(rig.data.stats().uploads.pending, [], 'nothing pending any more');
  t.equal(rig.data.stats().openFiles, 1, 'the released file was forgotten');
  await rig.data.release(y);
});

t.test('dirty data stays under the cache bound: a streaming writer waits, others get ENOSPC', async (t) => {
  const bound = 3 * P;
  const rig = await rigWithBytes(t, { cacheBytes: bound });
  rig.faults.inject({ op: 'uploadPart', latencyMs: 30 });
  const fh = await openKey(rig, 'w', O_CREAT | O_WRONLY);
  let peak = 0;
  const data = content.subarray(0, 6 * P);
  for (let done = 0; done < data.length; done += MiB) {
    await rig.data.write(fh, data.subarray(done, done + MiB), MiB, done);
    peak = Math.max(peak, rig.data.stats().cache.dirtyBytes);
  }
  t.ok(peak <= bound, `peak dirty ${peak} ≤ bound ${bound}`);
  await rig.data.release(fh);
  t.ok((await objectBytes(rig.container, 'w')).equals(data));
  rig.faults.clear();

  // Small files are not streamed: once they fill the bound, a write has nothing to wait for.
  const piece = content.subarray(0, 10 * MiB);
  const handles: number[] = [];
  for (const name of ['s1', 's2']) {
    const fh = await openKey(rig, name, O_CREAT | O_WRONLY);
    await rig.data.write(fh, piece, piece.length, 0);
    handles.push(fh);
  }
  const last = await openKey(rig, 's3', O_CREAT | O_WRONLY);
  t.equal(await errnoOf(rig.data.write(last, piece, piece.length, 0)), 'ENOSPC', 'a write past the bound is refused');
  for (const fh of [...handles, last]) await rig.data.release(fh);
  t.equal((await objectBytes(rig.container, 's2')).length, 10 * MiB, 'what was acknowledged is uploaded');
  t.equal((await objectBytes(rig.container, 's3')).length, 0, 'the refused write left nothing');
});

t.test('RGW: an append copies server-side; a streamed file round-trips', async (t) => {
  let bytes: SentBytes | undefined;
  const rig = await rgwRig(t, {}, (backend) => (bytes = new SentBytes(backend)));
  if (rig === undefined || bytes === undefined) return;
  const sent = bytes;
  const base = content.subarray(0, 40 * MiB + 7);
  await rig.container.put('big', base);
  const fh = await openKey(rig, 'big', O_WRONLY | O_APPEND);
  sent.sent = 0;
  await rig.data.write(fh, Buffer.from('appended'), 8, 0);
  await rig.data.release(fh);
  t.ok(sent.sent < 16 * MiB, `bytes sent: ${sent.sent}`);
  t.ok((await objectBytes(rig.container, 'big')).equals(Buffer.concat([base, Buffer.from('appended')])), 'RGW assembled copy + new part');

  const s = await openKey(rig, 'streamed', O_CREAT | O_WRONLY);
  const data = content.subarray(0, 2 * P + MiB);
  await writeSequential(rig, s, data);
  await rig.data.release(s);
  t.ok((await objectBytes(rig.container, 'streamed')).equals(data));
  t.same(await rig.backend.listMultipartUploads(rig.container.name), [], 'no multipart upload left');
});
