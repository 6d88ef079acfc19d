/**
 * A full cache disk: the cache dir is a 1 MiB tmpfs (mounted here, as root,
 * and unmounted in teardown). A write that cannot be staged fails with
 * ENOSPC; everything acknowledged before it stays readable and is uploaded
 * by the next flush; files flushed earlier are intact in the bucket.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { O_CREAT, O_RDWR } from '../../vfs/types.js';
import { errnoOf, memoryRig, objectBytes, readThrough, targetOf } from './data-harness.js';

function mountTmpfs(): string | { skipped: string } {
  if (process.getuid?.() !== 0) return { skipped: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(join(tmpdir(), 'bucketfs-enospc-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch (error) {
    rmdirSync(dir);
    return { skipped: `mount -t tmpfs failed: ${String(error)}` };
  }
}

t.test('ENOSPC on the staging disk reaches the writer and loses nothing acknowledged', async (t) => {
  const cacheDir = mountTmpfs();
  if (typeof cacheDir !== 'string') {
    const line = `SKIPPED: ENOSPC on the cache disk: ${cacheDir.skipped}`;
    console.log(line);
    if (process.env['CI'] === 'true') t.fail(line);
    return;
  }
  const rig = await memoryRig(t, { cacheDir });
  t.teardown(async () => {
    await rig.data.close().catch(() => undefined); // idempotent: nothing may hold a file in the tmpfs
    try {
      execFileSync('umount', [cacheDir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', cacheDir], { stdio: 'pipe' });
    }
    rmdirSync(cacheDir);
  });

  const saved = randomBytes(300 * 1024);
  const first = await rig.data.open(await targetOf(rig.container, 'saved'), O_CREAT | O_RDWR);
  await rig.data.write(first, saved, saved.length, 0);
  await rig.data.flush(first);

  const piece = 128 * 1024;
  const acknowledged: Buffer[] = [];
  const fh = await rig.data.open(await targetOf(rig.container, 'filling'), O_CREAT | O_RDWR);
  let failure: string | undefined;
  for (let at = 0; at < 4 * 1024 * 1024 && failure === undefined; at += piece) {
    const data = randomBytes(piece);
    failure = await errnoOf(rig.data.write(fh, data, piece, at));
    if (failure === undefined) acknowledged.push(data);
  }
  t.equal(failure, 'ENOSPC', 'the write that does not fit fails with ENOSPC');
  const kept = Buffer.concat(acknowledged);
  t.ok(kept.length > 0, `${kept.length} bytes were acknowledged before`);
  t.equal(rig.data.openSize('/filling'), kept.length, 'the failed write did not change the size');
  t.ok((await readThrough(rig.data, fh, 0, kept.length + piece)).equals(kept), 'acknowledged bytes read back');
  t.ok((await readThrough(rig.data, first, 0, saved.length)).equals(saved), 'the other open file is intact');

  await rig.data.flush(fh);
  t.ok((await objectBytes(rig.container, 'filling')).equals(kept), 'the next flush uploads what was acknowledged');
  t.ok((await objectBytes(rig.container, 'saved')).equals(saved), 'the file flushed before is intact in the bucket');
  await rig.data.release(fh);
  await rig.data.release(first);
  await rig.data.close();
});
