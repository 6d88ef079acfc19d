/**
 * A daemon killed with SIGKILL leaves its control socket and mount record
 * behind: the commands say so in one line, `bucketfs status` drops the
 * record, and the next mount on that mountpoint replaces the stale socket.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { mount, sh } from '../mount/harness.js';
import { controlEnv } from './helpers.js';

const root = await mkdtemp(join(tmpdir(), 'bucketfs-local-'));
t.teardown(() => rm(root, { recursive: true, force: true }));
await mkdir(join(root, 'bucket'));
const remote = `file://${root}/bucket`;
const dir = await mkdtemp(join(tmpdir(), 'bucketfs-mnt-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const c = await controlEnv(t);

t.test('a killed daemon: stale socket reported, record dropped, replaced by the next mount', async (t) => {
  const first = await mount(remote, { env: c.env, dir });
  await first.kill9();
  t.same((await readdir(c.dir)).sort().map((n) => n.replace(/^\w+/, 'H')), ['H.json', 'H.sock'], 'the killed daemon left its socket and record');
  const stale = await c.cli(['status', dir]);
  t.equal(stale.code, 7);
  t.match(stale.stderr, new RegExp(`^bucketfs: the bucketfs daemon for ${dir} \\(pid ${first.pid}\\) is not running \\(stale control socket \\S+\\); mount it again\\n$`));
  const listed = await c.cli(['status']);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, new RegExp(`\\n${dir} +file://\\S+ +${first.pid} +- +- +- +daemon died \\(record removed\\)\\n$`));
  t.same(await readdir(c.dir), [], 'the record and the socket are gone');

  const second = await mount(remote, { env: c.env, dir });
  t.teardown(() => second.unmount());
  const r = await c.cli(['status', dir, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { pid: second.pid, mountpoint: dir });
  t.equal((await sh(`ls ${dir}`)).code, 0);
  await second.unmount();
  t.same(await readdir(c.dir), [], 'a clean stop leaves nothing');
});
