/**
 * A new user's path, for real: mount an S3 bucket (Ceph RGW on loopback),
 * see it in `bucketfs status`, curl its metrics over the control socket and
 * over the opt-in TCP port, and stop it cleanly — plus what guards the
 * socket (0600 in a 0700 dir, another user cannot connect) and that no
 * secret shows in any output.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { openRemote } from '../../drivers/remote.js';
import { mount, mountTargets, sh, type MountTarget } from '../mount/harness.js';
import { controlEnv, curlSocket, onlySocket, scrape } from './helpers.js';
import { parsePrometheus, total } from './prometheus.js';

const rgw = (await mountTargets(t)).find((target): target is MountTarget => target.name === 'rgw' && 'remote' in target);
if (rgw === undefined) {
  t.pass('SKIPPED: RGW is not available (see the SKIPPED line above)');
} else {
  const secret = rgw.env['AWS_SECRET_ACCESS_KEY'] ?? '';
  const c = await controlEnv(t, rgw.env);
  const trace = join(c.runtime, 'trace.jsonl');
  const m = await mount(rgw.remote, { env: c.env, args: ['--metrics-address', '127.0.0.1:0', '--trace-file', trace] });
  t.teardown(() => m.unmount());
  const socket = await onlySocket(c);
  const outputs: string[] = [];

  t.test('the socket is 0600 in a 0700 directory; another user cannot connect', async (t) => {
    t.equal((await stat(c.dir)).mode & 0o777, 0o700);
    t.equal((await stat(socket)).mode & 0o777, 0o600);
    t.equal((await stat(socket.replace(/\.sock$/, '.json'))).mode & 0o777, 0o600, 'the mount record too');
    if (process.getuid?.() !== 0) {
      console.log('SKIPPED: another user cannot connect: the test needs root to act as another user');
      return;
    }
    const probe = `process.setgid(65534); process.setuid(65534); require('net').connect(${JSON.stringify(socket)}).on('connect', () => console.log('connected')).on('error', (e) => console.log(e.code));`;
    const r = await sh(`node -e ${JSON.stringify(probe)}`);
    t.equal(r.stdout.trim(), 'EACCES', r.stderr);
  });

  t.test('bucketfs status shows the mount', async (t) => {
    const one = await c.cli(['status', m.dir, '--json']);
    t.equal(one.code, 0, one.stderr);
    outputs.push(one.stdout);
    const doc = JSON.parse(one.stdout) as Record<string, unknown>;
    t.match(doc, { mountpoint: m.dir, pid: m.pid, writeMode: 'sync', readOnly: false, cacheDir: m.cacheDir, uploads: { pending: [] } });
    t.match(doc['remote'], /^s3:\/\/mount-\w+\/$/);
    t.ok((doc['uptimeSeconds'] as number) >= 0);
    t.match(doc['metricsAddress'], /^127\.0\.0\.1:\d+$/);
    const text = await c.cli(['status', m.dir]);
    t.equal(text.code, 0, text.stderr);
    t.match(text.stdout, /^Mountpoint: +\S+\nRemote: +s3:\/\/mount-/);
    t.match(text.stdout, /\nUploads: +0 pending/);
    const all = await c.cli(['status']);
    t.equal(all.code, 0, all.stderr);
    t.match(all.stdout, new RegExp(`^MOUNTPOINT .*\\n${m.dir} +s3://mount-\\w+/ +${m.pid} .* ok$`, 'm'));
    outputs.push(text.stdout, all.stdout);
  });

  t.test('metrics over the socket count known operations, and parse', async (t) => {
    const remote = await openRemote(rgw.remote, { env: rgw.env });
    await remote.container.put('two-mib.bin', Buffer.alloc(2 * 1024 * 1024, 7)).finally(() => remote.close());
    const before = await scrape(socket);
    const r = await sh(`cat ${m.dir}/two-mib.bin | wc -c`);
    t.equal(r.stdout.trim(), String(2 * 1024 * 1024), r.stderr);
    const text = await curlSocket(socket, '/metrics');
    outputs.push(text);
    const { samples: after, types } = parsePrometheus(text);
    const delta = (name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);
    t.ok(delta('bucketfs_fuse_operations_total', { op: 'read', result: 'ok' }) >= 16, '2 MiB in FUSE reads of at most 128 KiB');
    t.equal(delta('bucketfs_fuse_bytes_total', { direction: 'read' }), 2 * 1024 * 1024);
    t.ok(delta('bucketfs_requests_total', { op: 'get', outcome: 'ok' }) >= 1, 'object-store GETs counted');
    t.ok(delta('bucketfs_request_seconds_count', { op: 'get' }) >= 1);
    t.equal(types.get('bucketfs_fuse_operation_seconds'), 'histogram');
    t.equal(types.get('bucketfs_request_seconds'), 'histogram');
    t.ok(total(after, 'bucketfs_cache_misses_total') >= 1, 'cache readings from the data path');
    const status = JSON.parse((await c.cli(['status', m.dir, '--json'])).stdout) as { metricsAddress: string; requests: { total: number } };
    t.ok(status.requests.total >= 2, 'status counts requests too');
    const tcp = await sh(`curl -sS --fail http://${status.metricsAddress}/metrics`);
    t.equal(tcp.code, 0, tcp.stderr);
    t.ok(total(parsePrometheus(tcp.stdout).samples, 'bucketfs_fuse_operations_total') > 0, 'the TCP endpoint serves the same registry');
    outputs.push(tcp.stdout);
  });

  t.test('the trace has one line per request; no secret anywhere', async (t) => {
    const traced = (await readFile(trace, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    t.ok(traced.some((l) => l['op'] === 'get' && l['key'] === 'two-mib.bin' && l['outcome'] === 'ok' && typeof l['ms'] === 'number'));
    t.ok(traced.every((l) => l['trace'] === true));
    t.notMatch(m.stderr(), /"trace"|trace:/, 'the execution log carries no trace lines');
    t.ok(secret.length > 0);
    for (const text of [...outputs, m.stderr(), await readFile(trace, 'utf8')]) {
      t.notOk(text.includes(secret), 'no secret key');
      t.notMatch(text, /Signature=|Authorization/i, 'no signature or Authorization header');
    }
  });

  t.test('stopping removes the socket and the record', async (t) => {
    await m.unmount();
    t.same(await m.exit, { code: 0, signal: null }, m.stderr());
    await t.rejects(stat(socket), { code: 'ENOENT' });
    await t.rejects(stat(socket.replace(/\.sock$/, '.json')), { code: 'ENOENT' });
    const gone = await c.cli(['status', m.dir]);
    t.equal(gone.code, 3);
    t.match(gone.stderr, /^bucketfs: no bucketfs mount on \S+ \(bucketfs status lists this user's mounts\)\n$/);
    t.notOk(m.stderr().includes(secret));
  });
}
