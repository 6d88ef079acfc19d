/**
 * The chunk file writer: chunks in shared memory are written by its worker
 * thread, others on the JS thread, both in the one format readVerified
 * checks; a failed write rejects with the reason and leaves no temp file; a
 * dead worker fails only its own writes and the next write starts another.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readVerified } from '../../cache/chunks/chunk-file.js';
import { ChunkFileWriter } from '../../cache/chunks/file-writer.js';

const shared = (bytes: Buffer): Buffer => {
  const memory = Buffer.from(new SharedArrayBuffer(bytes.length + 16));
  bytes.copy(memory, 16);
  return memory.subarray(16); // a view at an offset, like a short last chunk of a pool buffer
};

async function verified(path: string, length: number): Promise<Buffer | undefined> {
  const handle = await open(path, 'r');
  try {
    return await readVerified(handle, length);
  } finally {
    await handle.close();
  }
}

async function scratch(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketfs-chunk-writer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('shared chunks go to the worker thread, others are written here; both read back verified', async (t) => {
  const dir = await scratch(t);
  const writer = new ChunkFileWriter();
  t.teardown(() => writer.close());
  const a = randomBytes(3 * 1024 * 1024 + 7);
  const b = randomBytes(4096);
  await Promise.all([writer.write(join(dir, 'a'), shared(a)), writer.write(join(dir, 'b'), b)]);
  t.equal(writer.offThread, 1, 'the shared chunk went to the worker');
  t.same(await verified(join(dir, 'a'), a.length), a);
  t.same(await verified(join(dir, 'b'), b.length), b);
  t.same((await readdir(dir)).sort(), ['a', 'b'], 'no temp file left');
});

t.test('many writes in flight each land whole', async (t) => {
  const dir = await scratch(t);
  const writer = new ChunkFileWriter();
  t.teardown(() => writer.close());
  const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(64 * 1024 + i));
  await Promise.all(chunks.map((c, i) => writer.write(join(dir, `c${i}`), shared(c))));
  t.equal(writer.offThread, 40);
  for (const [i, c] of chunks.entries()) t.same(await verified(join(dir, `c${i}`), c.length), c, `chunk ${i}`);
});

t.test('a failed write rejects with the reason and leaves nothing behind; the writer goes on', async (t) => {
  const dir = await scratch(t);
  const writer = new ChunkFileWriter();
  t.teardown(() => writer.close());
  await t.rejects(writer.write(join(dir, 'missing', 'x'), shared(randomBytes(100))), /ENOENT/);
  const c = randomBytes(100);
  await writer.write(join(dir, 'x'), shared(c));
  t.same(await verified(join(dir, 'x'), c.length), c);
  t.same(await readdir(dir), ['x']);
});

t.test('a worker that dies fails its own writes only; the next write starts another', async (t) => {
  const dir = await scratch(t);
  const writer = new ChunkFileWriter();
  t.teardown(() => writer.close());
  await writer.write(join(dir, 'first'), shared(randomBytes(10)));
  const worker = (writer as unknown as { worker: { terminate(): Promise<number> } }).worker;
  const pending = writer.write(join(dir, 'lost'), shared(randomBytes(8 * 1024 * 1024)));
  // A thread being terminated does not keep the event loop alive (the daemon has its mount and
  // sockets for that): without this timer the test process could end before the exit is seen.
  const keepAlive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(keepAlive));
  await worker.terminate();
  await pending.then(
    () => t.pass('the write finished before the worker went'),
    (error: Error) => t.match(error.message, /chunk writer thread exited/),
  );
  const c = randomBytes(1000);
  await writer.write(join(dir, 'after'), shared(c));
  t.same(await verified(join(dir, 'after'), c.length), c, 'a new worker wrote it');
});

t.test('after close, shared chunks are written on the JS thread', async (t) => {
  const dir = await scratch(t);
  const writer = new ChunkFileWriter();
  await writer.close();
  const c = randomBytes(1000);
  await writer.write(join(dir, 'x'), shared(c));
  t.equal(writer.offThread, 0);
  t.same(await verified(join(dir, 'x'), c.length), c);
});
