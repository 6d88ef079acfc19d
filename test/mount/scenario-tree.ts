/**
 * A source tree with everything a file system must keep (modes, whole-second
 * mtimes, symlinks of every kind, empty directories, nesting, awkward names,
 * sizes from 0 to multipart), and snapshots that compare two trees by what
 * `find -printf`, `stat` and `sha256sum` report. Shell commands only (async,
 * through the harness's `sh`): a synchronous call onto a mount could deadlock.
 */
import { sh } from './harness.js';

/** The fixture, as a shell script run in an empty local directory. Every time is a whole second (FUSE sets times in ms). */
export const FIXTURE_SCRIPT = String.raw`
set -e
mkdir -p docs/deep/er/est empty private 'with space' 'ünïcödé'
printf 'hello\n' > docs/hello.txt
: > docs/empty.txt
head -c 100000 /dev/urandom > docs/deep/random.bin
head -c 20971520 /dev/urandom > docs/deep/er/large.bin
printf '#!/bin/sh\necho run\n' > docs/run.sh
printf 'secret\n' > private/key
printf 'spaced\n' > 'with space/a file'
printf 'odd\n' > 'ünïcödé/100% +#1.txt'
printf 'leaf\n' > docs/deep/er/est/leaf
chmod 755 docs/run.sh
chmod 600 private/key
chmod 640 docs/hello.txt
chmod 700 private
chmod 750 docs/deep/er
ln -s hello.txt docs/link-relative
ln -s /etc/hostname docs/link-absolute
ln -s missing docs/link-dangling
ln -s deep docs/link-to-dir
# Times follow the sorted path, so every file system gets the same ones (touching an entry does not change its directory's mtime).
n=0
find . -mindepth 1 -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' p; do
  n=$((n + 1))
  touch -h -d "@$((1000000000 + n * 86401))" "$p"
done
`;

/**
 * One line per entry: path, type, mode, size (not for directories, whose size
 * differs between file systems), mtime in seconds, symlink target.
 */
export const SNAPSHOT_COMMAND = String.raw`find . -mindepth 1 \( -type d -printf '%P\td\t%m\t-\t%T@\t\n' \) -o -printf '%P\t%y\t%m\t%s\t%T@\t%l\n' | LC_ALL=C sort`;

export const CHECKSUM_COMMAND = String.raw`find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum`;

/** `stat` of each path listed (one per line) in `listFile`, without listing any directory first. */
export function directStatCommand(listFile: string): string {
  return String.raw`xargs -d '\n' -r stat --printf '%n\t%F\t%a\t%s\t%Y\n' -- < '${listFile}'`;
}

const STAT_TYPES: Record<string, string> = { f: 'regular file', d: 'directory', l: 'symbolic link' };

/** `find -printf` snapshot lines as the direct `stat` prints them (type names, whole seconds); directory sizes blanked in both. */
export function asStatLines(snapshot: string): string[] {
  return lines(snapshot).map((line) => {
    const [path, type, mode, size, mtime] = line.split('\t');
    const name = type === 'f' && size === '0' ? 'regular empty file' : (STAT_TYPES[type!] ?? type!);
    return [path!, name, mode!, size!, String(Math.floor(Number(mtime)))].join('\t');
  });
}

/** Direct `stat` output with directory sizes blanked, comparable with asStatLines. */
export function normaliseStatLines(output: string): string[] {
  return lines(output).map((line) => {
    const fields = line.split('\t');
    if (fields[1] === 'directory') fields[3] = '-';
    return fields.join('\t');
  });
}

export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

/** The caller's environment with a fixed locale and time zone (sorting and dates must not depend on the machine). */
export function plainEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  return { ...env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC', ...extra };
}

/** Runs a shell command; its stdout, or an error carrying the command, status and stderr. */
export async function run(command: string, cwd: string, timeoutMs = 120_000): Promise<string> {
  const result = await sh(command, { cwd, env: plainEnv(), timeoutMs });
  if (result.code !== 0) throw new Error(`\`${command.slice(0, 200)}\` in ${cwd} exited ${result.code}: ${result.stderr.slice(-2000)}`);
  return result.stdout;
}

export interface TreeState {
  snapshot: string;
  checksums: string;
}

export async function treeState(dir: string): Promise<TreeState> {
  return { snapshot: await run(SNAPSHOT_COMMAND, dir), checksums: await run(CHECKSUM_COMMAND, dir) };
}
