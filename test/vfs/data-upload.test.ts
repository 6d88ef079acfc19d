/**
 * Uploads: one PUT below 16 MiB and multipart above, on the local backend
 * and Ceph RGW; failures injected with FaultBackend (put, uploadPart,
 * completeMultipart) on the memory backend and on RGW: flush rejects with
 * EIO, the bucket keeps the previous object, no multipart upload is left
 * pending, the file stays dirty and a later flush succeeds.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import type { Backend } from '../../drivers/contract.js';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import type { Operation } from '../../drivers/decorators/forwarding.js';
import { O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../../vfs/types.js';
import { errnoOf, localRig, memoryRig, MiB, objectBytes, openKey, readThrough, rgwRig, targetOf, type Rig } from './data-harness.js';

const big = randomBytes(20 * MiB);
/** 8 MiB parts: the multipart threshold stays 16 MiB, and a 20 MiB file is three parts. */
const PARTS = { partSize: 8 * MiB };

/** Random writes into an existing 20 MiB object, then a small file, both round-tripped through the bucket. */
async function roundTrips(t: Test, rig: Rig, backend: Backend): Promise<void> {
  await rig.container.put('big', big);
  let model = Buffer.from(big);
  const fh = await openKey(rig, 'big', O_RDWR);
  // The last patch runs past the end: the file grows.
  for (const at of [5, 8 * MiB - 3, 15 * MiB + 999, 20 * MiB - 100]) {
    const patch = randomBytes(4096);
    await rig.data.write(fh, patch, patch.length, at);
    if (at + patch.length > model.length) model = Buffer.concat([model, Buffer.alloc(at + patch.length - model.length)]);
    patch.copy(model, at);
  }
  await rig.data.release(fh);
  t.ok((await objectBytes(rig.container, 'big')).equals(model), 'the 20 MiB object holds every patch');
  t.match((await backend.head(rig.container.name, 'big')).etag, /-3$/, 'uploaded in three 8 MiB parts');

  const small = await rig.data.open(await targetOf(rig.container, 'dir/small', { mode: '33188' }), O_CREAT | O_WRONLY);
  await rig.data.write(small, Buffer.from('small file'), 10, 0);
  await rig.data.release(small);
  const info = await rig.container.head('dir/small');
  t.equal((await objectBytes(rig.container, 'dir/small')).toString(), 'small file', 'a small file is one PUT');
  t.notMatch(info.etag, /-/, 'not multipart');
  t.equal(info.metadata?.['mode'], '33188');
}

/** Each failing operation: flush rejects, nothing changes in the bucket, a retry after the fault clears works. */
async function failedUploads(t: Test, rig: Rig, faults: FaultBackend, raw: Backend): Promise<void> {
  const cases: [Operation, number][] = [
    ['put', 1000],
    ['uploadPart', 20 * MiB],
    ['completeMultipart', 20 * MiB],
  ];
  for (const [op, size] of cases) {
    const key = `fail-${op}`;
    const previous = randomBytes(3000);
    await rig.container.put(key, previous);
    const fh = await openKey(rig, key, O_WRONLY | O_TRUNC);
    const content = big.subarray(0, size);
    await rig.data.write(fh, content, content.length, 0);
    faults.inject({ op, error: 'Transient', times: 1 });
    t.equal(await errnoOf(rig.data.flush(fh)), 'EIO', `${op} fails: flush is EIO`);
    t.equal(faults.injected.get(op), 1, `the ${op} fault fired`);
    t.ok((await objectBytes(rig.container, key)).equals(previous), 'the bucket keeps the previous object');
    t.same(await raw.listMultipartUploads(rig.container.name, { prefix: key }), [], 'no multipart upload left pending');
    t.equal(rig.data.isDirty(`/${key}`), true, 'the file stays dirty');
    faults.clear();
    faults.injected.clear();
    await rig.data.flush(fh);
    t.ok((await objectBytes(rig.container, key)).equals(content), 'a later flush uploads it');
    t.equal(rig.data.isDirty(`/${key}`), false);
    await rig.data.release(fh);
  }
}

t.test('local: one PUT below 16 MiB, multipart above', async (t) => {
  const rig = await localRig(t, PARTS);
  await roundTrips(t, rig, rig.backend);
});

t.test('memory: failed uploads leave the previous object', async (t) => {
  let faults: FaultBackend | undefined;
  const rig = await memoryRig(t, PARTS, (memory) => (faults = new FaultBackend(memory)));
  await failedUploads(t, rig, faults as FaultBackend, rig.memory);
});

t.test('memory: a failed last release keeps the file dirty for a later open or shutdown', async (t) => {
  let faults: FaultBackend | undefined;
  const rig = await memoryRig(t, PARTS, (memory) => (faults = new FaultBackend(memory)));
  const fh = await rig.data.open(await targetOf(rig.container, 'late'), O_CREAT | O_WRONLY);
  await rig.data.write(fh, Buffer.from('kept'), 4, 0);
  faults?.inject({ op: 'put', error: 'Transient', times: 2 });
  t.equal(await errnoOf(rig.data.release(fh)), 'EIO', 'release reports the failure');
  t.equal(rig.data.isDirty('/late'), true);
  const again = await openKey(rig, 'late', O_RDONLY);
  t.equal(rig.data.openSize('/late'), 4, 'a new open joins the unsaved file');
  t.equal(await errnoOf(rig.data.release(again)), 'EIO', 'the second try fails too');
  await rig.data.close();
  t.equal((await objectBytes(rig.container, 'late')).toString(), 'kept', 'shutdown uploaded it');
});

t.test('memory: a failed GET fails the read, and is not cached', async (t) => {
  let faults: FaultBackend | undefined;
  const rig = await memoryRig(t, PARTS, (memory) => (faults = new FaultBackend(memory)));
  await rig.container.put('obj', big.subarray(0, MiB));
  const fh = await openKey(rig, 'obj', O_RDONLY);
  faults?.inject({ op: 'get', error: 'Transient', times: 1 });
  t.equal(await errnoOf(rig.data.read(fh, Buffer.alloc(10), 10, 0)), 'EIO');
  t.ok((await readThrough(rig.data, fh, 0, MiB)).equals(big.subarray(0, MiB)), 'the next read fetches again');
});

t.test('memory: the base changed in the bucket under a dirty file with unfetched bytes: EIO, the other writer wins', async (t) => {
  const rig = await memoryRig(t, { chunkSize: MiB });
  await rig.container.put('obj', big.subarray(0, 3 * MiB));
  const fh = await openKey(rig, 'obj', O_RDWR);
  await rig.data.write(fh, Buffer.from('mine'), 4, 0);
  const theirs = randomBytes(3 * MiB);
  await rig.container.put('obj', theirs);
  t.equal(await errnoOf(rig.data.flush(fh)), 'EIO', 'the untouched bytes of the old version are gone');
  t.ok((await objectBytes(rig.container, 'obj')).equals(theirs), 'never a mix of versions');
  rig.data.unlinkOpen('/obj');
  await rig.data.release(fh);
});

t.test('memory: changes during an upload (writes wait for it; rename and metadata make another)', async (t) => {
  let faults: FaultBackend | undefined;
  const rig = await memoryRig(t, PARTS, (memory) => (faults = new FaultBackend(memory)));
  const fh = await rig.data.open(await targetOf(rig.container, 'busy', { mode: '33188' }), O_CREAT | O_RDWR);
  await rig.data.write(fh, Buffer.from('first'), 5, 0);
  faults?.inject({ op: 'put', latencyMs: 100, times: 1 });
  const order: string[] = [];
  const flushing = rig.data.flush(fh).then(() => order.push('flush'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const writing = rig.data.write(fh, Buffer.from('SECOND'), 6, 5).then(() => order.push('write'));
  await Promise.all([flushing, writing]);
  t.same(order, ['flush', 'write'], 'the write waited for the upload');
  t.equal((await objectBytes(rig.container, 'busy')).toString(), 'first', 'the upload holds what was written before it');
  t.equal(rig.data.isDirty('/busy'), true, 'the later write is still to upload');

  faults?.inject({ op: 'put', latencyMs: 100, times: 1 });
  const renamed = rig.data.flush(fh);
  await new Promise((resolve) => setTimeout(resolve, 20));
  rig.data.renameOpen('/busy', '/moved', 'moved');
  t.equal(rig.data.updateMetadata('/moved', { mode: '33261' }), true, 'dirty while uploading: the metadata rides along');
  await renamed;
  t.equal(await errnoOf(rig.container.head('busy')), 'ENOENT', 'the upload under the old name was removed');
  const moved = await rig.container.head('moved');
  t.equal((await objectBytes(rig.container, 'moved')).toString(), 'firstSECOND', 'the same flush uploaded under the new name');
  t.equal(moved.metadata?.['mode'], '33261', 'with the new metadata');
  t.equal(rig.data.isDirty('/moved'), false);
  t.same(rig.uploads.map((u) => u.key), ['busy', 'moved'], 'the hook saw only uploads that stayed');
  await rig.data.release(fh);
});

t.test('RGW: uploads, ESTALE and failed uploads', async (t) => {
  let faults: FaultBackend | undefined;
  const rig = await rgwRig(t, PARTS, (backend) => (faults = new FaultBackend(backend)));
  if (rig === undefined || faults === undefined) return;
  const raw = faults.inner;
  await t.test('one PUT below 16 MiB, multipart above', (t) => roundTrips(t, rig, raw));
  await t.test('a changed object under an open reader is ESTALE', async (t) => {
    await rig.container.put('changing', big.subarray(0, 9 * MiB));
    const fh = await openKey(rig, 'changing', O_RDONLY);
    await rig.data.read(fh, Buffer.alloc(10), 10, 100); // not at 0: no readahead of the second chunk
    await rig.container.put('changing', big.subarray(MiB, 10 * MiB));
    t.equal(await errnoOf(rig.data.read(fh, Buffer.alloc(10), 10, 8 * MiB + 1)), 'ESTALE');
    await rig.data.release(fh);
  });
  await t.test('failed uploads leave the previous object', (t) => failedUploads(t, rig, faults as FaultBackend, raw));
});
