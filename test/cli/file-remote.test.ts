/**
 * The bucketfs command line against file:// remotes (a directory is a
 * bucket): ls, cp (up, down, between remotes, -r trees with awkward names),
 * stat and rm, checking the data itself, not only exit codes.
 */
import t from 'tap';
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, ensureBuilt, exists, fileSha256, lines, removeTestHome, runCli, sha256, treeDigest } from './harness.js';

await ensureBuilt();

const root = await mkdtemp(join(tmpdir(), 'bucketfs-cli-file-'));
t.teardown(async () => {
  await rm(root, { recursive: true, force: true });
  await removeTestHome();
});

const bucketDir = join(root, 'bucket');
const local = join(root, 'local');
await mkdir(bucketDir);
await mkdir(local);
const bucket = `file://${bucketDir}`;
const at = (key: string) => `${bucket}?prefix=${encodeURIComponent(key)}`;

const small = randomBytes(100_000);
await writeFile(join(local, 'a.bin'), small);

t.test('cp uploads a file into the bucket, and under an explicit key', async (t) => {
  const into = await runCli(['cp', join(local, 'a.bin'), `${bucket}/`]);
  t.same([into.code, into.stdout, into.stderr], [0, '', ''], 'quiet on success when stderr is not a terminal');
  const named = await runCli(['cp', join(local, 'a.bin'), at('docs/renamed.bin')]);
  t.equal(named.code, 0, named.stderr);
  const listing = await runCli(['ls', '-r', bucket]);
  t.equal(listing.code, 0, listing.stderr);
  t.same(lines(listing.stdout), ['a.bin', 'docs/renamed.bin']);
});

t.test('ls lists one level, with -l details and as JSON', async (t) => {
  const plain = await runCli(['ls', bucket]);
  t.same(lines(plain.stdout), ['a.bin', 'docs/']);
  const long = await runCli(['ls', '-l', bucket]);
  const [objectLine, prefixLine] = lines(long.stdout);
  t.match(objectLine, new RegExp(`^\\s*100000  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  \\S+\\s+a\\.bin$`));
  t.match(prefixLine, /^\s*PRE\s+docs\/$/);
  const json = await runCli(['ls', '--json', at('docs/')]);
  const doc = JSON.parse(json.stdout) as { entries: { type: string; name: string; key: string; size: number }[] };
  t.same(doc.entries.map((e) => [e.type, e.name, e.key, e.size]), [['object', 'renamed.bin', 'docs/renamed.bin', 100000]]);
  const one = await runCli(['ls', at('docs/renamed.bin')]);
  t.same(lines(one.stdout), ['renamed.bin'], 'a URL naming one object lists that object');
});

t.test('stat prints the fields, as text and JSON', async (t) => {
  const text = await runCli(['stat', at('a.bin')]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^Size: +100000 \(98 KiB\)$/m);
  t.match(text.stdout, /^ETag: +\S+$/m);
  t.match(text.stdout, /^Last modified: +\d{4}-\d\d-\d\dT[\d:]+Z$/m);
  t.match(text.stdout, /^Metadata: +\(none\)$/m);
  const json = JSON.parse((await runCli(['stat', '--json', at('a.bin')])).stdout) as Record<string, unknown>;
  t.equal(json['size'], 100000);
  t.equal(json['key'], 'a.bin');
  for (const field of ['etag', 'lastModified', 'contentType', 'storageClass', 'versionId', 'metadata']) t.ok(field in json, field);
  const md5 = createHash('md5').update(small).digest('hex');
  t.equal(json['etag'], md5, 'the etag of a single PUT is the MD5 of the data');
});

t.test('cp downloads atomically, to a path and into a directory', async (t) => {
  const out = join(root, 'down');
  await mkdir(out);
  const toPath = await runCli(['cp', at('docs/renamed.bin'), join(out, 'x.bin')]);
  t.equal(toPath.code, 0, toPath.stderr);
  t.equal(await fileSha256(join(out, 'x.bin')), sha256(small));
  const intoDir = await runCli(['cp', at('a.bin'), out]);
  t.equal(intoDir.code, 0, intoDir.stderr);
  t.equal(await fileSha256(join(out, 'a.bin')), sha256(small));
  t.same((await readdir(out)).sort(), ['a.bin', 'x.bin'], 'no temp files left beside them');
});

t.test('cp uploads whole files between the part size and the multipart threshold', async (t) => {
  // Default part size 8 MiB, multipart from 16 MiB: a 12 MiB file goes as one PUT and must not be cut to one part.
  const middling = randomBytes(12 * 1024 * 1024 + 3);
  await writeFile(join(local, 'middling.bin'), middling);
  t.equal((await runCli(['cp', join(local, 'middling.bin'), at('middling.bin')])).code, 0);
  const stat = JSON.parse((await runCli(['stat', '--json', at('middling.bin')])).stdout) as { size: number };
  t.equal(stat.size, middling.length, 'the whole file was stored');
  t.equal((await runCli(['rm', at('middling.bin')])).code, 0);
});

t.test('cp downloads an object above the multipart threshold (parallel ranged reads)', async (t) => {
  const large = randomBytes(40 * 1024 * 1024 + 7);
  await writeFile(join(local, 'large.bin'), large);
  t.equal((await runCli(['cp', join(local, 'large.bin'), at('large.bin')])).code, 0);
  const dest = join(root, 'large-back.bin');
  const down = await runCli(['cp', '--part-size', '5MiB', at('large.bin'), dest]);
  t.same([down.code, down.stderr], [0, '']);
  if (down.code === 0) t.equal(await fileSha256(dest), sha256(large));
  t.equal((await runCli(['rm', at('large.bin')])).code, 0);
});

/** Names that trip naive code: spaces, %, +, #, ?, unicode in both normal forms, deep nesting, an empty file. */
async function makeTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'sub dir', 'deeper'), { recursive: true });
  await writeFile(join(dir, 'plain.txt'), 'hello\n');
  await writeFile(join(dir, 'sub dir', '100% + #1?.txt'), randomBytes(3000));
  await writeFile(join(dir, 'sub dir', 'deeper', 'caf\u00e9.bin'), randomBytes(70_000));
  await writeFile(join(dir, 'sub dir', 'deeper', 'cafe\u0301.bin'), randomBytes(10));
  await writeFile(join(dir, 'empty'), '');
}

t.test('cp -r uploads a tree and downloads it back identically', async (t) => {
  const tree = join(local, 'tree');
  await makeTree(tree);
  const up = await runCli(['cp', '-r', tree, `${bucket}/`]);
  t.equal(up.code, 0, up.stderr);
  const keys = lines((await runCli(['ls', '-r', at('tree/')])).stdout).sort();
  t.same(keys, ['empty', 'plain.txt', 'sub dir/100% + #1?.txt', 'sub dir/deeper/cafe\u0301.bin', 'sub dir/deeper/caf\u00e9.bin'].sort());
  const restored = join(root, 'restored');
  const down = await runCli(['cp', '-r', at('tree/'), restored]);
  t.equal(down.code, 0, down.stderr);
  t.same(await treeDigest(restored), await treeDigest(tree), 'every file round-trips byte for byte');
  const again = await runCli(['cp', '-r', at('tree'), restored]);
  t.equal(again.code, 0, again.stderr);
  t.same(await treeDigest(join(restored, 'tree')), await treeDigest(tree), 'into an existing directory, under its own name');
});

t.test('cp between remotes: server-side in one root, streamed across roots', async (t) => {
  const sameRoot = await runCli(['cp', at('a.bin'), at('copies/a.bin')]);
  t.equal(sameRoot.code, 0, sameRoot.stderr);
  const otherRoot = join(root, 'elsewhere', 'target');
  await mkdir(otherRoot, { recursive: true });
  const streamed = await runCli(['cp', '-r', '--json', at('tree/'), `file://${otherRoot}/`]);
  t.equal(streamed.code, 0, streamed.stderr);
  const report = JSON.parse(streamed.stdout) as { files: number; bytes: number };
  t.equal(report.files, 5);
  t.equal(report.bytes, 6 + 3000 + 70_000 + 10);
  const back = join(root, 'back');
  t.equal((await runCli(['cp', '-r', `file://${otherRoot}/`, back])).code, 0);
  t.same(await treeDigest(back), await treeDigest(join(local, 'tree')));
  const copied = join(root, 'copied.bin');
  t.equal((await runCli(['cp', at('copies/a.bin'), copied])).code, 0);
  t.equal(await fileSha256(copied), sha256(small));
  const itself = await runCli(['cp', at('a.bin'), at('a.bin')]);
  t.equal(itself.code, 2, 'copying an object onto itself is refused');
});

t.test('rm deletes an object, and with -r everything under a prefix', async (t) => {
  const one = await runCli(['rm', at('copies/a.bin')]);
  t.same([one.code, one.stderr], [0, '']);
  t.equal((await runCli(['stat', at('copies/a.bin')])).code, 3, 'gone');
  const tree = await runCli(['rm', '-r', at('tree/')]);
  t.equal(tree.code, 0, tree.stderr);
  t.equal(tree.stdout, `removed 5 objects under ${bucket}?prefix=tree/\n`);
  t.same(lines((await runCli(['ls', '-r', bucket])).stdout), ['a.bin', 'docs/renamed.bin']);
  const again = await runCli(['rm', at('copies/a.bin')]);
  t.equal(again.code, 3, 'removing a missing object is an error');
  t.equal((await runCli(['rm', '-f', at('copies/a.bin')])).code, 0, 'unless -f');
  t.notOk(await exists(join(bucketDir, 'tree', 'plain.txt')));
});

t.test('help, examples and version', async (t) => {
  const version = await runCli(['--version']);
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  for (const command of ['ls', 'cp', 'rm', 'stat']) {
    const help = await runCli([command, '--help']);
    t.equal(help.code, 0);
    t.match(help.stdout, new RegExp(`bucketfs ${command} `), `${command} usage`);
    t.match(help.stdout, /Examples:/, `${command} has examples`);
  }
});

t.test('a progress bar and a summary on a terminal, nothing otherwise', async (t) => {
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (script.status !== 0) {
    console.log('SKIPPED: cli progress bar: script(1) from util-linux is not installed');
    if (process.env['CI'] === 'true') t.fail('script(1) is needed under CI');
    return;
  }
  // script(1) runs the command on a pseudo-terminal, so stderr is a TTY there.
  const command = `${process.execPath} bin/bucketfs.js cp ${join(local, 'a.bin')} '${at('tty/a.bin')}'`;
  const run = spawnSync('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: root } });
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /\[#+\] 98 KiB\/98 KiB/, 'the bar reached the total');
  t.match(run.stdout, /copied 1 file \(98 KiB\) in \d+/, 'the summary line');
  const quiet = await runCli(['cp', join(local, 'a.bin'), at('tty/b.bin')]);
  t.same([quiet.code, quiet.stdout, quiet.stderr], [0, '', '']);
});
