/**
 * The pieces that start bucketfs at boot, for real: `bucketfs
 * install-systemd` into a scratch root; `systemd-analyze verify` on the
 * installed unit; and an /etc/fstab line of type fuse.bucketfs mounted by
 * mount(8) through the installed helper, listed and unmounted, all inside a
 * private mount namespace (unshare -m) whose /usr/sbin shows the helper
 * through an overlay, so the machine's own /sbin and mounts are untouched.
 */
import { lstat, mkdir, mkdtemp, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ensureBuilt, removeTestHome, runCli } from '../cli/harness.js';
import { sh } from '../mount/harness.js';

await ensureBuilt();
const scratch = await mkdtemp(join(tmpdir(), 'bucketfs-systemd-'));
t.teardown(async () => {
  // Mounts made in the namespace die with it; a daemon left by a failed run is ended here, by its pid.
  await sh(`for p in $(pgrep -f '[b]ucketfs.js mount .*${scratch}'); do kill -9 $p; done; rm -rf --one-file-system '${scratch}'`);
  await removeTestHome();
});
const prefix = join(scratch, 'root');

function skipUnless(t: Test, ok: boolean, what: string): boolean {
  if (ok) return false;
  console.log(`SKIPPED: ${what}`);
  if (process.env['CI'] === 'true') t.fail(`${what} (must run under CI)`);
  else t.pass('skipped');
  return true;
}

t.test('bucketfs install-systemd puts the launcher, the unit and the helper in place', async (t) => {
  const r = await runCli(['install-systemd', '--prefix', prefix, '--json']);
  t.equal(r.code, 0, r.stderr);
  const files = JSON.parse(r.stdout) as Record<string, string>;
  t.same(files, {
    launcher: join(prefix, 'usr/local/bin/bucketfs'),
    unit: join(prefix, 'etc/systemd/system/bucketfs@.service'),
    helper: join(prefix, 'sbin/mount.fuse.bucketfs'),
    helperAlias: join(prefix, 'sbin/mount.bucketfs'),
    systemdReloaded: false,
  });
  t.equal((await stat(files['launcher']!)).mode & 0o777, 0o755);
  t.equal((await stat(files['helper']!)).mode & 0o777, 0o755);
  t.ok((await lstat(files['helperAlias']!)).isSymbolicLink());
  t.equal(await readlink(files['helperAlias']!), 'mount.fuse.bucketfs');
  const unit = await readFile(files['unit']!, 'utf8');
  t.match(unit, `ExecStart=${files['launcher']} mount %i: --foreground`, 'the unit runs the installed launcher');
  t.match(await readFile(files['helper']!, 'utf8'), `BUCKETFS=${files['launcher']}`);
  const version = await sh(`'${files['launcher']}' --version`);
  t.match(version.stdout, /^\d+\.\d+\.\d+/, 'the launcher runs this checkout');
});

t.test('systemd-analyze verify: the installed unit, as an instance', async (t) => {
  if (skipUnless(t, (await sh('command -v systemd-analyze')).code === 0, 'systemd-analyze verify: systemd-analyze is not installed')) return;
  const dir = join(scratch, 'units');
  await mkdir(dir, { recursive: true });
  const unit = await readFile(join(prefix, 'etc/systemd/system/bucketfs@.service'), 'utf8');
  await writeFile(join(dir, 'bucketfs@photos.service'), unit);
  const r = await sh(`systemd-analyze verify '${dir}/bucketfs@photos.service'`);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr + r.stdout, '', 'no warning at all');
  t.match(unit, /^Type=notify$/m);
  t.match(unit, /^NotifyAccess=all$/m);
  t.match(unit, /^ExecStop=.* unmount %i:$/m);
  t.match(unit, /^Restart=on-failure$/m);
  const broken = await sh(`sed 's/^Type=notify/Type=notifyy/' '${dir}/bucketfs@photos.service' > '${dir}/bucketfs@bad.service' && systemd-analyze verify '${dir}/bucketfs@bad.service'`);
  t.match(broken.stderr, /Failed to parse service type/, 'the check sees a broken unit');
});

t.test('fstab: mount(8) runs the helper; mount MOUNTPOINT, ls, umount in a private mount namespace', async (t) => {
  const tools = (await sh('command -v unshare && command -v mount && grep -qw overlay /proc/filesystems')).code === 0;
  if (skipUnless(t, tools, 'fstab mount: unshare, mount or overlayfs missing')) return;
  const bucket = join(scratch, 'bucket');
  const mnt = join(scratch, 'mnt');
  const named = join(scratch, 'named');
  await mkdir(join(bucket, 'photos'), { recursive: true });
  await mkdir(mnt);
  await mkdir(named);
  await writeFile(join(bucket, 'photos', 'cat.txt'), 'a cat\n');
  const config = join(scratch, 'config.toml');
  await writeFile(config, `[remotes.shots]\nurl = "file://${bucket}"\nmountpoint = "${named}"\nread_only = true\n`);
  const fstab = join(scratch, 'fstab');
  await writeFile(fstab, [
    `file://${bucket}  ${mnt}  fuse.bucketfs  _netdev,nofail,noauto,uid=1234,cache_dir=${scratch}/cache1  0  0`,
    `shots:photos/  ${named}  fuse.bucketfs  _netdev,nofail,cache_dir=${scratch}/cache2  0  0`,
    '',
  ].join('\n'));
  const work = join(scratch, 'overlay-work');
  await mkdir(work);
  // mount(8) looks for /sbin/mount.fuse.bucketfs (/sbin is /usr/sbin here): the overlay shows the installed one, in this namespace only.
  const script = `set -u
mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir=${prefix}/sbin,workdir=${work} /usr/sbin
mount -T ${fstab} ${mnt}; echo "mount=$?"
ls -n ${mnt} ${mnt}/photos
mount -T ${fstab} ${named}; echo "mount-named=$?"
ls ${named}; grep -o ' ${named} ro,' /proc/self/mountinfo
umount ${mnt}; echo "umount=$?"
umount ${named}; echo "umount-named=$?"
for i in $(seq 100); do pgrep -f '[b]ucketfs.js mount .*${scratch}' >/dev/null || break; sleep 0.1; done
echo "daemons=$(pgrep -fc '[b]ucketfs.js mount .*${scratch}')"
grep -c ' ${scratch}/.* fuse.bucketfs ' /proc/self/mountinfo | sed 's/^/mounts=/'`;
  await writeFile(join(scratch, 'fstab.sh'), `${script}\n`);
  const r = await sh(`unshare -m --propagation private bash '${scratch}/fstab.sh'`, {
    env: { BUCKETFS_CONFIG: config, XDG_STATE_HOME: join(scratch, 'state') },
    timeoutMs: 120_000,
  });
  t.match(r.stdout, /^mount=0$/m, `mount MOUNTPOINT through the helper (stderr: ${r.stderr})`);
  t.match(r.stdout, /^drwxr-xr-x \d+ 1234 /m, '-o uid=1234 from the fstab options reached the mount');
  t.match(r.stdout, /^-rw-r--r-- 1 1234 \d+ 6 .* cat\.txt$/m, 'the bucket is listed');
  t.match(r.stdout, /^mount-named=0$/m, 'a config remote with a sub-prefix as the fstab source');
  t.match(r.stdout, new RegExp(`^cat\\.txt\\n ${named} ro,$`, 'm'), 'its remote section made it read-only');
  t.match(r.stdout, /^umount=0$/m);
  t.match(r.stdout, /^umount-named=0$/m);
  t.match(r.stdout, /^daemons=0$/m, 'the daemons exited after umount');
  t.match(r.stdout, /^mounts=0$/m, 'no mount left');
});
