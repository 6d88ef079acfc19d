/**
 * Remote URLs and credentials: every form parses, bad URLs get one clear
 * message, secrets never come from a URL, never show in inspect/JSON/errors,
 * and a credentials file readable by others is refused.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import t from 'tap';
import { parseRemote, openRemote } from '../../drivers/remote.js';
import { credentialsFromEnv, credentialsFromFile, parseCredentialsFile } from '../../drivers/credentials.js';

t.test('remote URL forms', async (t) => {
  t.match(parseRemote('s3://bkt/some/prefix?endpoint=http://127.0.0.1:7480&region=eu-1'), {
    kind: 's3', bucket: 'bkt', prefix: 'some/prefix/', options: { endpoint: 'http://127.0.0.1:7480', region: 'eu-1' },
  });
  t.match(parseRemote('s3://bkt'), { bucket: 'bkt', prefix: '' });
  t.match(parseRemote('minio://127.0.0.1:9000/bkt/p/q/'), { kind: 'minio', host: '127.0.0.1', port: 9000, bucket: 'bkt', prefix: 'p/q/' });
  t.match(parseRemote('oss://bkt/x?region=oss-cn-hangzhou'), { kind: 'oss', bucket: 'bkt', prefix: 'x/', options: { region: 'oss-cn-hangzhou' } });
  t.match(parseRemote('file:///srv/photos'), { kind: 'local', root: '/srv', bucket: 'photos', prefix: '' });
  t.match(parseRemote('file:///srv/photos/?prefix=2024'), { root: '/srv', bucket: 'photos', prefix: '2024/' });
  t.match(parseRemote('memory://demo/a'), { kind: 'memory', bucket: 'demo', prefix: 'a/' });
  t.match(parseRemote('s3://bkt/with%20space/'), { prefix: 'with space/' });
});

t.test('bad remote URLs: one clear message each, never a secret', async (t) => {
  t.throws(() => parseRemote('not a url'), { code: 'Other', reason: 'InvalidRemote', message: /not a URL/ });
  t.throws(() => parseRemote('ftp://host/x'), { message: /unknown scheme 'ftp:'/ });
  t.throws(() => parseRemote('s3:///prefix'), { message: /no bucket/ });
  t.throws(() => parseRemote('minio://127.0.0.1:9000/'), { message: /no bucket/ });
  t.throws(() => parseRemote('file:///'), { message: /root cannot be a bucket/ });
  const err = t.throws(() => parseRemote('s3://AKIA:topsecret@bkt/x')) as Error;
  t.match(err.message, /credentials do not belong in a URL/);
  t.notMatch(err.message, /topsecret/);
});

t.test('minio and oss need credentials and say where to put them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bucketfs-cred-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const none = { env: {}, credentialsFile: join(dir, 'absent') };
  await t.rejects(openRemote('minio://127.0.0.1:1/b', none), { code: 'Other', reason: 'NoCredentials', message: /MINIO_ACCESS_KEY and MINIO_SECRET_KEY/ });
  await t.rejects(openRemote('oss://b?region=oss-cn-hangzhou', none), { code: 'Other', reason: 'NoCredentials', message: /OSS_ACCESS_KEY_ID/ });
});

t.test('credentials from the environment are redacted everywhere', async (t) => {
  const keys = credentialsFromEnv('minio', { MINIO_ACCESS_KEY: 'id1', MINIO_SECRET_KEY: 'sekrit-value' });
  t.equal(keys?.secretAccessKey, 'sekrit-value');
  t.notMatch(inspect(keys), /sekrit/);
  t.notMatch(JSON.stringify(keys), /sekrit/);
  t.notMatch(`${inspect({ nested: { keys } })}`, /sekrit/);
  t.same(credentialsFromEnv('oss', { ALIBABA_CLOUD_ACCESS_KEY_ID: 'a', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'b' })?.accessKeyId, 'a');
  t.equal(credentialsFromEnv('s3', {}), undefined);
});

t.test('credentials file: private only, profiles, clear errors without values', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bucketfs-cred-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'credentials');
  await writeFile(file, '# test\n[default]\naccess_key_id = AK1\nsecret_access_key = S3CRET1\n\n[rgw]\naccess_key_id=AK2\nsecret_access_key=S3CRET2\nsession_token = T\n', { mode: 0o600 });
  t.same((await credentialsFromFile('rgw', file))?.sessionToken, 'T');
  t.same((await credentialsFromFile('default', file))?.accessKeyId, 'AK1');
  await t.rejects(credentialsFromFile('nope', file), { message: /no profile \[nope\]/ });
  t.equal(await credentialsFromFile('default', join(dir, 'absent')), undefined);
  await chmod(file, 0o644);
  const err = (await credentialsFromFile('default', file).catch((e: Error) => e)) as Error;
  t.match(err.message, /readable by group or others \(mode 0644\); run: chmod 600/);
  t.notMatch(err.message, /S3CRET/);
  t.throws(() => parseCredentialsFile('[p]\naccess_key_id = x\n', 'f'), { message: /needs access_key_id and secret_access_key/ });
  t.throws(() => parseCredentialsFile('stray line\n', 'f'), { message: /f:1: expected/ });
});
