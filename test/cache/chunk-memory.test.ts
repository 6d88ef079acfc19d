/**
 * The chunk store's memory bound: the fixed pool of chunk buffers
 * (chunks/buffers.ts) — a take beyond the pool waits for a recycle, after
 * asking to reclaim a cached chunk; a buffer goes back whole from a view of
 * it; foreign buffers are never taken in — and the store reading many times
 * its memory share (readahead runs and single fetches) never holding more
 * than its pool, every byte right; an idle store gives its spare buffers
 * back. `readDirect` (for upload parts): one GET per run of uncached chunks
 * straight into the caller's buffer, cached ones served from the cache,
 * nothing added to the cache.
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import type { ChunkSource } from '../../cache/chunks.js';
import { BufferPool } from '../../cache/chunks/buffers.js';
import { IDLE_BUFFERS_MS } from '../../cache/chunks/collect.js';
import { CHUNK, rig } from './chunk-rig.js';

const bytes = randomBytes(64 * CHUNK);

async function storeOn(t: Test, memoryBytes: number) {
  const { memory, container, store: open, source: sourceOf } = await rig(t);
  const store = await open({ memoryBytes });
  await container.put('obj', bytes);
  const source: ChunkSource = await sourceOf('obj');
  return { memory, store, source };
}

t.test('the store asks beforeGrow before each new chunk buffer, never for a reused one', async (t) => {
  const { container, store: open, source: sourceOf } = await rig(t);
  let grows = 0;
  const store = await open({ memoryBytes: 4 * CHUNK, beforeGrow: () => void grows++ });
  await container.put('obj', bytes);
  const source = await sourceOf('obj');
  const into = Buffer.alloc(32 * CHUNK);
  store.prefetch(source, Array.from({ length: 32 }, (_, i) => i));
  await store.read(source, 0, 32 * CHUNK, into, 0);
  t.ok(into.equals(bytes.subarray(0, 32 * CHUNK)));
  t.equal(grows * CHUNK, store.stats().memoryBytes, `once per buffer allocated (${grows})`);
  t.ok(grows >= 1 && grows <= 4, 'at most the pool of 4, though 32 chunks went through it');
});

t.test('an idle store lets its spare chunk buffers go, keeps the cached chunks; the next read allocates again', async (t) => {
  const { store, source } = await storeOn(t, 8 * CHUNK);
  const into = Buffer.alloc(8 * CHUNK);
  store.prefetch(source, Array.from({ length: 8 }, (_, i) => i));
  await store.read(source, 0, 8 * CHUNK, into, 0);
  const busy = store.stats().memoryBytes;
  t.ok(busy > 2 * CHUNK, `${busy / CHUNK} buffers after a read`);
  await new Promise((resolve) => setTimeout(resolve, IDLE_BUFFERS_MS + 300));
  // The memory LRU holds a quarter of the share: the last two chunks of eight, in pool buffers.
  t.equal(store.stats().memoryBytes, 2 * CHUNK, `${IDLE_BUFFERS_MS} ms after the last take: the two cached chunks' buffers only`);
  await store.read(source, 8 * CHUNK, 16 * CHUNK, into, 0);
  t.ok(into.equals(bytes.subarray(8 * CHUNK, 16 * CHUNK)), 'the next read is right');
  t.ok(store.stats().memoryBytes > 0, 'with buffers allocated again');
});

t.test('the buffer pool: at most max buffers, waiters served by recycles, reclaim asked first', async (t) => {
  let reclaims = 0;
  const pool = new BufferPool(1024, 2, () => {
    reclaims++;
    return false;
  });
  const a = await pool.take(1024);
  const b = await pool.take(100);
  t.equal(b.length, 100, 'a shorter buffer is a view of a pooled one');
  t.equal(pool.bytes, 2048, 'two buffers allocated');
  let third: Buffer | undefined;
  const waiting = pool.take(1024).then((buffer) => (third = buffer));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(third, undefined, 'a third take waits');
  t.equal(reclaims, 1, 'after asking to reclaim a cached chunk');
  pool.recycle(Buffer.alloc(1024));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(third, undefined, 'a buffer the pool did not make is not taken in');
  pool.recycle(b);
  await waiting;
  t.equal(third?.length, 1024, 'the view went back whole and served the waiter');
  t.equal(third?.buffer, b.buffer, 'the same memory');
  t.equal(pool.bytes, 2048, 'still two buffers');
  pool.recycle(a);
  pool.recycle(a);
  const c = await pool.take(1024);
  const d = pool.take(1024);
  let dTaken = false;
  void d.then(() => (dTaken = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(c.buffer, a.buffer, 'a recycled buffer is reused');
  t.notOk(dTaken, 'a buffer recycled twice is lent once');
  pool.recycle(c);
  await d;
});

t.test('reading 32 times the memory share holds at most the pool, every byte right', async (t) => {
  const share = 2 * CHUNK;
  const { store, source } = await storeOn(t, share);
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, store.stats().memoryBytes)), 1);
  t.teardown(() => clearInterval(watch));
  const into = Buffer.alloc(bytes.length);
  // Readahead runs ahead of a sequential reader, plus random single-chunk reads at the same time.
  store.prefetch(source, Array.from({ length: 32 }, (_, i) => i));
  const reads: Promise<void>[] = [];
  for (let i = 0; i < 64; i++) reads.push(store.read(source, i * CHUNK, (i + 1) * CHUNK, into, i * CHUNK));
  await Promise.all(reads);
  await store.idle();
  peak = Math.max(peak, store.stats().memoryBytes);
  t.ok(into.equals(bytes), 'every byte right');
  t.ok(peak <= share, `chunk buffers peaked at ${peak} bytes ≤ the share ${share}`);
  const again = Buffer.alloc(bytes.length);
  await store.read(source, 0, bytes.length, again, 0);
  t.ok(again.equals(bytes), 'and right again from the cache disk');
});

t.test('readDirect: one GET per uncached run, into the caller buffer; cached chunks served from the cache', async (t) => {
  const { memory, store, source } = await storeOn(t, 4 * CHUNK);
  const warm = Buffer.alloc(CHUNK);
  await store.read(source, 5 * CHUNK, 6 * CHUNK, warm, 0);
  await store.idle();
  memory.resetCounters();
  const fetchedBefore = store.stats().bytesFetched;
  const start = 2 * CHUNK + 100;
  const end = 9 * CHUNK - 100;
  const into = Buffer.alloc(end - start + 10);
  await store.readDirect(source, start, end, into, 10);
  t.ok(into.subarray(10).equals(bytes.subarray(start, end)), 'the bytes of the range');
  t.equal(memory.counters.get, 2, 'two GETs: the runs before and after the cached chunk');
  t.equal(store.stats().bytesFetched - fetchedBefore, end - start - CHUNK, 'only the uncached bytes fetched');
  memory.resetCounters();
  await store.read(source, 3 * CHUNK, 4 * CHUNK, warm, 0);
  t.equal(memory.counters.get, 1, 'nothing read directly was cached');
});
