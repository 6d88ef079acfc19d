/**
 * Writes through the data path, checked against a Buffer model, on the
 * memory and the local backends: random writes, holes, append, truncate
 * (grow and shrink), O_TRUNC, random writes into an existing object (the
 * whole object is uploaded), handles sharing one open file, rename and
 * metadata changes of open files, unlink without resurrection, shutdown.
 */
import { randomBytes } from 'node:crypto';
import { readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../../vfs/types.js';
import { DEFAULT_CHUNK_SIZE } from '../../vfs/data/index.js';
import { errnoOf, localRig, memoryRig, MiB, objectBytes, openKey, prng, readThrough, rgwRig, targetOf, type Rig, type RigOptions } from './data-harness.js';

/** Undefined: the target cannot run here (a SKIPPED line was printed). */
type MakeRig = (t: Test, options?: RigOptions) => Promise<Rig | undefined>;
const RIGS: [string, MakeRig][] = [
  ['memory', memoryRig],
  ['local', localRig],
  ['rgw', (t, options) => rgwRig(t, options)],
];

/** A Buffer that grows and shrinks like a file. */
class Model {
  bytes = Buffer.alloc(0);
  write(data: Buffer, at: number): void {
    if (at + data.length > this.bytes.length) this.resize(at + data.length);
    data.copy(this.bytes, at);
  }
  resize(size: number): void {
    const next = Buffer.alloc(size);
    this.bytes.copy(next, 0, 0, Math.min(size, this.bytes.length));
    this.bytes = next;
  }
}

async function writeAll(t: Test, rig: Rig, fh: number, data: Buffer, at: number): Promise<void> {
  const written = await rig.data.write(fh, data, data.length, at);
  if (written !== data.length) t.fail(`wrote ${written} of ${data.length} bytes at ${at}`);
}

for (const [name, makeRig] of RIGS) {
  t.test(`${name}: random writes into a new file round-trip`, async (t) => {
    const rig = await makeRig(t, { chunkSize: 64 * 1024 });
    if (rig === undefined) return;
    const random = prng(1);
    const model = new Model();
    const fh = await rig.data.open(await targetOf(rig.container, 'new', { mode: '33188' }), O_CREAT | O_RDWR);
    t.equal(rig.data.isDirty('/new'), true, 'a new file is dirty before any write');
    for (let i = 0; i < 60; i++) {
      const data = randomBytes(1 + random(20_000));
      const at = random(400_000);
      await writeAll(t, rig, fh, data, at);
      model.write(data, at);
    }
    t.equal(await rig.data.write(fh, Buffer.alloc(0), 0, 10_000_000), 0, 'an empty write');
    t.equal(rig.data.openSize('/new'), model.bytes.length, 'an empty write past the end does not grow the file');
    t.ok((await readThrough(rig.data, fh, 0, model.bytes.length + 10)).equals(model.bytes), 'reads before the upload match (holes are zeros)');
    await rig.data.flush(fh);
    t.equal(rig.data.isDirty('/new'), false);
    t.ok((await objectBytes(rig.container, 'new')).equals(model.bytes), 'the object is the model');
    const info = await rig.container.head('new');
    t.same(rig.uploads.map((u) => [u.path, u.key, u.size, u.etag]), [['/new', 'new', model.bytes.length, info.etag]], 'one upload reported');
    t.equal(info.metadata?.['mode'], '33188', 'the metadata went with it');
    t.ok((await readThrough(rig.data, fh, 0, model.bytes.length)).equals(model.bytes), 'reads after the upload match');
    await rig.data.release(fh);
    t.equal(rig.uploads.length, 1, 'release of a clean file uploads nothing');
    t.same(await readdir(join(rig.cacheDir, 'staging')), [], 'the staging file went with the last handle');
  });

  t.test(`${name}: random writes, truncates and reads on an existing object`, async (t) => {
    const chunk = 16 * 1024;
    const rig = await makeRig(t, { chunkSize: chunk });
    if (rig === undefined) return;
    const model = new Model();
    model.write(randomBytes(10 * chunk + 123), 0);
    await rig.container.put('obj', Buffer.from(model.bytes));
    const fh = await openKey(rig, 'obj', O_RDWR);
    const random = prng(7);
    const done = { reads: 0, flushes: 0 };
    let failed = false;
    const fail = (message: string) => {
      failed = true;
      t.fail(message);
    };
    for (let step = 0; step < 300 && !failed; step++) {
      const op = random(10);
      const size = model.bytes.length;
      if (op < 5) {
        const data = randomBytes(1 + random(chunk * 2));
        const at = random(size + chunk);
        await writeAll(t, rig, fh, data, at);
        model.write(data, at);
      } else if (op < 7) {
        const to = random(size + 3 * chunk);
        await rig.data.truncate(fh, to);
        model.resize(to);
      } else if (op < 9) {
        const at = random(size + 10);
        const length = 1 + random(3 * chunk);
        const got = await readThrough(rig.data, fh, at, length, length);
        const want = model.bytes.subarray(Math.min(at, size), Math.min(at + length, size));
        if (!got.equals(want)) fail(`step ${step}: read [${at}, ${at + length}) differs`);
        done.reads++;
      } else {
        await rig.data.flush(fh);
        if (!(await objectBytes(rig.container, 'obj')).equals(model.bytes)) fail(`step ${step}: the uploaded object differs`);
        done.flushes++;
      }
      if (rig.data.openSize('/obj') !== model.bytes.length) fail(`step ${step}: size ${rig.data.openSize('/obj')} != ${model.bytes.length}`);
    }
    t.ok(done.reads > 30 && done.flushes > 10, `${done.reads} reads and ${done.flushes} uploads checked against the model`);
    await rig.data.release(fh);
    t.ok((await objectBytes(rig.container, 'obj')).equals(model.bytes), 'after the last release the object is the model');
  });

  t.test(`${name}: O_APPEND writes at the end`, async (t) => {
    const rig = await makeRig(t);
    if (rig === undefined) return;
    await rig.container.put('log', Buffer.from('hello'));
    const fh = await openKey(rig, 'log', O_WRONLY | O_APPEND);
    await writeAll(t, rig, fh, Buffer.from(' world'), 0);
    await writeAll(t, rig, fh, Buffer.from('!'), 2);
    await rig.data.release(fh);
    t.equal((await objectBytes(rig.container, 'log')).toString(), 'hello world!');
  });

  t.test(`${name}: truncate shrinks, then grows with zeros (not the old bytes)`, async (t) => {
    const rig = await makeRig(t, { chunkSize: 64 * 1024 });
    if (rig === undefined) return;
    const original = randomBytes(200_000);
    await rig.container.put('obj', original);
    const fh = await openKey(rig, 'obj', O_RDWR);
    await rig.data.truncate(fh, 70_000);
    t.equal(rig.data.openSize('/obj'), 70_000);
    await rig.data.truncate(fh, 250_000);
    const want = Buffer.concat([original.subarray(0, 70_000), Buffer.alloc(180_000)]);
    t.ok((await readThrough(rig.data, fh, 0, 250_000)).equals(want), 'reads show zeros past the old cut');
    await rig.data.flush(fh);
    t.ok((await objectBytes(rig.container, 'obj')).equals(want), 'the object too');
    await rig.data.truncate(fh, 10);
    await rig.data.release(fh);
    t.ok((await objectBytes(rig.container, 'obj')).equals(original.subarray(0, 10)));
  });

  t.test(`${name}: O_TRUNC empties the file, and a new file uploads even when empty`, async (t) => {
    const rig = await makeRig(t);
    if (rig === undefined) return;
    await rig.container.put('obj', randomBytes(1000), { metadata: { mode: '33152' } });
    const reader = await openKey(rig, 'obj', O_RDONLY);
    const fh = await openKey(rig, 'obj', O_WRONLY | O_TRUNC);
    t.equal(rig.data.openSize('/obj'), 0, 'a joined open file is emptied');
    t.equal(rig.data.isDirty('/obj'), true);
    t.equal(await rig.data.read(reader, Buffer.alloc(10), 10, 0), 0, 'other handles see it empty');
    await rig.data.release(fh);
    await rig.data.release(reader);
    const info = await rig.container.head('obj');
    t.equal(info.size, 0, 'an empty object was uploaded');
    t.equal(info.metadata?.['mode'], '33152', 'with its metadata');

    const created = await rig.data.open(await targetOf(rig.container, 'empty', { mode: '33188' }), O_CREAT | O_WRONLY);
    await rig.data.flush(created);
    t.equal((await rig.container.head('empty')).size, 0, 'a new file exists after its first flush');
    await rig.data.release(created);
  });

  t.test(`${name}: handles share one open file; the last release uploads`, async (t) => {
    const rig = await makeRig(t);
    if (rig === undefined) return;
    const a = await rig.data.open(await targetOf(rig.container, 'f'), O_CREAT | O_RDWR);
    const b = await openKey(rig, 'f', O_RDONLY);
    await writeAll(t, rig, a, Buffer.from('shared'), 0);
    const seen = Buffer.alloc(6);
    await rig.data.read(b, seen, 6, 0);
    t.equal(seen.toString(), 'shared', 'a reader sees the writer\'s bytes');
    t.equal(await errnoOf(rig.data.write(b, Buffer.from('x'), 1, 0)), 'EBADF', 'a read-only handle cannot write');
    await rig.data.release(a);
    t.equal(rig.uploads.length, 0, 'not the last handle: nothing uploaded yet');
    t.equal(rig.data.isDirty('/f'), true);
    await rig.data.release(b);
    t.equal(rig.uploads.length, 1, 'the last release uploaded');
    t.equal((await objectBytes(rig.container, 'f')).toString(), 'shared');
    t.equal(rig.data.openSize('/f'), undefined, 'no longer open');
    t.equal(await errnoOf(rig.data.release(b)), 'EBADF', 'a released handle is gone');
  });

  t.test(`${name}: an open dirty file renamed uploads under its new name`, async (t) => {
    const rig = await makeRig(t);
    if (rig === undefined) return;
    const fh = await rig.data.open(await targetOf(rig.container, 'old'), O_CREAT | O_WRONLY);
    await writeAll(t, rig, fh, Buffer.from('moved'), 0);
    rig.data.renameOpen('/old', '/new', 'new');
    t.equal(rig.data.isDirty('/new'), true);
    t.equal(rig.data.openSize('/old'), undefined);
    await rig.data.release(fh);
    t.equal((await objectBytes(rig.container, 'new')).toString(), 'moved');
    t.equal(await errnoOf(rig.container.head('old')), 'ENOENT', 'nothing under the old name');
    t.same(rig.uploads.map((u) => [u.path, u.key]), [['/new', 'new']]);
  });

  t.test(`${name}: metadata changes ride on the next upload only for dirty files`, async (t) => {
    const rig = await makeRig(t);
    if (rig === undefined) return;
    await rig.container.put('clean', Buffer.from('x'), { metadata: { mode: '33188' } });
    const clean = await openKey(rig, 'clean', O_RDONLY);
    t.equal(rig.data.updateMetadata('/clean', { mode: '33261' }), false, 'a clean file: the namespace copies');
    t.equal(rig.data.isDirty('/clean'), false);
    t.equal(rig.data.updateMetadata('/not-open', { mode: '1' }), false, 'a file not open');
    const dirty = await rig.data.open(await targetOf(rig.container, 'dirty', { mode: '33188' }), O_CREAT | O_WRONLY);
    await writeAll(t, rig, dirty, Buffer.from('y'), 0);
    t.equal(rig.data.updateMetadata('/dirty', { mode: '33261', 'xattr-user.a': 'b' }), true);
    await rig.data.release(dirty);
    t.same((await rig.container.head('dirty')).metadata, { mode: '33261', 'xattr-user.a': 'b' });
    await rig.data.release(clean);
  });

  t.test(`${name}: an unlinked open file is never uploaded again`, async (t) => {
    const rig = await makeRig(t);
    if (rig === undefined) return;
    const fh = await rig.data.open(await targetOf(rig.container, 'gone'), O_CREAT | O_RDWR);
    await writeAll(t, rig, fh, Buffer.from('local only'), 0);
    rig.data.unlinkOpen('/gone');
    t.equal(rig.data.isDirty('/gone'), false);
    const local = Buffer.alloc(10);
    await rig.data.read(fh, local, 10, 0);
    t.equal(local.toString(), 'local only', 'its handles still read their data');
    await writeAll(t, rig, fh, Buffer.from('more'), 10);
    await rig.data.flush(fh);
    await rig.data.release(fh);
    t.equal(await errnoOf(rig.container.head('gone')), 'ENOENT', 'not resurrected');
  });

  t.test(`${name}: close uploads dirty files and clears staging; a new start deletes leftovers`, async (t) => {
    const rig = await makeRig(t);
    if (rig === undefined) return;
    const fh = await rig.data.open(await targetOf(rig.container, 'pending'), O_CREAT | O_WRONLY);
    await writeAll(t, rig, fh, Buffer.from('at shutdown'), 0);
    await rig.data.close();
    await rig.data.close();
    t.equal((await objectBytes(rig.container, 'pending')).toString(), 'at shutdown');
    t.same(await readdir(join(rig.cacheDir, 'staging')), []);

    const dir = join(rig.cacheDir, 'staging');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'leftover'), 'never acknowledged');
    const logged: string[] = [];
    const next = rig.another({ cacheDir: rig.cacheDir, log: (_level, message) => logged.push(message) });
    const again = await openKey(rig, 'pending', O_RDONLY, next);
    t.same(await readdir(dir), [], 'leftovers are deleted at start');
    t.ok(logged.some((m) => m.includes('staging files left')), 'with a log line');
    await next.release(again);
  });
}

/** 16 MiB parts: a 20 MiB object is two, the patched one sent and the other copied. */
const PART = 16 * MiB;

t.test('a random write into an existing 20 MiB object sends one part and copies the rest (memory counters)', async (t) => {
  const rig = await memoryRig(t, { partSize: PART });
  const model = new Model();
  model.write(randomBytes(20 * MiB), 0);
  await rig.container.put('big', Buffer.from(model.bytes));
  const fh = await openKey(rig, 'big', O_RDWR);
  rig.memory.resetCounters();
  const patch = randomBytes(1000);
  await writeAll(t, rig, fh, patch, 13 * MiB + 17);
  model.write(patch, 13 * MiB + 17);
  t.equal(rig.memory.counters.get, 0, 'a write fetches nothing');
  await rig.data.flush(fh);
  const parts = Math.ceil((20 * MiB) / PART);
  t.equal(rig.memory.counters.createMultipart, 1, 'above 16 MiB: multipart');
  t.equal(rig.memory.counters.uploadPart, 1, 'only the part holding the patch is sent');
  t.equal(rig.memory.counters.uploadPartCopy, parts - 1, 'the others are copied server-side');
  t.equal(rig.memory.counters.head, 1, 'after one HEAD checking the base is unchanged');
  // One GET for the part's unchanged bytes around the patch (open-file.ts readWhole), straight into the part buffer.
  t.equal(rig.memory.counters.get, 1, 'the sent part was completed from the bucket with one GET');
  t.ok((await objectBytes(rig.container, 'big')).equals(model.bytes), 'the object is the old one with the patch');
  rig.memory.resetCounters();
  t.ok((await readThrough(rig.data, fh, 0, 20 * MiB, MiB)).equals(model.bytes), 'reads after the upload are right');
  t.equal(rig.memory.counters.get, Math.ceil((20 * MiB - PART) / DEFAULT_CHUNK_SIZE), 'only the copied range is fetched (new etag)');
  await rig.data.release(fh);
});
