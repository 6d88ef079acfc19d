/**
 * The bucketfs command line against a real S3 server (s3rver on loopback),
 * credentials passed only through the child's environment: multipart
 * uploads, downloads, copies within and across services, stat with metadata
 * and tags, rm -r; then a missing bucket, a missing object and wrong keys
 * (s3rver rejects an unknown access key id with InvalidAccessKeyId).
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRemote, type Remote } from '../../drivers/remote.js';
import type { S3Server } from '../servers/common.js';
import { useS3rver } from '../servers/s3rver.js';
import { ensureBuilt, exists, fileSha256, lines, removeTestHome, runCli, sha256, type CliResult, type RunOptions } from './harness.js';

interface Context {
  root: string;
  bucket: string;
  other: string;
  url: (bucket: string, key?: string) => string;
  env: RunOptions;
  remote: Remote;
  big: Buffer;
}

async function setUp(t: Test, server: S3Server): Promise<Context> {
  const root = await mkdtemp(join(tmpdir(), 'bucketfs-cli-s3-'));
  const bucket = `cli-${randomBytes(4).toString('hex')}`;
  const other = `${bucket}-other`;
  const query = `?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}`;
  const url = (b: string, key = '') => `s3://${b}/${key}${query}`;
  const remote = await openRemote(url(bucket), { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
  for (const b of [bucket, other]) await remote.driver.createContainer(b);
  t.teardown(async () => {
    for (const b of [bucket, other]) {
      const container = remote.driver.container(b);
      const keys: string[] = [];
      for await (const page of container.pages()) keys.push(...page.objects.map((o) => o.key));
      await container.deleteMany(keys);
      await remote.driver.deleteContainer(b);
    }
    await remote.close();
    await rm(root, { recursive: true, force: true });
    await removeTestHome();
  });
  const big = randomBytes(12 * 1024 * 1024 + 12345);
  await writeFile(join(root, 'big.bin'), big);
  const env = { env: { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey } };
  return { root, bucket, other, url, env, remote, big };
}

async function upAndDown(t: Test, { root, bucket, url, env, big }: Context): Promise<void> {
  const up = await runCli(['cp', '--part-size', '5MiB', '--concurrency', '3', join(root, 'big.bin'), url(bucket, 'data/')], env);
  t.same([up.code, up.stderr], [0, '']);
  const ls = await runCli(['ls', '-l', url(bucket, 'data/')], env);
  t.match(ls.stdout, new RegExp(`^\\s*${big.length}  \\S+Z  \\S+\\s+big\\.bin$`, 'm'));
  const stat = JSON.parse((await runCli(['stat', '--json', url(bucket, 'data/big.bin')], env)).stdout) as Record<string, unknown>;
  t.equal(stat['size'], big.length);
  const down = await runCli(['cp', url(bucket, 'data/big.bin'), join(root, 'back.bin')], env);
  t.same([down.code, down.stderr], [0, '']);
  t.equal(await fileSha256(join(root, 'back.bin')), sha256(big));
}

async function statFields(t: Test, { bucket, url, env, remote }: Context): Promise<void> {
  await remote.container.put('meta.txt', Buffer.from('hi'), { contentType: 'text/plain', metadata: { colour: 'blue', 'owner-id': '42' } });
  const text = await runCli(['stat', url(bucket, 'meta.txt')], env);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^Content type: +text\/plain$/m);
  t.match(text.stdout, /^Metadata:\n {2}colour = blue\n {2}owner-id = 42$/m);
  t.match(text.stdout, /^Tags: +\(none\)$/m);
  t.match(text.stdout, /^ETag: +49f68a5c8493ec2c0bf489821c21fc3b$/m, 'md5 of "hi"');
}

async function copies(t: Test, { root, bucket, other, url, env, remote, big }: Context): Promise<void> {
  t.equal((await runCli(['cp', url(bucket, 'data/big.bin'), url(bucket, 'copy/big.bin')], env)).code, 0, 'server-side in one bucket');
  t.equal((await runCli(['cp', '-r', url(bucket, 'data/'), url(other, 'mirror/')], env)).code, 0, 'server-side across buckets');
  const dir = join(root, 'bucketdir');
  await mkdir(dir);
  const toFile = await runCli(['cp', url(other, 'mirror/big.bin'), `file://${dir}?prefix=from-s3.bin`], env);
  t.equal(toFile.code, 0, toFile.stderr);
  const fromFile = await runCli(['cp', `file://${dir}?prefix=from-s3.bin`, url(bucket, 'roundtrip.bin')], env);
  t.equal(fromFile.code, 0, fromFile.stderr);
  for (const key of ['copy/big.bin', 'roundtrip.bin']) {
    const dest = join(root, key.replace('/', '-'));
    t.equal((await runCli(['cp', url(bucket, key), dest], env)).code, 0);
    t.equal(await fileSha256(dest), sha256(big), key);
  }
  const meta = await runCli(['cp', url(bucket, 'meta.txt'), url(other, 'meta.txt')], env);
  t.equal(meta.code, 0, meta.stderr);
  t.same((await remote.driver.container(other).head('meta.txt')).metadata, { colour: 'blue', 'owner-id': '42' }, 'metadata kept');
}

async function removeTree(t: Test, { other, url, env }: Context): Promise<void> {
  const result = await runCli(['rm', '-r', url(other, 'mirror/')], env);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^removed 1 object under s3:\/\/.*\/mirror\/$/m);
  t.same(lines((await runCli(['ls', '-r', url(other)], env)).stdout), ['meta.txt']);
}

function oneLine(t: Test, result: CliResult, code: number, pattern: RegExp): void {
  t.equal(result.code, code, result.stderr);
  t.equal(lines(result.stderr).length, 1, 'one stderr line');
  t.match(result.stderr, pattern);
  t.equal(result.stdout, '');
}

async function badInput(t: Test, { root, bucket, url, env }: Context): Promise<void> {
  oneLine(t, await runCli(['ls', url('no-such-bucket-cli')], env), 3, /^bucketfs: cannot list s3:\/\/no-such-bucket-cli\/: the bucket does not exist$/m);
  oneLine(t, await runCli(['stat', url('no-such-bucket-cli', 'k')], env), 3, /the bucket does not exist/);
  oneLine(t, await runCli(['stat', url(bucket, 'missing.txt')], env), 3, /^bucketfs: cannot stat s3:\/\/cli-\w+\/missing\.txt: no such object$/m);
  const missing = join(root, 'missing.bin');
  oneLine(t, await runCli(['cp', url(bucket, 'missing.txt'), missing], env), 3, /no such object/);
  const wrongSecret = `wrong-${randomBytes(16).toString('hex')}`;
  const wrong = { env: { AWS_ACCESS_KEY_ID: 'NOSUCHKEYID', AWS_SECRET_ACCESS_KEY: wrongSecret } };
  const denied = join(root, 'denied.bin');
  const result = await runCli(['cp', url(bucket, 'data/big.bin'), denied], wrong);
  oneLine(t, result, 4, /^bucketfs: cannot download .*InvalidAccessKeyId.*; check the credentials \(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  t.notMatch(result.stderr + result.stdout, wrongSecret, 'the secret is not printed');
  t.notOk(await exists(missing));
  t.notOk(await exists(denied));
  t.same((await readdir(root)).filter((n) => n.includes('denied') || n.includes('missing')), [], 'no temp file');
}

const server = await useS3rver();
if ('skipped' in server) {
  const line = `SKIPPED: cli s3: ${server.skipped}`;
  console.log(line);
  if (process.env['CI'] === 'true') t.fail(`${line} (under CI the s3 tests must run)`);
  else t.pass('cli s3 skipped');
} else {
  await ensureBuilt();
  const context = await setUp(t, server);
  await t.test('cp uploads in parts, ls and stat see it, cp downloads it intact', (t) => upAndDown(t, context));
  await t.test('stat prints content type, metadata and tags', (t) => statFields(t, context));
  await t.test('copies within the server, across buckets, and to and from file://', (t) => copies(t, context));
  await t.test('rm -r removes everything under a prefix', (t) => removeTree(t, context));
  await t.test('a missing bucket, a missing object, wrong credentials', (t) => badInput(t, context));
}
