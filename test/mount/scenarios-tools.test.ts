/**
 * Plain tools on a real mount, over every target: cp -a, mv, rm -r, ln -s,
 * chmod, touch -d, rsync -a, tar, xattrs, random writes, truncate, append —
 * each checked by data and metadata (find -printf, stat, sha256sum against a
 * local reference), not only by exit codes. On persistent targets the mount
 * is then dropped and the bucket mounted again with an EMPTY cache directory:
 * every checksum, mode and mtime must come back from the bucket alone.
 */
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mount, sh, type Mounted, type MountTarget } from './harness.js';
import { openBucket } from './scenario-bucket.js';
import { forEachTarget } from './scenario-targets.js';
import {
  FIXTURE_SCRIPT, asStatLines, directStatCommand, lines, normaliseStatLines, plainEnv, run, treeState, type TreeState,
} from './scenario-tree.js';

interface Scene {
  target: MountTarget;
  /** The fixture tree on the local disk. */
  src: string;
  source: TreeState;
  /** Local scratch space (reference copies, tar files). */
  scratch: string;
  /** The scenario's directory inside the mount. */
  work: string;
}

async function localDir(t: Test, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `bucketfs-scenario-${label}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A mount that is unmounted at teardown unless the test unmounted it already. */
async function mountFor(t: Test, target: MountTarget, opts: { cacheDir?: string; args?: string[] } = {}): Promise<Mounted & { done(): Promise<void> }> {
  const m = await mount(target.remote, { env: target.env, ...opts });
  let unmounted = false;
  const done = async () => {
    if (!unmounted) await m.unmount();
    unmounted = true;
  };
  t.teardown(done);
  return Object.assign(m, { done });
}

async function sameTree(t: Test, dir: string, expected: TreeState, what: string): Promise<void> {
  const actual = await treeState(dir);
  t.equal(actual.snapshot, expected.snapshot, `${what}: types, modes, sizes, mtimes, symlink targets`);
  t.equal(actual.checksums, expected.checksums, `${what}: sha256 of every file`);
}

function subState(state: TreeState, sub: string): TreeState {
  const under = (line: string) => line.startsWith(`${sub}/`);
  const snapshot = lines(state.snapshot).filter(under).map((line) => line.slice(sub.length + 1));
  const checksums = lines(state.checksums)
    .filter((line) => line.includes(`  ./${sub}/`))
    .map((line) => line.replace(`  ./${sub}/`, '  ./'));
  return { snapshot: snapshot.map((l) => `${l}\n`).join(''), checksums: checksums.map((l) => `${l}\n`).join('') };
}

async function copies(t: Test, s: Scene): Promise<void> {
  await t.test('cp -a keeps modes, mtimes, symlinks and empty directories', async (t) => {
    await run(`cp -a '${s.src}/.' cpa`, s.work);
    await sameTree(t, join(s.work, 'cpa'), s.source, 'cp -a');
  });
  await t.test('rsync -a, then a dry run finds nothing to do', async (t) => {
    await run(`rsync -a '${s.src}/' rsync/`, s.work);
    await sameTree(t, join(s.work, 'rsync'), s.source, 'rsync -a');
    const again = await run(`rsync -a --dry-run --itemize-changes '${s.src}/' rsync/`, s.work);
    t.equal(again, '', 'rsync sees no difference in content, modes, times or links');
  });
  await t.test('tar extracts into the mount and tar -d finds no difference', async (t) => {
    const archive = join(s.scratch, 'fixture.tar');
    await run(`tar -cf '${archive}' .`, s.src);
    await run(`mkdir tar && tar -xf '${archive}' -C tar`, s.work);
    const diff = await sh(`tar -df '${archive}' -C tar`, { cwd: s.work, env: plainEnv() });
    t.same([diff.code, diff.stdout, diff.stderr], [0, '', ''], 'tar -d reports nothing');
    await sameTree(t, join(s.work, 'tar'), s.source, 'tar -x');
  });
}

async function moves(t: Test, s: Scene): Promise<void> {
  await t.test('mv of a file keeps content and attributes', async (t) => {
    await run('mv cpa/docs/hello.txt cpa/docs/hello-moved.txt', s.work);
    const stat = await run("stat -c '%a %s %Y' cpa/docs/hello-moved.txt", s.work);
    const [, , , size, mtime] = lines(s.source.snapshot).find((l) => l.startsWith('docs/hello.txt\t'))!.split('\t');
    t.equal(stat.trim(), `640 ${size!} ${Math.floor(Number(mtime))}`, 'mode, size and mtime kept');
    t.equal(await run('cat cpa/docs/hello-moved.txt', s.work), 'hello\n', 'content kept');
    const old = await sh('stat cpa/docs/hello.txt', { cwd: s.work, env: plainEnv() });
    t.not(old.code, 0, 'the old name is gone');
    t.match(await run('readlink cpa/docs/link-relative; cat cpa/docs/link-relative 2>&1 || true', s.work), /hello\.txt\n.*No such file/s, 'a link to the old name dangles');
  });
  await t.test('mv of a non-empty directory moves the whole tree', async (t) => {
    await run('mv cpa/docs/deep cpa/moved-deep', s.work);
    await sameTree(t, join(s.work, 'cpa', 'moved-deep'), subState(s.source, 'docs/deep'), 'moved directory');
    const old = await sh('ls cpa/docs/deep', { cwd: s.work, env: plainEnv() });
    t.not(old.code, 0, 'the old directory is gone');
  });
  await t.test('rm -r removes a tree, from the mount and from the bucket', async (t) => {
    await run('rm -r cpa/private', s.work);
    const gone = await sh('ls -A cpa/private', { cwd: s.work, env: plainEnv() });
    t.not(gone.code, 0, 'the directory is gone');
    t.notMatch(await run('ls -A cpa', s.work), /private/, 'and not listed');
    if (s.target.name === 'memory') return;
    const bucket = await openBucket(s.target);
    t.teardown(() => bucket.close());
    t.same(await bucket.keys(`scenario/cpa/private`), [], 'no key left under private/');
    t.ok((await bucket.keys('scenario/cpa/moved-deep/')).includes('er/large.bin'), 'the moved tree is in the bucket');
    t.same(await bucket.keys('scenario/cpa/docs/deep'), [], 'nothing left under the old directory name');
  });
}

async function attributes(t: Test, s: Scene): Promise<void> {
  await t.test('ln -s and readlink', async (t) => {
    await run('ln -s ../docs/run.sh cpa/empty/runner && ln -s "$(printf "t%.0s" {1..300})" cpa/empty/long-target', s.work);
    t.equal(await run('readlink cpa/empty/runner', s.work), '../docs/run.sh\n', 'readlink gives the target');
    t.equal(await run('cpa/empty/runner', s.work), 'run\n', 'a script runs through the link');
    t.equal((await run('readlink cpa/empty/long-target', s.work)).trim().length, 300, 'a 300-byte target');
    t.equal(await run("stat -c '%F %a' cpa/empty/runner", s.work), 'symbolic link 777\n', 'a symlink, mode 777');
  });
  await t.test('chmod of a file and a directory', async (t) => {
    await run('chmod 604 cpa/docs/run.sh && chmod 2711 cpa/empty', s.work);
    t.equal(await run("stat -c '%a' cpa/docs/run.sh cpa/empty", s.work), '604\n2711\n', 'modes, setgid bit included');
  });
  await t.test('touch -d sets mtime; touch -m and -a set one time each', async (t) => {
    await run("touch -d '2010-10-10 10:10:10 UTC' cpa/docs/empty.txt cpa/empty", s.work);
    t.equal(await run("stat -c '%X %Y' cpa/docs/empty.txt cpa/empty", s.work), '1286705410 1286705410\n'.repeat(2), 'touch -d on a file and a directory');
    await run("touch -m -d '2011-11-11 11:11:11 UTC' cpa/docs/empty.txt", s.work);
    await run("touch -a -d '2012-12-12 12:12:12 UTC' cpa/docs/empty.txt", s.work);
    t.equal(await run("stat -c '%X %Y' cpa/docs/empty.txt", s.work), '1355314332 1321009871\n', 'atime and mtime set separately');
  });
  await t.test('user.* xattrs round-trip; other namespaces are refused', async (t) => {
    const f = 'cpa/docs/run.sh';
    await run(`setfattr -n user.color -v blue ${f} && setfattr -n user.raw -v 0x00ff10 ${f} && setfattr -n user.gone -v x ${f} && setfattr -x user.gone ${f}`, s.work);
    t.equal(await run(`getfattr -d -e hex ${f}`, s.work), `# file: ${f}\nuser.color=0x626c7565\nuser.raw=0x00ff10\n\n`, 'text and binary values; removed one gone');
    const refused = await sh(`setfattr -n security.test -v x ${f}`, { cwd: s.work, env: plainEnv() });
    t.match([refused.code, refused.stderr], [1, /Operation not supported/], 'security.* is refused with ENOTSUP');
    const etag = await run(`getfattr -n user.bucketfs.etag --only-values ${f}`, s.work);
    t.match(etag, /^[0-9a-f]{32}(-\d+)?$/, 'the etag is readable as a virtual attribute');
    t.equal(await run(`cat ${f}`, s.work), '#!/bin/sh\necho run\n', 'content unchanged by attribute updates');
    await run(`cp -a ${f} cpa/docs/cp-copy.sh && rsync -aX ${f} cpa/docs/rsync-copy.sh`, s.work);
    const copies = await run('getfattr -d -e hex cpa/docs/cp-copy.sh cpa/docs/rsync-copy.sh', s.work);
    t.equal(copies, ['cp', 'rsync'].map((tool) => `# file: cpa/docs/${tool}-copy.sh\nuser.color=0x626c7565\nuser.raw=0x00ff10\n\n`).join(''), 'cp -a and rsync -aX copy user.* attributes, not the virtual ones');
  });
}

/** The same byte-level edits on a local reference copy and on the mount, compared by checksum. */
async function edits(t: Test, s: Scene): Promise<void> {
  const reference = join(s.scratch, 'edit.bin');
  const mounted = join(s.work, 'edit.bin');
  const both = async (edit: (path: string) => string) => {
    await run(edit(reference), s.scratch);
    await run(edit(mounted), s.work);
  };
  const same = async (t: Test, what: string) => {
    const sums = await run(`sha256sum < '${reference}'; sha256sum < '${mounted}'; stat -c %s '${reference}' '${mounted}'`, s.scratch);
    const [a, b, sizeA, sizeB] = lines(sums);
    t.same([b, sizeB], [a, sizeA], what);
  };
  await run(`head -c 3000000 /dev/urandom > '${reference}' && cp '${reference}' '${mounted}'`, s.scratch);
  await t.test('random writes into an existing file', async (t) => {
    for (const seek of [0, 4095, 1_048_576, 2_999_990, 3_500_000]) {
      await both((p) => `printf 'bucketfs-%d' ${seek} | dd of='${p}' bs=1 seek=${seek} conv=notrunc status=none`);
    }
    await same(t, 'five dd writes, one past the end (a hole)');
  });
  await t.test('truncate grows with zeros and shrinks', async (t) => {
    await both((p) => `truncate -s 5000000 '${p}'`);
    await same(t, 'grown');
    await both((p) => `truncate -s 1234 '${p}'`);
    await same(t, 'shrunk');
  });
  await t.test('append with >>', async (t) => {
    for (const i of [1, 2, 3]) await both((p) => `printf 'line %d\\n' ${i} >> '${p}'`);
    await same(t, 'three appends');
    t.equal(await run(`tail -c 21 '${mounted}'`, s.work), 'line 1\nline 2\nline 3\n', 'the appended lines are at the end');
  });
  await t.test('a file unlinked while open keeps working through its descriptor and is never uploaded', (t) => unlinkedOpen(t, s));
}

/**
 * Writes, unlinks, writes more, fsyncs, reads back and asks the size (lseek
 * SEEK_END: a getattr through the handle) through one descriptor, then closes
 * it. Not fstat: the kernel sends it without the handle, and libfuse 2 answers
 * ENOENT for a node without a name before the daemon sees it.
 */
const UNLINKED_OPEN_SCRIPT = `
import os, sys
path = sys.argv[1]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"a" * 5000)
os.unlink(path)
os.pwrite(fd, b"b" * 3000, 4000)
os.fsync(fd)
data = os.pread(fd, 10000, 0)
size = os.lseek(fd, 0, os.SEEK_END)
os.close(fd)
print(len(data), data == b"a" * 4000 + b"b" * 3000, size, os.path.exists(path))
`;

async function unlinkedOpen(t: Test, s: Scene): Promise<void> {
  const result = await sh('python3 - unlinked.bin', { cwd: s.work, env: plainEnv(), input: UNLINKED_OPEN_SCRIPT });
  t.same([result.code, result.stdout, result.stderr], [0, '7000 True 7000 False\n', ''], 'both writes read back; the size through the handle is 7000');
  t.equal(await run('ls -A', s.work).then((out) => lines(out).includes('unlinked.bin')), false, 'the daemon still serves the mount; the name is gone');
  if (s.target.name === 'memory') return;
  const bucket = await openBucket(s.target);
  t.teardown(() => bucket.close());
  t.same(await bucket.keys('scenario/unlinked'), [], 'nothing was uploaded for it');
}

/** Unmount, mount with an empty cache: everything must come from the bucket. */
async function remountEmpty(t: Test, s: Scene, first: Mounted & { done(): Promise<void> }): Promise<void> {
  const before = await treeState(s.work);
  const paths = join(s.scratch, 'paths.txt');
  await writeFile(paths, lines(before.snapshot).map((l) => `scenario/${l.split('\t')[0]!}`).join('\n') + '\n');
  await first.done();
  await t.test('remount with an empty cache and --exact-attrs: find and sha256sum match', async (t) => {
    const m = await mountFor(t, s.target, { cacheDir: await localDir(t, 'cache'), args: ['--exact-attrs'] });
    await sameTree(t, join(m.dir, 'scenario'), before, 'after remount (--exact-attrs)');
    await m.done();
  });
  await t.test('remount with an empty cache and --exact-attrs: a direct stat of each path shows exact attributes', async (t) => {
    const m = await mountFor(t, s.target, { cacheDir: await localDir(t, 'cache'), args: ['--exact-attrs'] });
    const stats = normaliseStatLines(await run(directStatCommand(paths), m.dir));
    t.same(stats, asStatLines(before.snapshot).map((l) => `scenario/${l}`), 'type, mode, size and mtime of every path');
    await m.done();
  });
  await t.test('remount with an empty cache: a direct stat of each path shows names and sizes', async (t) => {
    // Without --exact-attrs, stat of many names in a directory shows listing attributes (SEMANTICS.md section 4).
    const m = await mountFor(t, s.target, { cacheDir: await localDir(t, 'cache') });
    const stats = normaliseStatLines(await run(directStatCommand(paths), m.dir));
    const expected = asStatLines(before.snapshot).map((l) => `scenario/${l}`).filter((l) => l.split('\t')[1]!.startsWith('regular'));
    const regular = new Set(expected.map((l) => l.split('\t')[0]));
    const nameAndSize = (line: string) => { const f = line.split('\t'); return `${f[0]}\t${f[3]}`; };
    t.same(stats.filter((l) => regular.has(l.split('\t')[0])).map(nameAndSize), expected.map(nameAndSize), 'name and size of every regular file');
    // Files by name: `find -type f` would also take symlinks the listing shows as regular files.
    const files = join(s.scratch, 'regular-files.txt');
    await writeFile(files, [...regular].join('\n') + '\n');
    const sums = await run(String.raw`xargs -d '\n' -r sha256sum -- < '${files}' | sed 's#  scenario/#  ./#' | LC_ALL=C sort -k2`, m.dir);
    t.equal(sums, before.checksums, 'every checksum');
    await m.done();
  });
}

await forEachTarget(t, 'plain tools', {}, async (t, target) => {
  const src = await localDir(t, 'src');
  await run(FIXTURE_SCRIPT, src);
  const scene: Scene = { target, src, source: await treeState(src), scratch: await localDir(t, 'scratch'), work: '' };
  const first = await mountFor(t, target, { cacheDir: await localDir(t, 'cache') });
  await run('mkdir scenario', first.dir);
  scene.work = join(first.dir, 'scenario');
  await copies(t, scene);
  await moves(t, scene);
  await attributes(t, scene);
  await edits(t, scene);
  if (target.persistent) await remountEmpty(t, scene, first);
  else t.comment(`${target.name}: not persistent, no remount check`);
});
