/**
 * `bucketfs install-systemd [--prefix DIR]`: puts this installation where
 * the system looks for it:
 *   <prefix>/usr/local/bin/bucketfs                 a launcher (node + this checkout's bin/bucketfs.js)
 *   <prefix>/etc/systemd/system/bucketfs@.service   the unit template (systemd/ in the source tree)
 *   <prefix>/sbin/mount.fuse.bucketfs               the mount(8) helper for fstab type fuse.bucketfs
 *   <prefix>/sbin/mount.bucketfs                    the same, for type bucketfs
 * The unit and the helper name the launcher by its installed path. Existing
 * files are replaced. With the default prefix (/) it needs root.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Argv } from 'yargs';
import { defineCommand, withJson, type Io } from '../command.js';
import { writeJson, writeLines } from '../format.js';
import { launcherPath } from '../mount/background.js';

interface InstallArgs {
  prefix: string;
  json: boolean;
}

/** The launcher's path as the shipped unit and helper name it. */
const SHIPPED_LAUNCHER = '/usr/local/bin/bucketfs';

function quoted(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** Writes through a temp file and a rename: a helper mount(8) runs is never seen half-written. */
async function install(path: string, text: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFile(`${path}.tmp`, text, { mode });
  await chmod(`${path}.tmp`, mode);
  await rename(`${path}.tmp`, path);
}

async function reloadSystemd(prefix: string): Promise<boolean> {
  if (prefix !== '/' || !existsSync('/run/systemd/system')) return false;
  await promisify(execFile)('systemctl', ['daemon-reload']);
  return true;
}

async function installAll(args: InstallArgs, io: Io): Promise<void> {
  const prefix = resolve(args.prefix);
  const sourceDir = join(dirname(dirname(launcherPath())), 'systemd');
  const launcher = join(prefix, SHIPPED_LAUNCHER);
  const files = {
    launcher,
    unit: join(prefix, 'etc/systemd/system/bucketfs@.service'),
    helper: join(prefix, 'sbin/mount.fuse.bucketfs'),
    helperAlias: join(prefix, 'sbin/mount.bucketfs'),
  };
  const render = async (name: string) => (await readFile(join(sourceDir, name), 'utf8')).replaceAll(SHIPPED_LAUNCHER, launcher);
  await install(launcher, `#!/bin/sh\n# Installed by bucketfs install-systemd.\nexec ${quoted(process.execPath)} ${quoted(launcherPath())} "$@"\n`, 0o755);
  await install(files.unit, await render('bucketfs@.service'), 0o644);
  await install(files.helper, await render('mount.bucketfs'), 0o755);
  await rm(files.helperAlias, { force: true });
  await symlink('mount.fuse.bucketfs', files.helperAlias);
  const reloaded = await reloadSystemd(prefix);
  if (args.json) return writeJson(io, { ...files, systemdReloaded: reloaded });
  writeLines(io, [
    `installed ${files.launcher}`,
    `installed ${files.unit}`,
    `installed ${files.helper} (and ${files.helperAlias})`,
    reloaded ? 'systemd reloaded' : 'next: systemctl daemon-reload (where systemd runs)',
    'then: define [remotes.NAME] with url and mountpoint in /etc/bucketfs/config.toml, and: systemctl enable --now bucketfs@NAME.service',
    'or in /etc/fstab: NAME:  /mnt/point  fuse.bucketfs  _netdev,nofail  0  0',
  ]);
}

export const installSystemd = defineCommand<InstallArgs>({
  command: 'install-systemd',
  describe: 'Install the bucketfs launcher, the systemd unit bucketfs@.service and the fstab mount helper',
  examples: [
    ['sudo $0 install-systemd', 'into /usr/local/bin, /etc/systemd/system and /sbin'],
    ['$0 install-systemd --prefix /tmp/root', 'the same tree under /tmp/root (to inspect or package)'],
  ],
  options: (yargs) =>
    withJson(yargs.option('prefix', { type: 'string', default: '/', describe: 'Root of the installation' })) as unknown as Argv<InstallArgs>,
  run: installAll,
});
