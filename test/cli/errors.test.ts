/**
 * Bad input to the bucketfs command line: every failure is exactly one
 * stderr line with a distinct exit code, no secret ever appears in the
 * output, and nothing is left at the destination.
 */
import t, { type Test } from 'tap';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, ensureBuilt, exists, lines, removeTestHome, runCli, type CliResult } from './harness.js';

await ensureBuilt();

const root = await mkdtemp(join(tmpdir(), 'bucketfs-cli-errors-'));
t.teardown(async () => {
  await rm(root, { recursive: true, force: true });
  await removeTestHome();
});
const bucketDir = join(root, 'bucket');
await mkdir(bucketDir);
await writeFile(join(root, 'payload.txt'), 'payload\n');
const bucket = `file://${bucketDir}`;
await mkdir(join(root, 'out'));

const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';

/** The common shape of a failure: one line on stderr starting "bucketfs: ", the code, nothing on stdout, no secret. */
function failsWith(t: Test, result: CliResult, code: number, pattern: RegExp): void {
  t.equal(result.code, code, `exit code ${code} (stderr: ${result.stderr})`);
  t.equal(lines(result.stderr).length, 1, 'exactly one stderr line');
  t.match(result.stderr, /^bucketfs: /);
  t.match(result.stderr, pattern);
  t.equal(result.stdout, '', 'nothing on stdout');
  t.notMatch(result.stderr + result.stdout, SECRET, 'the secret is never printed');
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

t.test('usage errors exit 2', async (t) => {
  failsWith(t, await runCli([]), 2, /name a command/);
  failsWith(t, await runCli(['ls']), 2, /Not enough non-option arguments/);
  failsWith(t, await runCli(['ls', bucket, '--bogus']), 2, /Unknown argument: bogus/);
  failsWith(t, await runCli(['cp', 'a', 'b']), 2, /both a and b are local paths/);
  failsWith(t, await runCli(['cp', join(root, 'payload.txt'), bucket, '--concurrency', '0']), 2, /--concurrency/);
  failsWith(t, await runCli(['cp', join(root, 'payload.txt'), bucket, '--part-size', 'lots']), 2, /invalid size 'lots'/);
  failsWith(t, await runCli(['cp', root, `${bucket}/`]), 2, /is a directory \(use -r/);
});

t.test('malformed URL and unknown scheme exit 2', async (t) => {
  failsWith(t, await runCli(['ls', 'not-a-url']), 2, /^bucketfs: invalid remote 'not-a-url': not a URL/);
  failsWith(t, await runCli(['ls', 's3://bad host/x']), 2, /invalid remote 's3:\/\/bad host\/x'/);
  failsWith(t, await runCli(['ls', 'ftp://host/x']), 2, /unknown scheme 'ftp:'/);
  failsWith(t, await runCli(['cp', join(root, 'payload.txt'), 'gopher://x/y']), 2, /unknown scheme 'gopher:'/);
});

t.test('a URL carrying user:password is refused without echoing the password', async (t) => {
  const result = await runCli(['ls', `s3://AKIDEXAMPLE:${SECRET}@bucket/prefix`]);
  failsWith(t, result, 2, /credentials do not belong in a URL/);
  t.notMatch(result.stderr, /AKIDEXAMPLE:/);
});

t.test('a missing bucket and a missing object exit 3 and name the remote', async (t) => {
  failsWith(t, await runCli(['ls', `file://${root}/no-such-bucket`]), 3, /no-such-bucket.*(does not exist|no such bucket)/i);
  failsWith(t, await runCli(['stat', `${bucket}?prefix=missing.txt`]), 3, /^bucketfs: cannot stat file:\/\/.*\?prefix=missing\.txt: no such object$/m);
  failsWith(t, await runCli(['ls', `${bucket}?prefix=nothing/here/`]), 3, /nothing under/);
});

t.test('a failed download leaves neither the file nor a temp file', async (t) => {
  const dest = join(root, 'out', 'never.txt');
  failsWith(t, await runCli(['cp', `${bucket}?prefix=missing.txt`, dest]), 3, /cannot download .*missing\.txt to .*never\.txt: no such object/);
  t.notOk(await exists(dest));
  t.same(await readdir(join(root, 'out')), [], 'no temp file remains');
  failsWith(t, await runCli(['cp', `${bucket}?prefix=missing.txt`, join(root, 'no-dir', 'x')]), 3, /no-dir: no such directory/);
  failsWith(t, await runCli(['cp', join(root, 'no-such-file'), `${bucket}/`]), 3, /no-such-file: no such file or directory/);
});

t.test('missing credentials name the variables and the credentials file', async (t) => {
  const port = await closedPort();
  failsWith(t, await runCli(['ls', `minio://127.0.0.1:${port}/bucket`]), 4, /no credentials for minio:\/\/.*MINIO_ACCESS_KEY and MINIO_SECRET_KEY.*credentials/);
  // s3 remotes fall back to the AWS SDK's default chain; when that finds nothing the fix is named too.
  const s3 = await runCli(['ls', `s3://bucket?endpoint=http://127.0.0.1:${port}&region=us-east-1`], { env: { AWS_EC2_METADATA_DISABLED: 'true' } });
  failsWith(t, s3, 4, /cannot list s3:\/\/bucket\/: no credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in .*credentials$/m);
});

t.test('an insecure credentials file is refused and chmod 600 is named', async (t) => {
  const file = join(root, 'credentials');
  await writeFile(file, `[default]\naccess_key_id = AKIDEXAMPLE\nsecret_access_key = ${SECRET}\n`);
  await chmod(file, 0o644);
  const port = await closedPort();
  const result = await runCli(['ls', `s3://bucket?endpoint=http://127.0.0.1:${port}`], { env: { BUCKETFS_CREDENTIALS: file } });
  failsWith(t, result, 4, /readable by group or others \(mode 0644\); run: chmod 600 /);
});

t.test('an unreachable endpoint exits 7 and says so', async (t) => {
  const port = await closedPort();
  const env = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: 'us-east-1' };
  const result = await runCli(['ls', `s3://bucket?endpoint=http://127.0.0.1:${port}`], { env });
  failsWith(t, result, 7, new RegExp(`cannot list s3://bucket/: .*127\\.0\\.0\\.1:${port}`));
  const dest = join(root, 'out', 'unreachable.txt');
  failsWith(t, await runCli(['cp', `s3://bucket/k?endpoint=http://127.0.0.1:${port}`, dest], { env }), 7, /cannot download s3:\/\/bucket\/k/);
  t.notOk(await exists(dest));
  t.same(await readdir(join(root, 'out')), []);
});

t.test('BUCKETFS_DEBUG=1 adds the error chain', async (t) => {
  const result = await runCli(['stat', `${bucket}?prefix=missing.txt`], { env: { BUCKETFS_DEBUG: '1' } });
  t.equal(result.code, 3);
  t.ok(lines(result.stderr).length > 1, 'more than the one line');
});
