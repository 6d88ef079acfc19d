/**
 * `bucketfs mount` as an operator runs it: in the background by default,
 * returning once the mount serves (or with the failure's line and exit code,
 * nothing left mounted or running); a remote named in a config file with its
 * credentials in a mode-600 credentials file; `bucketfs status` and the
 * Prometheus metrics of the running mount; `bucketfs unmount` flushing and
 * waiting for the daemon, `--force` abandoning with a loud warning; and
 * under systemd (NOTIFY_SOCKET) READY=1 once it serves, STOPPING=1 on stop.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openRemote } from '../../drivers/remote.js';
import { fuseMountAt } from '../../vfs/fuse-adapter.js';
import { closedPort, ensureBuilt, finished, lines, removeTestHome, runCli, startCli, testHome } from '../cli/harness.js';
import { sh } from '../mount/harness.js';
import { useRgw } from '../servers/rgw.js';

await ensureBuilt();
const scratch = await mkdtemp(join(tmpdir(), 'bucketfs-background-'));
/** Daemons this file started: whatever a failing test leaves is taken down at the end. */
const daemons = new Map<number, string>();
t.teardown(async () => {
  for (const [pid, dir] of daemons) {
    await sh(`fusermount -uz '${dir}' 2>/dev/null; kill -9 ${pid} 2>/dev/null; true`);
  }
  await sh(`rm -rf --one-file-system '${scratch}'`);
  await removeTestHome();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Running, not a zombie: a daemon in the background is nobody's child here, and init may be slow to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  return !alive(pid);
}

async function newDir(name: string): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** `bucketfs mount … --json` in the background; the daemon's pid, registered for clean-up. */
async function mountInBackground(t: Test, args: string[], env: Record<string, string>, dir: string): Promise<number> {
  const r = await runCli(['mount', ...args, '--json'], { env });
  t.equal(r.code, 0, `mount exits 0 once the mount serves (stderr: ${r.stderr})`);
  const report = JSON.parse(r.stdout) as { pid: number; mountpoint: string; logFile: string };
  daemons.set(report.pid, dir);
  t.equal(report.mountpoint, dir);
  t.match(r.stderr, new RegExp(`^bucketfs: mounted \\S+ on ${dir}$`, 'm'), 'the ready line, as the daemon printed it');
  t.ok(await fuseMountAt(dir), 'mounted when the command returns');
  t.ok(alive(report.pid), 'the daemon runs on, in the background');
  return report.pid;
}

t.test('file:// remote: background mount, status, unmount waits for the daemon', async (t) => {
  const bucket = await newDir('local/bucket');
  const dir = await newDir('local/mnt');
  await writeFile(join(bucket, 'hello.txt'), 'hello\n');
  const pid = await mountInBackground(t, [`file://${bucket}`, dir], {}, dir);
  const used = await sh(`cat '${dir}/hello.txt' && echo written > '${dir}/new.txt'`);
  t.equal(used.stdout, 'hello\n', used.stderr);
  const status = await runCli(['status', dir, '--json']);
  t.equal(status.code, 0, status.stderr);
  t.match(JSON.parse(status.stdout), { mountpoint: dir, pid }, 'bucketfs status reports the background daemon');
  const down = await runCli(['unmount', dir, '--json']);
  t.equal(down.code, 0, down.stderr);
  t.match(JSON.parse(down.stdout), { mountpoint: dir, pid, forced: false });
  t.notOk(alive(pid), 'unmount returned once the daemon had exited');
  t.equal(await fuseMountAt(dir), undefined);
  t.equal(await readFile(join(bucket, 'new.txt'), 'utf8'), 'written\n', 'what was written is in the bucket');
  const log = await readFile(join(await testHome(), '.local/state/bucketfs', `${dir.slice(1).replaceAll('/', '-')}.log`), 'utf8');
  t.match(log, /mounted .*\n(.*\n)*bucketfs: unmounted /, 'the daemon logged to its log file');
});

t.test('start-up failures in the background: the daemon\'s line and exit code, nothing left', async (t) => {
  const dir = await newDir('fail/mnt');
  const port = await closedPort();
  const env = { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret-never-shown', AWS_EC2_METADATA_DISABLED: 'true' };
  const unreachable = await runCli(['mount', `s3://b?endpoint=http://127.0.0.1:${port}&region=us-east-1`, dir], { env, timeoutMs: 120_000 });
  t.equal(unreachable.code, 7, unreachable.stderr);
  t.equal(lines(unreachable.stderr).length, 1);
  t.match(unreachable.stderr, /^bucketfs: cannot mount s3:\/\/b\/: .*ECONNREFUSED.*; is http:\/\/127\.0\.0\.1:\d+ up and reachable\?$/m);
  t.notMatch(unreachable.stderr, /secret-never-shown/);
  const missing = await runCli(['mount', `file://${scratch}/no-such-bucket`, dir]);
  t.equal(missing.code, 3, missing.stderr);
  t.equal(lines(missing.stderr).length, 1);
  t.equal(await fuseMountAt(dir), undefined, 'nothing mounted');
  t.equal((await sh(`pgrep -f '[b]ucketfs.js mount .*${dir}'`)).stdout, '', 'no daemon left');
});

t.test('--force: a busy mount is refused, then abandoned with a loud warning', async (t) => {
  const bucket = await newDir('force/bucket');
  const dir = await newDir('force/mnt');
  const pid = await mountInBackground(t, [`file://${bucket}`, dir], {}, dir);
  const holder = spawn('bash', ['-c', `exec 3>'${dir}/open.txt'; echo partial >&3; exec sleep 300`], { stdio: 'ignore' });
  t.teardown(() => holder.kill('SIGKILL'));
  await sleep(300);
  const busy = await runCli(['unmount', dir]);
  t.equal(busy.code, 5, busy.stderr);
  t.match(busy.stderr, /it is busy .*or bucketfs unmount --force\)$/m);
  t.ok(await fuseMountAt(dir), 'still mounted after a refused unmount');
  const forced = await runCli(['unmount', dir, '--force']);
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stderr, /^bucketfs: WARNING: forcing the unmount of .*: writes to files still open are lost$/m);
  t.ok(await gone(pid, 5_000), 'the daemon is gone');
  t.equal(await fuseMountAt(dir), undefined, 'the mount is gone');
});

t.test('an RGW bucket named in the config file: mount NAME:, status, metrics, unmount NAME:', async (t) => {
  const server = await useRgw();
  if ('skipped' in server) {
    console.log(`SKIPPED: background mount on Ceph RGW: ${server.skipped}`);
    if (process.env['CI'] === 'true') t.fail('under CI the RGW test must run');
    return;
  }
  const name = `bg-${process.pid}`;
  const admin = await openRemote(`s3://${name}?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}`, {
    env: { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey },
  });
  await admin.driver.createContainer(name);
  t.teardown(async () => {
    for await (const page of admin.container.pages()) await admin.container.deleteMany(page.objects.map((o) => o.key));
    await admin.driver.deleteContainer(name);
    await admin.close();
  });
  const dir = await newDir('rgw/mnt');
  const credentials = join(scratch, 'credentials');
  await writeFile(credentials, `[rgw]\naccess_key_id = ${server.accessKeyId}\nsecret_access_key = ${server.secretAccessKey}\n`, { mode: 0o600 });
  const port = await closedPort();
  const config = join(scratch, 'config.toml');
  await writeFile(config, [
    '[defaults]', 'write_mode = "sync"', '',
    '[remotes.photos]', `url = "s3://${name}/?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}"`,
    'profile = "rgw"', `mountpoint = "${dir}"`, `metrics_address = "127.0.0.1:${port}"`, '',
  ].join('\n'));
  const env = { BUCKETFS_CONFIG: config, BUCKETFS_CREDENTIALS: credentials, AWS_EC2_METADATA_DISABLED: 'true' };
  const pid = await mountInBackground(t, ['photos:'], env, dir);
  t.equal((await sh(`echo through-rgw > '${dir}/a.txt' && cat '${dir}/a.txt'`)).stdout, 'through-rgw\n');
  const status = await runCli(['status'], { env });
  t.match(status.stdout, new RegExp(`${dir}\\s+s3://${name}/\\s+${pid}`), 'bucketfs status lists the mount');
  const metrics = await sh(`curl -sf http://127.0.0.1:${port}/metrics`);
  t.equal(metrics.code, 0, metrics.stderr);
  t.match(metrics.stdout, /^bucketfs_\w+/m, 'curl gets the Prometheus metrics');
  const down = await runCli(['unmount', 'photos:'], { env });
  t.equal(down.code, 0, down.stderr);
  t.notOk(alive(pid), 'the daemon has exited');
  const body = await admin.container.openObject('a.txt');
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  t.equal(Buffer.concat(chunks).toString(), 'through-rgw\n', 'the file is in the bucket');
});

t.test('under systemd (NOTIFY_SOCKET): stays in the foreground, READY=1 once it serves, STOPPING=1 on stop', async (t) => {
  if ((await sh('command -v systemd-notify && command -v python3')).code !== 0) {
    console.log('SKIPPED: systemd notification: systemd-notify or python3 is not installed');
    if (process.env['CI'] === 'true') t.fail('under CI systemd-notify must be installed');
    return;
  }
  const socket = join(scratch, 'notify.sock');
  // A stand-in for systemd's notification socket: prints each datagram on a line.
  const listener = spawn('python3', ['-c', [
    'import socket, sys', 's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)', `s.bind(${JSON.stringify(socket)})`,
    'print("listening", flush=True)', 'while True: print(s.recv(4096).decode().replace("\\n", " "), flush=True)',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => listener.kill('SIGKILL'));
  let heard = '';
  listener.stdout.setEncoding('utf8').on('data', (d: string) => (heard += d));
  while (!heard.includes('listening')) await sleep(20);
  const bucket = await newDir('notify/bucket');
  const dir = await newDir('notify/mnt');
  const child = await startCli(['mount', `file://${bucket}`, dir], { env: { NOTIFY_SOCKET: socket } });
  daemons.set(child.pid ?? -1, dir);
  const done = finished(child, 60_000);
  const deadline = Date.now() + 30_000;
  while (!heard.includes('READY=1') && Date.now() < deadline) await sleep(50);
  t.match(heard, new RegExp(`READY=1 STATUS=serving file://\\S+ on ${dir} MAINPID=${child.pid}`), 'READY=1 from the daemon itself');
  t.ok(await fuseMountAt(dir), 'serving when READY=1 arrives');
  child.kill('SIGTERM');
  const result = await done;
  t.equal(result.code, 0, result.stderr);
  t.match(heard, /STOPPING=1/);
  t.equal(await fuseMountAt(dir), undefined);
});
