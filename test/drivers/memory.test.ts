/**
 * The in-memory backend: the shared conformance suite, then what only it
 * promises: every call is counted exactly once under its operation, and no
 * Buffer is shared with a caller. S3 details it mirrors are in
 * memory-semantics.test.ts.
 */
import t from 'tap';
import { MemoryBackend, sharedMemoryBackend } from '../../drivers/memory.js';
import type { Operation } from '../../drivers/decorators/forwarding.js';
import { runConformance } from '../conformance/index.js';
import { readAll } from '../conformance/helpers.js';

let buckets = 0;
await runConformance(t, 'memory', async () => {
  const backend = new MemoryBackend({ name: 'conformance' });
  await backend.createBucket('conformance');
  t.teardown(() => backend.close());
  return { name: 'memory', backend, bucket: 'conformance', freshBucketName: () => `fresh-${++buckets}` };
});

/** One call of every operation, against bucket 'bkt' holding 'k' and an upload 'u' of 'k'. */
const CALLS: Record<Operation, (m: MemoryBackend, uploadId: string) => Promise<unknown>> = {
  listBuckets: (m) => m.listBuckets(),
  headBucket: (m) => m.headBucket('bkt'),
  createBucket: (m) => m.createBucket('bkt'),
  deleteBucket: (m) => m.deleteBucket('no-such-bucket'),
  head: (m) => m.head('bkt', 'k'),
  get: (m) => m.get('bkt', 'k'),
  put: (m) => m.put('bkt', 'k2', Buffer.from('x')),
  copy: (m) => m.copy({ bucket: 'bkt', key: 'k' }, { bucket: 'bkt', key: 'k3' }),
  delete: (m) => m.delete('bkt', 'missing'),
  deleteMany: (m) => m.deleteMany('bkt', ['missing']),
  listPage: (m) => m.listPage('bkt'),
  createMultipart: (m) => m.createMultipart('bkt', 'k'),
  uploadPart: (m, id) => m.uploadPart('bkt', 'k', id, 1, Buffer.from('p')),
  uploadPartCopy: (m, id) => m.uploadPartCopy('bkt', 'k', id, 2, { bucket: 'bkt', key: 'k' }, { start: 0, end: 1 }),
  completeMultipart: (m, id) => m.completeMultipart('bkt', 'k', id, []),
  abortMultipart: (m, id) => m.abortMultipart('bkt', 'k', id),
  listMultipartUploads: (m) => m.listMultipartUploads('bkt'),
  listParts: (m, id) => m.listParts('bkt', 'k', id),
  getTags: (m) => m.getTags('bkt', 'k'),
  putTags: (m) => m.putTags('bkt', 'k', { a: '1' }),
  deleteTags: (m) => m.deleteTags('bkt', 'k'),
  enableVersioning: (m) => m.enableVersioning('no-such-bucket'),
  listVersions: (m) => m.listVersions('bkt'),
  signedUrl: (m) => m.signedUrl('bkt', 'k', { method: 'GET', expiresIn: 60 }),
  append: (m) => m.append('bkt', 'k', 0, Buffer.from('a')),
  getAcl: (m) => m.getAcl('bkt', 'k'),
  putAcl: (m) => m.putAcl('bkt', 'k', 'private'),
  restore: (m) => m.restore('bkt', 'k', { days: 1 }),
  watch: async (m) => (await m.watch('bkt', {}, () => {})).close(),
};

t.test('every call counts once under its operation, whether it succeeds or fails', async (t) => {
  const m = new MemoryBackend();
  await m.createBucket('bkt');
  await m.put('bkt', 'k', Buffer.from('data'));
  const uploadId = await m.createMultipart('bkt', 'k');
  for (const [op, call] of Object.entries(CALLS) as [Operation, (typeof CALLS)[Operation]][]) {
    m.resetCounters();
    await call(m, uploadId).catch(() => undefined);
    const counted = Object.entries(m.counters).filter(([, n]) => n > 0);
    t.same(counted, [[op, 1]], `${op} counts itself once and nothing else`);
    t.equal(m.count(op), 1, `count('${op}') reads the counter`);
  }
  m.resetCounters();
  t.ok(Object.values(m.counters).every((n) => n === 0), 'resetCounters zeroes every counter');
});

t.test('a listing of N keys costs ceil(N/1000) listPage calls', async (t) => {
  const m = new MemoryBackend();
  await m.createBucket('bkt');
  for (let i = 0; i < 2500; i++) await m.put('bkt', `dir/${i}`, Buffer.alloc(0));
  m.resetCounters();
  let token: string | undefined;
  let keys = 0;
  do {
    const page = await m.listPage('bkt', token === undefined ? { prefix: 'dir/' } : { prefix: 'dir/', token });
    keys += page.objects.length;
    token = page.nextToken;
  } while (token !== undefined);
  t.equal(keys, 2500, 'all keys listed');
  t.equal(m.count('listPage'), 3, 'three pages for 2,500 keys');
});

t.test('buffers are never shared with callers', async (t) => {
  const m = new MemoryBackend();
  await m.createBucket('bkt');
  const given = Buffer.from('original');
  await m.put('bkt', 'k', given);
  given.fill(0x21);
  const first = await readAll((await m.get('bkt', 'k')).body);
  t.equal(first.toString(), 'original', 'changing the buffer given to put does not change the object');
  first.fill(0x21);
  t.equal((await readAll((await m.get('bkt', 'k')).body)).toString(), 'original', 'changing a buffer read does not either');

  const uploadId = await m.createMultipart('bkt', 'mp');
  const part = Buffer.from('part');
  const result = await m.uploadPart('bkt', 'mp', uploadId, 1, part);
  part.fill(0x21);
  await m.completeMultipart('bkt', 'mp', uploadId, [result]);
  t.equal((await readAll((await m.get('bkt', 'mp')).body)).toString(), 'part', 'uploadPart copies its buffer');

  const appended = Buffer.from('tail');
  await m.append('bkt', 'ap', 0, appended);
  appended.fill(0x21);
  t.equal((await readAll((await m.get('bkt', 'ap')).body)).toString(), 'tail', 'append copies its buffer');

  const meta = { a: '1' };
  await m.put('bkt', 'meta', Buffer.from('x'), { metadata: meta });
  meta.a = 'changed';
  const info = await m.head('bkt', 'meta');
  info.metadata!['a'] = 'changed too';
  t.same((await m.head('bkt', 'meta')).metadata, { a: '1' }, 'metadata given or returned is copied as well');
});

t.test('get streams bytes, not objects', async (t) => {
  const m = new MemoryBackend();
  await m.createBucket('bkt');
  await m.put('bkt', 'k', Buffer.alloc(3 * 1024 * 1024 + 5, 7));
  const { body } = await m.get('bkt', 'k');
  t.equal(body.readableObjectMode, false, 'the body is a byte stream');
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  t.ok(chunks.length > 1, 'a large object arrives in several chunks');
  t.equal(Buffer.concat(chunks).length, 3 * 1024 * 1024 + 5, 'all bytes arrive');
});

t.test('sharedMemoryBackend keeps one store per name, holding a bucket of that name', async (t) => {
  const a = sharedMemoryBackend('shared-test');
  t.equal(sharedMemoryBackend('shared-test'), a, 'the same name gives the same store');
  t.not(sharedMemoryBackend('other-shared-test'), a, 'another name gives another store');
  await a.put('shared-test', 'k', Buffer.from('v'));
  t.equal((await sharedMemoryBackend('shared-test').head('shared-test', 'k')).size, 1, 'data written through one is seen through the other');
  t.equal(a.label, 'memory://shared-test', 'the label names the store');
  t.equal(a.kind, 'memory', 'kind is memory');
});
