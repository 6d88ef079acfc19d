/**
 * Ctrl-C during `bucketfs cp`: exit 130 with one line, the multipart upload
 * in flight is aborted (none left on the backend), no object appears, and an
 * interrupted download leaves neither the file nor its temp file.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../../drivers/local.js';
import { ensureBuilt, finished, lines, removeTestHome, startCli } from './harness.js';

await ensureBuilt();

const root = await mkdtemp(join(tmpdir(), 'bucketfs-cli-int-'));
const backend = new LocalBackend({ root });
t.teardown(async () => {
  await backend.close();
  await rm(root, { recursive: true, force: true });
  await removeTestHome();
});
await mkdir(join(root, 'bucket'));
const bucket = `file://${root}/bucket`;

/** Large enough that the upload is still running when the signal comes (parts of 5 MiB, one at a time). */
const BIG = 400 * 1024 * 1024;
const big = join(root, 'big.bin');
const file = await open(big, 'w');
const chunk = randomBytes(8 * 1024 * 1024);
for (let written = 0; written < BIG; written += chunk.length) await file.write(chunk);
await file.close();

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('SIGINT during an upload aborts the multipart upload and exits 130', async (t) => {
  const child = await startCli(['cp', '--concurrency', '1', '--part-size', '5MiB', big, `${bucket}?prefix=big.bin`]);
  const result = finished(child);
  await until(async () => (await backend.listMultipartUploads('bucket')).length > 0, 'the multipart upload to start');
  child.kill('SIGINT');
  const { code, stderr, stdout } = await result;
  t.equal(code, 130, stderr);
  t.same(lines(stderr), ['bucketfs: interrupted: cp stopped and cleaned up']);
  t.equal(stdout, '');
  t.same(await backend.listMultipartUploads('bucket'), [], 'no upload left behind');
  await t.rejects(backend.head('bucket', 'big.bin'), { name: 'NotFoundError' }, 'no object appeared');
});

t.test('SIGINT during a download leaves no file and no temp file', async (t) => {
  await backend.put('bucket', 'big.bin', (await import('node:fs')).createReadStream(big), { size: BIG });
  const out = join(root, 'out');
  await mkdir(out);
  const child = await startCli(['cp', '--concurrency', '1', '--part-size', '5MiB', `${bucket}?prefix=big.bin`, join(out, 'big.bin')]);
  const result = finished(child);
  await until(async () => (await readdir(out)).length > 0, 'the temp file to appear');
  child.kill('SIGINT');
  const { code, stderr } = await result;
  t.equal(code, 130, stderr);
  t.equal(lines(stderr).length, 1);
  t.same(await readdir(out), [], 'neither the file nor its temp file');
});
