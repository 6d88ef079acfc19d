/**
 * `bucketfs flush` is a barrier, and `bucketfs status` shows what it waits
 * for: an async-mode mount of an RGW bucket behind a proxy the test cuts.
 * A file written while the object store is away is acknowledged, shows as a
 * pending upload with its attempts and last error, and is not in the
 * bucket; a flush started then does not return until the store is back and
 * the object is there.
 */
import t from 'tap';
import { openRemote } from '../../drivers/remote.js';
import { mount, mountTargets, sh, type MountTarget } from '../mount/harness.js';
import { clientFor } from '../../daemon/control/client.js';
import type { FlushEvent } from '../../daemon/control/protocol.js';
import { controlEnv, onlySocket, scrape } from './helpers.js';
import { total } from './prometheus.js';
import { TcpProxy } from './proxy.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PendingStatus {
  uploads: { pending: { path: string; attempts: number; lastError?: string }[] };
}

const rgw = (await mountTargets(t)).find((target): target is MountTarget => target.name === 'rgw' && 'remote' in target);
if (rgw === undefined) {
  t.pass('SKIPPED: RGW is not available (see the SKIPPED line above)');
} else {
  const direct = new URL(rgw.remote);
  const endpoint = new URL(direct.searchParams.get('endpoint') ?? '');
  const proxy = await new TcpProxy({ host: endpoint.hostname, port: Number(endpoint.port) }).start();
  t.teardown(() => proxy.close());
  const proxied = `s3://${direct.hostname}?endpoint=${encodeURIComponent(`http://127.0.0.1:${proxy.port}`)}&region=${direct.searchParams.get('region') ?? ''}`;
  const c = await controlEnv(t, rgw.env);
  const m = await mount(proxied, { env: c.env, args: ['--write-mode', 'async'] });
  t.teardown(() => m.unmount());
  const bucket = await openRemote(rgw.remote, { env: rgw.env });
  t.teardown(() => bucket.close());
  const status = async () => JSON.parse((await c.cli(['status', m.dir, '--json'])).stdout) as PendingStatus;

  t.test('a write acknowledged while the store is away is pending, with its error', async (t) => {
    // A fresh listing answers the new name's lookup without asking the store.
    t.equal((await sh(`ls ${m.dir}`)).code, 0);
    await proxy.cut();
    const w = await sh(`printf 'late data' > ${m.dir}/late.txt`);
    t.equal(w.code, 0, `the write is acknowledged locally (${w.stderr})`);
    let pending: PendingStatus['uploads']['pending'] = [];
    for (let i = 0; i < 100 && !(pending[0]?.attempts ?? 0); i++) {
      pending = (await status()).uploads.pending;
      await sleep(200);
    }
    // Creating the file and writing it are two acknowledgements (the empty file's may still be owed too).
    t.ok(pending.length >= 1 && pending.every((p) => p.path === '/late.txt'), 'the file is pending');
    t.ok((pending[0]?.attempts ?? 0) >= 1, 'an attempt was made');
    t.type(pending[0]?.lastError, 'string', 'and its error is shown');
    const text = await c.cli(['status', m.dir]);
    t.match(text.stdout, /\nUploads: +\d+ pending \(9 B\)/);
    t.match(text.stdout, /\nPending uploads:\n {2}\/late\.txt {2}\d+ B {2}\d+ attempts, waiting \S+ {2}last error: .*ECONNREFUSED/);
    const samples = await scrape(await onlySocket(c));
    t.ok(total(samples, 'bucketfs_upload_queue_length') >= 1);
    t.ok(total(samples, 'bucketfs_requests_total', { op: 'put', outcome: 'Transient' }) >= 1, 'failed attempts are counted');
    await t.rejects(bucket.container.head('late.txt'), { name: 'NotFoundError' }, 'not in the bucket yet');
  });

  t.test('flush waits until the store is back and the object is in the bucket', async (t) => {
    // In process, to know when the daemon has the request: the first progress line says so.
    const client = await clientFor(m.dir, c.env);
    const events: FlushEvent[] = [];
    let arrived: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (arrived = resolve));
    const flushing = client.send('POST', '/flush', { onLine: (line) => {
      events.push(JSON.parse(line) as FlushEvent);
      arrived();
    } });
    await started;
    await sleep(1500);
    t.notOk(events.some((e) => e.event !== 'progress'), 'the barrier holds while the store is away');
    await t.rejects(bucket.container.head('late.txt'), { name: 'NotFoundError' });
    await proxy.resume();
    t.equal((await flushing).status, 200);
    t.match(events.at(-1), { event: 'done', files: Number });
    const progress = events.filter((e): e is Extract<FlushEvent, { event: 'progress' }> => e.event === 'progress');
    t.ok(progress.some((e) => e.total >= 1 && e.done === e.total), 'progress reached the total');
    const stored = await bucket.container.getRange('late.txt', { start: 0, end: 9 });
    t.equal(stored.toString(), 'late data', 'the object is there once flush returns');
    t.same((await status()).uploads.pending, []);
    const again = await c.cli(['flush', m.dir]);
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /^flushed \S+: 0 files uploaded in \d+ms\n$/, 'nothing owed: at once');
  });

  t.test('flush of a path that is no mount: one line, exit 3', async (t) => {
    const r = await c.cli(['flush', c.runtime]);
    t.equal(r.code, 3);
    t.match(r.stderr, /^bucketfs: no bucketfs mount on \S+ \(bucketfs status lists this user's mounts\)\n$/);
  });
}
