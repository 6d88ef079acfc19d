/**
 * Random writes through the mount checked by fio's own verification
 * (`verify=crc32c`: every 4 KiB block carries a header with its offset and a
 * checksum of its bytes), over a local directory and Ceph RGW:
 *   1. a 64 MiB random-write job, verified through the same mount;
 *   2. every block read in order and verified again (`verify_only`) from a
 *      fresh mount with an empty cache directory: the bytes came back from
 *      the bucket;
 *   3. a mixed random read/write job verifying as it goes (verify_backlog),
 *      replayed with verify_only from the fresh mount.
 * fio's exit status, its per-job error and its output (verify errors are
 * printed, not only counted) are all checked, and the bytes it verified.
 * Not over memory://: the remount in step 2 needs a bucket outside the daemon.
 */
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onPath } from '../servers/common.js';
import { mount, sh, type Mounted, type MountTarget } from './harness.js';
import { forEachTarget, reportSkipped } from './scenario-targets.js';

const MiB = 1024 * 1024;
const FILE_SIZE = 64 * MiB;
const MIXED_SIZE = 32 * MiB;
const FIO_TIMEOUT_MS = 300_000;

const RANDWRITE = ['--name=rw', '--rw=randwrite', '--bs=4k', `--size=${FILE_SIZE}`, '--verify=crc32c', '--do_verify=1', '--direct=0', '--ioengine=psync', '--randseed=4242', '--end_fsync=1'];
/** Every block of the random-write job read in order, each checked against its own header (no workload replay needed). */
const READ_BACK = ['--name=rw', '--rw=read', '--bs=4k', `--size=${FILE_SIZE}`, '--verify=crc32c', '--verify_only', '--direct=0', '--ioengine=psync'];
/** The mixed job leaves read-only blocks without headers: its check replays the same job (same seed) with verify_only. */
const MIXED = ['--name=mixed', '--rw=randrw', '--rwmixread=50', '--bs=4k', `--size=${MIXED_SIZE}`, '--verify=crc32c', '--do_verify=1', '--verify_backlog=256', '--direct=0', '--ioengine=psync', '--randseed=4343', '--end_fsync=1'];

/** Lines of fio's output that report a verification failure (fio prints them even when it goes on). */
const VERIFY_ERROR = /verify[^\n]*(fail|bad|mismatch)|bad (magic|header)|crc32c[^\n]*(fail|wanted)|(^|\n)fio: .*(error|fail)/i;

interface FioJob {
  jobname: string;
  error: number;
  read: { io_bytes: number };
  write: { io_bytes: number };
}

interface FioRun {
  code: number;
  jobs: FioJob[];
  output: string;
}

async function fio(args: string[], filename: string): Promise<FioRun> {
  // No verify state files: fio would write them into the working directory.
  const quoted = [...args, `--filename=${filename}`, '--verify_state_save=0', '--output-format=json'].map((a) => `'${a}'`).join(' ');
  const result = await sh(`fio ${quoted}`, { timeoutMs: FIO_TIMEOUT_MS });
  const start = result.stdout.indexOf('{');
  let jobs: FioJob[] = [];
  try {
    jobs = (JSON.parse(result.stdout.slice(start)) as { jobs: FioJob[] }).jobs;
  } catch {
    // Left empty: the checks below then fail and show the output.
  }
  return { code: result.code, jobs, output: `${start > 0 ? result.stdout.slice(0, start) : ''}${result.stderr}` };
}

/** Exit 0, no job error, no verify complaint in the output, and at least `readBytes` verified. */
function checkFio(t: Test, what: string, run: FioRun, readBytes: number): void {
  const job = run.jobs[0];
  t.equal(run.code, 0, `${what}: fio exits 0`, { output: run.output.slice(-4000) });
  t.equal(job?.error, 0, `${what}: no job error`);
  t.notMatch(run.output, VERIFY_ERROR, `${what}: no verify errors in fio's output`);
  t.ok((job?.read.io_bytes ?? 0) >= readBytes, `${what}: fio read back ${job?.read.io_bytes ?? 0} bytes (≥ ${readBytes})`);
}

async function withMount(t: Test, target: MountTarget, body: (m: Mounted) => Promise<void>): Promise<void> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'bucketfs-fio-cache-'));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  const m = await mount(target.remote, { env: target.env, cacheDir });
  try {
    await body(m);
  } finally {
    await m.unmount();
  }
  t.equal((await m.exit).code, 0, 'the daemon stopped cleanly (everything flushed)');
}

if (!onPath('fio')) reportSkipped(t, 'fio verification on the mount', 'fio not installed (apt-get install fio)');
else {
  await forEachTarget(t, 'fio verify=crc32c', { exclude: { memory: 'the bucket lives inside the daemon; the data cannot be checked from a second mount' } }, async (t, target) => {
    await withMount(t, target, async (m) => {
      const written = await fio(RANDWRITE, join(m.dir, 'rand.dat'));
      checkFio(t, '64 MiB of 4 KiB random writes, verified on the mount', written, FILE_SIZE);
      t.equal(written.jobs[0]?.write.io_bytes, FILE_SIZE, 'every block written once');
      const mixed = await fio(MIXED, join(m.dir, 'mixed.dat'));
      checkFio(t, 'mixed random reads and writes, verified as they go', mixed, 1);
    });
    await withMount(t, target, async (m) => {
      const size = (await sh(`stat -c %s '${join(m.dir, 'rand.dat')}'`)).stdout.trim();
      t.equal(size, String(FILE_SIZE), 'the file has its size from the bucket');
      const again = await fio(READ_BACK, join(m.dir, 'rand.dat'));
      checkFio(t, 'verify_only from a mount with an empty cache', again, FILE_SIZE);
      const mixed = await fio([...MIXED, '--verify_only'], join(m.dir, 'mixed.dat'));
      checkFio(t, 'the mixed job\'s blocks verified from the bucket', mixed, 1);
    });
  });
}
