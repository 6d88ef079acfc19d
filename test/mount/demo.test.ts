/**
 * The README's quick start: `bucketfs demo DIR` makes a demo bucket on the
 * local driver, mounts it on DIR/mnt, serves plain tools, and Ctrl-C leaves
 * the written data in the bucket and no mount behind.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ensureBuilt, finished, startCli } from '../cli/harness.js';
import { sh } from './harness.js';

t.test('bucketfs demo mounts a demo bucket and unmounts cleanly on Ctrl-C', async (t) => {
  await ensureBuilt();
  const dir = await mkdtemp(join(tmpdir(), 'bucketfs-demo-'));
  t.teardown(async () => {
    await sh(`fusermount -uz ${join(dir, 'mnt')} 2>/dev/null || true`);
    await rm(dir, { recursive: true, force: true });
  });
  const child = await startCli(['demo', dir]);
  const done = finished(child, 120_000);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!stderr.includes('bucketfs: mounted') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.match(stderr, /demo bucket created at .*bucket/);
  const mnt = join(dir, 'mnt');
  const r = await sh(`cat ${mnt}/photos/2024/cat.txt && echo hello > ${mnt}/hello.txt && ls ${mnt}`);
  t.equal(r.stdout, 'a cat, in plain text\nREADME.txt\nhello.txt\nnotes\nphotos\n', r.stderr);
  t.equal(await readFile(join(dir, 'bucket', 'hello.txt'), 'utf8'), 'hello\n', 'written through the mount, stored in the bucket');
  child.kill('SIGINT');
  const result = await done;
  t.equal(result.code, 0, result.stderr);
  t.match(result.stderr, /unmounted/);
  t.equal((await sh(`grep -c ' ${mnt} ' /proc/mounts || true`)).stdout.trim(), '0', 'no mount left');
});
