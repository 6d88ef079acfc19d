/**
 * One bucket on Ceph RGW shared with the real s3fs and rclone (Debian
 * packages): trees written by each tool are checked through the others, by
 * what `find -printf`, `stat` and `sha256sum` show. What does not carry over
 * (rclone's lack of modes and symlinks, markers rclone never writes) is
 * asserted as docs/SEMANTICS.md section 14 states it, so a change either way
 * is noticed.
 */
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openRemote } from '../../drivers/remote.js';
import { onPath, type S3Server } from '../servers/common.js';
import { useRgw } from '../servers/rgw.js';
import { mount, type Mounted } from './harness.js';
import { rcloneCopy, rcloneMount, s3fsMount } from './scenario-foreign.js';
import { reportSkipped } from './scenario-targets.js';
import {
  FIXTURE_SCRIPT, SNAPSHOT_COMMAND, asStatLines, directStatCommand, lines, normaliseStatLines, run, treeState, type TreeState,
} from './scenario-tree.js';

interface Shared {
  server: S3Server;
  bucket: string;
  remote: string;
  env: Record<string, string>;
  src: string;
  source: TreeState;
  scratch: string;
}

async function localDir(t: Test, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `bucketfs-interop-${label}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function bucketfs(t: Test, s: Shared, args: string[] = []): Promise<Mounted> {
  const m = await mount(s.remote, { env: s.env, args });
  t.teardown(() => m.unmount());
  return m;
}

/** Entries of a snapshot line: path, type, mode, size, mtime, target. */
const fields = (line: string) => line.split('\t') as [string, string, string, string, string, string];

/** Direct `stat` of every path of the fixture under `sub` (no listing first), and sha256 of its files opened by name. */
async function directView(s: Shared, m: Mounted, sub: string, keep: (line: string) => boolean = () => true): Promise<{ stats: string[]; sums: string }> {
  const chosen = lines(s.source.snapshot).filter(keep);
  const list = join(s.scratch, `${sub}-paths.txt`);
  await writeFile(list, chosen.map((l) => `${sub}/${fields(l)[0]}`).join('\n') + '\n');
  const files = join(s.scratch, `${sub}-files.txt`);
  await writeFile(files, chosen.filter((l) => fields(l)[1] === 'f').map((l) => fields(l)[0]).join('\n') + '\n');
  const stats = normaliseStatLines(await run(directStatCommand(list), m.dir));
  const sums = await run(`xargs -d '\\n' -r sha256sum -- < '${files}' | sed 's#  #  ./#' | LC_ALL=C sort -k2`, join(m.dir, sub));
  return { stats, sums };
}

function checksumsOf(state: TreeState, keep: (path: string) => boolean): string {
  return lines(state.checksums).filter((l) => keep(l.slice(l.indexOf('  ./') + 4))).map((l) => `${l}\n`).join('');
}

async function s3fsToBucketfs(t: Test, s: Shared): Promise<void> {
  const writer = await s3fsMount(t, s.server, s.bucket);
  await run(`mkdir s3fs-tree && cp -a '${s.src}/.' s3fs-tree/`, writer.dir, 300_000);
  await writer.unmount();
  await t.test('--exact-attrs: a direct stat of each path shows its exact attributes', async (t) => {
    const view = await directView(s, await bucketfs(t, s, ['--exact-attrs']), 's3fs-tree');
    t.same(view.stats, asStatLines(s.source.snapshot).map((l) => `s3fs-tree/${l}`), 'type, mode, size, mtime of every path');
    t.equal(view.sums, s.source.checksums, 'content of every file');
  });
  await t.test('default options: a direct stat of each regular file shows its name and size', async (t) => {
    // Listing attributes (SEMANTICS.md section 4): modes, times and symlink types need --exact-attrs.
    const regular = (line: string) => fields(line)[1] === 'f';
    const view = await directView(s, await bucketfs(t, s), 's3fs-tree', regular);
    const nameAndSize = (line: string) => { const f = line.split('\t'); return `${f[0]}\t${f[3]}`; };
    const expected = asStatLines(s.source.snapshot).filter((l) => l.split('\t')[1]!.startsWith('regular')).map((l) => `s3fs-tree/${nameAndSize(l)}`);
    t.same(view.stats.map(nameAndSize), expected, 'name and size of every file');
    t.equal(view.sums, s.source.checksums, 'content of every file');
  });
  await t.test('--exact-attrs: find -printf and sha256sum match the source', async (t) => {
    const m = await bucketfs(t, s, ['--exact-attrs']);
    const state = await treeState(join(m.dir, 's3fs-tree'));
    t.equal(state.snapshot, s.source.snapshot, 'types, modes, sizes, mtimes, symlink targets');
    t.equal(state.checksums, s.source.checksums, 'content');
  });
}

async function bucketfsToS3fs(t: Test, s: Shared): Promise<void> {
  const m = await bucketfs(t, s);
  await run(`mkdir bfs-tree && cp -a '${s.src}/.' bfs-tree/`, m.dir, 300_000);
  await m.unmount();
  await t.test('s3fs shows modes, mtimes, symlinks and empty directories', async (t) => {
    const reader = await s3fsMount(t, s.server, `${s.bucket}:/bfs-tree`);
    const state = await treeState(reader.dir);
    t.equal(state.snapshot, s.source.snapshot, 'types, modes, sizes, mtimes, symlink targets');
    t.equal(state.checksums, s.source.checksums, 'content');
  });
}

/** What rclone shows of the fixture: files with their sizes and mtimes but mode 644, directories 755 (mtimes not kept), symlinks as small files. */
function rcloneExpectation(snapshot: string): string[] {
  return lines(snapshot).map((line) => {
    const [path, type, , size, mtime, target] = fields(line);
    if (type === 'd') return `${path}\td\t755\t-\t*\t`;
    if (type === 'l') return `${path}\tf\t644\t${Buffer.byteLength(target)}\t${mtime}\t`;
    return `${path}\tf\t644\t${size}\t${mtime}\t`;
  });
}

async function bucketfsToRclone(t: Test, s: Shared): Promise<void> {
  const reader = await rcloneMount(t, s.server, `${s.bucket}/bfs-tree`);
  const shown = lines(await run(SNAPSHOT_COMMAND, reader.dir)).map((l) => (fields(l)[1] === 'd' ? l.replace(/\t[^\t]*\t$/, '\t*\t') : l));
  t.same(shown, rcloneExpectation(s.source.snapshot), 'sizes, mtimes, empty directories; no modes, symlinks as files');
  const state = await treeState(reader.dir);
  const isFile = new Set(lines(s.source.snapshot).filter((l) => fields(l)[1] === 'f').map((l) => fields(l)[0]));
  t.equal(checksumsOf(state, (p) => isFile.has(p)), s.source.checksums, 'content of every file');
  t.equal(await run('cat docs/link-relative', reader.dir), 'hello.txt', 'a symlink reads as its target text');
}

async function rcloneToBucketfs(t: Test, s: Shared): Promise<void> {
  await rcloneCopy(t, s.server, s.src, `${s.bucket}/rclone-tree`);
  // rclone keeps mtimes in the metadata: exact only with --exact-attrs once lookups list a directory (SEMANTICS.md section 4).
  const m = await bucketfs(t, s, ['--exact-attrs']);
  const regular = (line: string) => fields(line)[1] === 'f';
  const view = await directView(s, m, 'rclone-tree', regular);
  const expected = asStatLines(s.source.snapshot)
    .filter((l) => l.split('\t')[1]!.startsWith('regular'))
    .map((l) => `rclone-tree/${l.replace(/\t[0-7]+\t/, '\t644\t')}`);
  t.same(view.stats, expected, 'files: size and mtime kept, default mode 644 (rclone stores no mode)');
  t.equal(view.sums, s.source.checksums, 'content of every file');
  const missing = await run("for p in empty docs/link-relative; do stat rclone-tree/$p >/dev/null 2>&1 && echo \"$p exists\" || echo \"$p missing\"; done", m.dir);
  t.equal(missing, 'empty missing\ndocs/link-relative missing\n', 'rclone copies neither empty directories nor symlinks');
}

async function setUp(t: Test, server: S3Server): Promise<Shared> {
  const bucket = `interop-${randomBytes(4).toString('hex')}`;
  const remote = `s3://${bucket}?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}`;
  const env = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' };
  const admin = await openRemote(remote, { env });
  await admin.driver.createContainer(bucket);
  t.teardown(async () => {
    const keys: string[] = [];
    for await (const page of admin.container.pages()) keys.push(...page.objects.map((o) => o.key));
    for (let i = 0; i < keys.length; i += 1000) await admin.container.deleteMany(keys.slice(i, i + 1000));
    await admin.driver.deleteContainer(bucket);
    await admin.close();
  });
  const src = await localDir(t, 'src');
  await run(FIXTURE_SCRIPT, src);
  return { server, bucket, remote, env, src, source: await treeState(src), scratch: await localDir(t, 'scratch') };
}

const server = await useRgw();
if ('skipped' in server) reportSkipped(t, 'interoperability with s3fs and rclone on Ceph RGW', server.skipped);
else {
  const shared = await setUp(t, server);
  const tools = { s3fs: onPath('s3fs'), rclone: onPath('rclone') };
  if (tools.s3fs) {
    await t.test('a tree written through s3fs shows correctly through bucketfs', (t) => s3fsToBucketfs(t, shared));
    await t.test('a tree written through bucketfs shows correctly through s3fs', (t) => bucketfsToS3fs(t, shared));
  } else reportSkipped(t, 'interoperability with s3fs', 's3fs not installed (apt-get install s3fs)');
  if (tools.rclone) {
    if (!tools.s3fs) {
      const m = await bucketfs(t, shared);
      await run(`mkdir bfs-tree && cp -a '${shared.src}/.' bfs-tree/`, m.dir, 300_000);
      await m.unmount();
    }
    await t.test('a tree written through bucketfs shows through rclone mount (no modes, no symlinks)', (t) => bucketfsToRclone(t, shared));
    await t.test('a tree copied by rclone shows through bucketfs (mtimes, no modes)', (t) => rcloneToBucketfs(t, shared));
  } else reportSkipped(t, 'interoperability with rclone', 'rclone not installed (apt-get install rclone)');
}
