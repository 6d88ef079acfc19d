/**
 * The data path's cache bound with files larger than the cache (sync mode,
 * memory backend with request counters): a writer that fills the bound
 * uploads its file as a checkpoint and drops its local copy, so a file
 * several times the bound is written while the staging directory stays
 * under it; writes into and reads of the ranges dropped that way see the
 * right bytes; a failed checkpoint fails the write with EIO and loses
 * nothing; random writes assembled into parts fetch each part's unchanged
 * bytes with one GET straight into the part buffer.
 */
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import { O_CREAT, O_RDWR } from '../../vfs/types.js';
import { errnoOf, memoryRig, MiB, objectBytes, openKey, readThrough, type Rig } from './data-harness.js';

/** 5 MiB parts (the smallest S3 allows), a 20 MiB bound: a 60 MiB file is three times the cache. */
const PART = 5 * MiB;
const BOUND = 20 * MiB;
const PIECE = MiB;
const content = randomBytes(60 * MiB);

/** Bytes the staging files hold on disk (allocated blocks, as du counts). */
async function stagedOnDisk(rig: Rig): Promise<number> {
  const dir = join(rig.cacheDir, 'staging');
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) total += await stat(join(dir, name)).then((s) => s.blocks * 512, () => 0);
  return total;
}

async function boundedRig(t: Test) {
  let faults: FaultBackend | undefined;
  const rig = await memoryRig(t, { partSize: PART, multipartThreshold: PART, cacheBytes: BOUND }, (memory) => (faults = new FaultBackend(memory)));
  return { ...rig, faults: faults as FaultBackend };
}

/** Writes `data` at `at` in 1 MiB pieces; returns the largest staging disk use and chunk-store accounting seen. */
async function writeWatching(rig: Rig, fh: number, data: Buffer, at = 0): Promise<{ disk: number; held: number }> {
  const peak = { disk: 0, held: 0 };
  for (let done = 0; done < data.length; done += PIECE) {
    const slice = data.subarray(done, done + PIECE);
    await rig.data.write(fh, slice, slice.length, at + done);
    peak.disk = Math.max(peak.disk, await stagedOnDisk(rig));
    peak.held = Math.max(peak.held, rig.data.stats().cache.bytes);
  }
  return peak;
}

t.test('a file three times the cache bound is written: checkpoints keep the staging files under the bound', async (t) => {
  const rig = await boundedRig(t);
  const fh = await openKey(rig, 'big', O_CREAT | O_RDWR);
  const peak = await writeWatching(rig, fh, content);
  t.ok(peak.disk <= BOUND, `staging files peaked at ${peak.disk} bytes on disk ≤ the bound ${BOUND}`);
  t.ok(peak.held <= BOUND, `the cache accounted at most ${peak.held} bytes ≤ the bound`);
  t.ok(rig.memory.counters.completeMultipart >= 2, `uploaded as checkpoints while written (${rig.memory.counters.completeMultipart} completed before close)`);
  t.ok((await readThrough(rig.data, fh, 0, content.length)).equals(content), 'reads before close see every byte (the dropped ones from the checkpoint)');
  await rig.data.release(fh);
  t.ok((await objectBytes(rig.container, 'big')).equals(content), 'the object is the whole file');
  t.same(await rig.memory.listMultipartUploads('data'), [], 'no multipart upload left');
  t.equal(rig.data.stats().cache.dirtyBytes, 0, 'nothing dirty after close');
});

t.test('writes into ranges dropped after a checkpoint, and reads of them, see the right bytes', async (t) => {
  const rig = await boundedRig(t);
  const model = Buffer.from(content.subarray(0, 50 * MiB));
  const fh = await openKey(rig, 'f', O_CREAT | O_RDWR);
  await writeWatching(rig, fh, model);
  t.ok(rig.memory.counters.completeMultipart >= 1, 'a checkpoint dropped the start of the file');
  // Overwrite bytes that left the cache, across a part boundary, then read them back before and after close.
  const patch = randomBytes(3 * MiB);
  const at = PART - MiB;
  await rig.data.write(fh, patch, patch.length, at);
  patch.copy(model, at);
  t.ok((await readThrough(rig.data, fh, 0, model.length)).equals(model), 'the file reads as the model while open');
  await rig.data.release(fh);
  t.ok((await objectBytes(rig.container, 'f')).equals(model), 'the object is the model');
});

t.test('a failed checkpoint fails the write with EIO and loses nothing acknowledged', async (t) => {
  const rig = await boundedRig(t);
  const fh = await openKey(rig, 'f', O_CREAT | O_RDWR);
  rig.faults.inject({ op: 'completeMultipart', error: 'Transient' });
  let acknowledged = 0;
  let failure: string | undefined;
  for (; acknowledged < content.length && failure === undefined; ) {
    failure = await errnoOf(rig.data.write(fh, content.subarray(acknowledged, acknowledged + PIECE), PIECE, acknowledged));
    if (failure === undefined) acknowledged += PIECE;
  }
  t.equal(failure, 'EIO', 'the write that needed a checkpoint fails with EIO');
  t.ok(acknowledged >= BOUND - PIECE, `the writes before it were acknowledged (${acknowledged} bytes)`);
  t.ok((await readThrough(rig.data, fh, 0, acknowledged)).equals(content.subarray(0, acknowledged)), 'every acknowledged byte still reads');
  rig.faults.clear();
  await rig.data.release(fh);
  t.ok((await objectBytes(rig.container, 'f')).equals(content.subarray(0, acknowledged)), 'the next close uploads every acknowledged byte');
});

t.test('random writes in a large object: each part sent fetches its unchanged bytes with one GET', async (t) => {
  const rig = await memoryRig(t, { partSize: PART, multipartThreshold: PART });
  const base = content.subarray(0, 4 * PART);
  await rig.container.put('obj', base);
  const model = Buffer.from(base);
  const fh = await openKey(rig, 'obj', O_RDWR);
  const patch = randomBytes(4096);
  // Three scattered 4 KiB writes in each part: every part is sent, none can be copied.
  for (let part = 0; part < 4; part++) {
    for (const offset of [10_000, 2 * MiB + 12_345, PART - 5000]) {
      await rig.data.write(fh, patch, patch.length, part * PART + offset);
      patch.copy(model, part * PART + offset);
    }
  }
  rig.memory.resetCounters();
  await rig.data.flush(fh);
  t.equal(rig.memory.counters.uploadPart, 4, 'four parts sent');
  t.equal(rig.memory.counters.get, 4, 'one GET per part for its unchanged bytes');
  t.ok((await objectBytes(rig.container, 'obj')).equals(model), 'the object is the model');
  await rig.data.release(fh);
});
