/**
 * The libcloud-style API (drivers/storage.ts, drivers/transfer.ts) over a
 * backend: both call styles, chunked parallel uploads from a path, a stream
 * and a Buffer, atomic verified downloads, lazy listings, multipart copies and
 * batched deletes. Run for every backend by runConformance.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Test } from 'tap';
import type { Backend } from '../../drivers/contract.js';
import { Driver, StoredObject, PrefixEntry } from '../../drivers/storage.js';
import { MiB } from '../../drivers/base-backend.js';
import type { ConformanceTarget } from './target.js';
import { deleteKeys, lacks } from './helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The same backend with a smaller single-copy limit, to drive the multipart-copy path with small objects. */
function withCopyLimit(backend: Backend, maxCopySize: number): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      if (prop === 'limits') return { ...target.limits, maxCopySize };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export async function libraryTests(t: Test, target: ConformanceTarget): Promise<void> {
  const driver = new Driver(target.backend);
  const own = { target, backend: target.backend, bucket: target.bucket };
  const container = await driver.getContainer(target.bucket);
  const dir = await mkdtemp(join(tmpdir(), 'bucketfs-lib-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const base = `lib-${randomBytes(4).toString('hex')}/`;
  // 12 MiB + 5 bytes with an 8 MiB threshold and 5 MiB parts: three parts, the last one short.
  const big = randomBytes(12 * MiB + 5);
  const transfer = { multipartThreshold: 8 * MiB, partSize: 5 * MiB, concurrency: 3 };

  await t.test('uploadObject from a path, a stream and a Buffer, small and multipart', async (t) => {
    const path = join(dir, 'big.bin');
    await writeFile(path, big);
    const sources = {
      path: () => path,
      stream: () => Readable.from([big.subarray(0, 3 * MiB), big.subarray(3 * MiB)]),
      buffer: () => big,
    };
    for (const [name, source] of Object.entries(sources)) {
      let progress = 0;
      const obj = await container.uploadObject(source(), `${base}up-${name}`, { ...transfer, onProgress: (n) => (progress = n) });
      t.equal(obj.size, big.length, `${name}: size`);
      t.equal(progress, big.length, `${name}: progress reached the full size`);
      t.equal(sha(await collect(await obj.asStream())), sha(big), `${name}: content`);
    }
    // Between the part size and the threshold: one PUT that must carry the whole file.
    const mid = big.subarray(0, 7 * MiB + 3);
    await writeFile(join(dir, 'mid.bin'), mid);
    const midObj = await container.uploadObject(join(dir, 'mid.bin'), `${base}mid`, transfer);
    t.equal(midObj.size, mid.length, 'single PUT from a path: whole file');
    t.equal(sha(await container.getRange(`${base}mid`, { start: 0 })), sha(mid), 'single PUT from a path: content');
    const small = await container.uploadObject(Buffer.from('hello'), `${base}small`, { metadata: { color: 'blue' } });
    t.equal(small.size, 5);
    t.same(small.metadata, { color: 'blue' });
    const empty = await container.uploadObject(Readable.from([]), `${base}empty`);
    t.equal(empty.size, 0);
  });

  await t.test('downloadObject is atomic and verified; both call styles', async (t) => {
    const dest = join(dir, 'down.bin');
    const obj = await container.downloadObject(`${base}up-buffer`, dest, transfer);
    t.equal(sha(await readFile(dest)), sha(big), 'parallel ranged download assembles the object');
    t.equal(obj.size, big.length);
    // Many small ranged parts in flight at once: every byte must land.
    const many = join(dir, 'down-many.bin');
    await container.downloadObject(`${base}up-buffer`, many, { multipartThreshold: MiB, partSize: MiB, concurrency: 6 });
    t.equal(sha(await readFile(many)), sha(big), '12 parallel 1 MiB ranged reads assemble the object');
    const small = await driver.getObject(target.bucket, `${base}small`);
    t.ok(small instanceof StoredObject);
    await small.download(join(dir, 'small.txt'));
    t.equal(await readFile(join(dir, 'small.txt'), 'utf8'), 'hello');
    await driver.downloadObject(small, join(dir, 'small2.txt'));
    t.equal(await readFile(join(dir, 'small2.txt'), 'utf8'), 'hello');
    t.equal((await collect(await small.asStream({ start: 1, end: 3 }))).toString(), 'el');
    await t.rejects(container.downloadObject(`${base}missing`, join(dir, 'never.bin')), { code: 'NotFound' });
    const left = (await readdir(dir)).filter((n) => n.includes('never') || n.includes('.partial-'));
    t.same(left, [], 'a failed download leaves neither the file nor a temp file');
  });

  await t.test('listObjects is lazy across pages and yields prefixes', async (t) => {
    await Promise.all(['a/1', 'a/2', 'b', 'c/d/e'].map((k) => container.put(`${base}tree/${k}`, Buffer.from(k))));
    const names: string[] = [];
    for await (const entry of container.listObjects({ prefix: `${base}tree/`, pageSize: 2 })) {
      if (entry instanceof StoredObject) names.push(entry.name);
    }
    t.same(names, ['a/1', 'a/2', 'b', 'c/d/e'].map((k) => `${base}tree/${k}`));
    const top: string[] = [];
    for await (const entry of driver.listContainerObjects(container, { prefix: `${base}tree/`, delimiter: '/' })) {
      top.push(entry instanceof PrefixEntry ? `P:${entry.prefix}` : `O:${entry.name}`);
    }
    // c/ holds only the deeper key c/d/e.
    const nested = lacks(t, { target }, 'nestedPrefixes') ? [] : [`P:${base}tree/c/`];
    t.same(top.sort(), [`O:${base}tree/b`, `P:${base}tree/a/`, ...nested], 'a delimiter listing yields keys and prefixes');
  });

  await t.test('copy: single request and multipart above the copy limit', async (t) => {
    await container.copy(`${base}small`, `${base}small-copy`);
    t.equal((await container.getRange(`${base}small-copy`, { start: 0 })).toString(), 'hello');
    if (!target.backend.capabilities.uploadPartCopy || target.serverLacks?.uploadPartCopy) {
      t.comment(`multipart copy not run: ${target.serverLacks?.uploadPartCopy ?? 'no UploadPartCopy'}`);
      return;
    }
    const small = new Driver(withCopyLimit(target.backend, 6 * MiB)).container(target.bucket);
    await small.copy(`${base}up-path`, `${base}big-copy`, { partSize: 5 * MiB });
    const copied = await container.getObject(`${base}big-copy`);
    t.equal(copied.size, big.length);
    t.match(copied.hash, /-3$|^[0-9a-f]+$/, 'three copy parts');
    t.equal(sha(await container.getRange(`${base}big-copy`, { start: 0 })), sha(big), 'content of the multipart copy');
  });

  await t.test('deleteMany in batches; obj.delete and driver.deleteObject', async (t) => {
    const keys = Array.from({ length: 30 }, (_, i) => `${base}del/${i}`);
    await Promise.all(keys.map((k) => container.put(k, Buffer.from('x'))));
    if (lacks(t, { target }, 'batchDelete')) {
      await deleteKeys(own, keys);
    } else {
      const result = await container.deleteMany([...keys, `${base}del/missing`]);
      t.equal(result.errors.length, 0);
    }
    t.equal((await container.listPage({ prefix: `${base}del/` })).objects.length, 0);
    const obj = await container.getObject(`${base}small-copy`);
    await obj.delete();
    await t.rejects(container.head(`${base}small-copy`), { code: 'NotFound' });
    await driver.deleteObject(await container.getObject(`${base}small`));
    await t.rejects(container.head(`${base}small`), { code: 'NotFound' });
  });

  const leftovers: string[] = [];
  for await (const entry of container.listObjects({ prefix: base })) if (entry instanceof StoredObject) leftovers.push(entry.name);
  await deleteKeys(own, leftovers);
}
