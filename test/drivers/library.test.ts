/**
 * Failure paths of the library built on the contract, over the memory backend
 * with the fault-injecting decorator: uploads fail loudly and leave nothing
 * behind, retries are bounded and only for Transient errors, bandwidth limits
 * hold, corrupted transfers are caught.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Readable } from 'node:stream';
import t from 'tap';
import { MemoryBackend } from '../../drivers/memory.js';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import { RetryingBackend, backoffDelay, DEFAULT_RETRY_POLICY } from '../../drivers/decorators/retry.js';
import { ThrottledBackend } from '../../drivers/decorators/throttle.js';
import { Driver } from '../../drivers/storage.js';
import { uploadObject, multipartEtag, choosePartSize } from '../../drivers/transfer.js';
import { MiB } from '../../drivers/base-backend.js';
import type { Backend } from '../../drivers/contract.js';

async function setup(): Promise<{ memory: MemoryBackend; fault: FaultBackend; bucket: string }> {
  const memory = new MemoryBackend();
  const bucket = `lib-${randomBytes(3).toString('hex')}`;
  await memory.createBucket(bucket);
  return { memory, fault: new FaultBackend(memory, { seed: 7 }), bucket };
}

const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

t.test('a failed part aborts the upload: no object, no pending upload, the first error surfaces', async (t) => {
  const { memory, fault, bucket } = await setup();
  fault.inject({ op: 'uploadPart', error: 'AccessDenied', times: 1 });
  const data = randomBytes(11 * MiB);
  await t.rejects(uploadObject(fault, bucket, 'k', data, { multipartThreshold: 5 * MiB, partSize: 5 * MiB }), { code: 'AccessDenied' });
  await t.rejects(memory.head(bucket, 'k'), { code: 'NotFound' });
  t.same(await memory.listMultipartUploads(bucket), []);
  t.equal(memory.counters.completeMultipart, 0, 'never completed with a missing part');
  t.equal(memory.counters.abortMultipart, 1);
});

t.test('retries: Transient is retried up to the bound, other kinds never', async (t) => {
  const { memory, fault, bucket } = await setup();
  await memory.put(bucket, 'k', Buffer.from('v'));
  const retrying = new RetryingBackend(fault, fast);
  fault.inject({ op: 'head', error: 'Transient', times: 3 });
  t.equal((await retrying.head(bucket, 'k')).size, 1, 'succeeds on the 4th attempt');
  t.equal(memory.counters.head, 1);
  fault.inject({ op: 'head', error: 'Transient' });
  await t.rejects(retrying.head(bucket, 'k'), { code: 'Transient' });
  t.equal(fault.injected.get('head'), 3 + 4, 'gives up after 4 attempts');
  fault.clear();
  fault.inject({ op: 'get', error: 'NotFound' });
  await t.rejects(retrying.get(bucket, 'k'), { code: 'NotFound' });
  t.equal(fault.injected.get('get'), 1, 'NotFound is final');
  fault.clear();
  fault.inject({ op: 'put', error: 'Transient', times: 1 });
  await t.rejects(retrying.put(bucket, 's', Readable.from([Buffer.from('x')]), { size: 1 }), { code: 'Transient' }, 'a consumed stream is not replayed');
  fault.inject({ op: 'put', error: 'Transient', times: 1 });
  await retrying.put(bucket, 'b', Buffer.from('x'));
  t.equal((await memory.head(bucket, 'b')).size, 1, 'a Buffer put is retried');
});

t.test('backoff grows, is capped and jittered', async (t) => {
  const p = DEFAULT_RETRY_POLICY;
  t.equal(backoffDelay(p, 1, () => 0.999), 99);
  t.equal(backoffDelay(p, 3, () => 0.999), 399);
  t.equal(backoffDelay(p, 20, () => 0.9999), p.maxDelayMs - 1, "capped at maxDelayMs");
  t.equal(backoffDelay(p, 5, () => 0), 0);
});

t.test('fault rules match by key, hang until cleared, add latency', async (t) => {
  const { memory, fault, bucket } = await setup();
  await memory.put(bucket, 'a', Buffer.from('1'));
  await memory.put(bucket, 'b', Buffer.from('2'));
  fault.inject({ op: 'head', key: /^a$/, error: 'Other' });
  await t.rejects(fault.head(bucket, 'a'), { code: 'Other' });
  t.equal((await fault.head(bucket, 'b')).size, 1);
  fault.clear();
  fault.inject({ op: 'get', hang: true });
  const hung = fault.get(bucket, 'a');
  setTimeout(() => fault.clear(), 20);
  await t.rejects(hung, { code: 'Transient' });
  fault.inject({ op: 'head', latencyMs: 30 });
  const start = Date.now();
  await fault.head(bucket, 'a');
  t.ok(Date.now() - start >= 25);
});

t.test('bandwidth limits hold for uploads and downloads', async (t) => {
  const { memory, bucket } = await setup();
  const throttled = new ThrottledBackend(memory);
  t.equal(throttled.capabilities.bandwidthLimits, true);
  throttled.setBandwidthLimits({ upload: 2 * MiB, download: 2 * MiB });
  const data = randomBytes(MiB);
  let start = performance.now();
  await throttled.put(bucket, 'k', data);
  const up = (performance.now() - start) / 1000;
  t.ok(up >= 0.4, `1 MiB at 2 MiB/s took ${up.toFixed(2)} s`);
  start = performance.now();
  const { body } = await throttled.get(bucket, 'k');
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) n += c.length;
  const down = (performance.now() - start) / 1000;
  t.equal(n, MiB);
  t.ok(down >= 0.4, `download took ${down.toFixed(2)} s`);
  t.same((await memory.get(bucket, 'k')).info.size, MiB, 'data intact');
  throttled.setBandwidthLimits({});
  start = performance.now();
  await throttled.put(bucket, 'k2', data);
  t.ok(performance.now() - start < 300, 'unlimited again');
});

t.test('a corrupted upload is detected by the etag check', async (t) => {
  const { memory, bucket } = await setup();
  const lying: Backend = new Proxy(memory, {
    get(target, prop, receiver) {
      if (prop === 'put') return async (...args: Parameters<Backend['put']>) => ({ ...(await target.put(...args)), etag: '0'.repeat(32) });
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  await t.rejects(new Driver(lying).container(bucket).uploadObject(Buffer.from('abc'), 'k'), { code: 'Other', reason: 'ChecksumMismatch' });
  await t.resolves(new Driver(lying).container(bucket).uploadObject(Buffer.from('abc'), 'k', { verify: false }));
});

t.test('part sizes and multipart etags', async (t) => {
  const memory = new MemoryBackend();
  t.equal(choosePartSize(memory, 100), 8 * MiB);
  t.equal(choosePartSize(memory, 1, 1), 5 * MiB, 'never below the backend minimum');
  t.equal(choosePartSize(memory, 200_000 * MiB), Math.ceil((200_000 * MiB) / 10_000), 'stays within maxParts');
  t.match(multipartEtag([Buffer.alloc(16), Buffer.alloc(16)]), /^[0-9a-f]{32}-2$/);
});

t.test('memory backend closes cleanly and the fault decorator forwards close', async (t) => {
  const { fault } = await setup();
  await t.resolves(fault.close());
  t.ok(inspect(fault).length > 0);
});
