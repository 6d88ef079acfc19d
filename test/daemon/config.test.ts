/**
 * Mount options from every source mean the same thing, and the first source
 * that sets one wins: command line > -o > BUCKETFS_* > the remote's section
 * of the config file > [defaults] > built in. Config files are real files;
 * every mistake in them, in -o, in the environment or on the command line is
 * one stderr line from the real executable, naming the problem and the fix,
 * with its exit code, and nothing is mounted.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_CACHE_BYTES, DEFAULT_MEMORY_BYTES } from '../../cache/chunks/options.js';
import { parseConfig } from '../../daemon/config/file.js';
import { parseMountStrings } from '../../daemon/config/mount-string.js';
import { OPTIONS, optionFor, type RawValue } from '../../daemon/config/options.js';
import { resolveMount, type MountRequest } from '../../daemon/config/resolve.js';
import { parseSize } from '../../daemon/format.js';
import { DEFAULT_UPLOAD_MEMORY_BYTES } from '../../vfs/data/index.js';
import { fuseMountAt } from '../../vfs/fuse-adapter.js';
import { ensureBuilt, lines, removeTestHome, runCli, type CliResult } from '../cli/harness.js';

await ensureBuilt();
const root = await mkdtemp(join(tmpdir(), 'bucketfs-config-'));
t.teardown(async () => {
  await rm(root, { recursive: true, force: true });
  await removeTestHome();
});
const bucket = join(root, 'bucket');
const mnt = join(root, 'mnt');
await mkdir(bucket);
await mkdir(mnt);

async function configFile(name: string, text: string): Promise<string> {
  const path = join(root, name);
  await writeFile(path, text);
  return path;
}

const CONFIG = `
[defaults]
attr_ttl = 11
dir_ttl = 12
negative_ttl = 13
uid = 14

[remotes.photos]
url = "file://${bucket}"
mountpoint = "${mnt}"
attr_ttl = 21
dir_ttl = 22
negative_ttl = 23
cache_size = "1.5GiB"
`;

function request(remote: string, flags: Record<string, string | boolean> = {}, mountStrings: string[] = []): MountRequest {
  const map = new Map<(typeof OPTIONS)[number], RawValue>();
  for (const [flag, value] of Object.entries(flags)) {
    const spec = OPTIONS.find((o) => o.flag === flag);
    if (spec === undefined) throw new Error(flag);
    map.set(spec, { value, where: `--${flag}` });
  }
  return { remote, mountpoint: undefined, flags: map, mountStrings };
}

t.test('precedence: command line > -o > environment > remote section > [defaults] > built in', async (t) => {
  const path = await configFile('precedence.toml', CONFIG);
  const env = { BUCKETFS_CONFIG: path, BUCKETFS_ATTR_TTL: '31', BUCKETFS_DIR_TTL: '32' };
  const plan = await resolveMount(request('photos:', { 'attr-ttl': '41' }, ['attr_ttl=51,dir_ttl=52,negative_ttl=53', 'ro']), env);
  t.equal(plan.settings.attrTtl, 41, 'a flag beats everything');
  t.equal(plan.sources.get('attrTtl'), '--attr-ttl');
  t.equal(plan.settings.dirTtl, 52, '-o beats the environment');
  t.equal(plan.settings.negativeTtl, 53);
  t.equal(plan.settings.readOnly, true, '-o ro is read_only');
  t.equal(plan.sources.get('readOnly'), '-o ro');
  const fromEnv = await resolveMount(request('photos:'), env);
  t.equal(fromEnv.settings.attrTtl, 31, 'the environment beats the config file');
  t.equal(fromEnv.sources.get('attrTtl'), 'BUCKETFS_ATTR_TTL');
  t.equal(fromEnv.settings.negativeTtl, 23, 'the remote section beats [defaults]');
  t.equal(fromEnv.sources.get('negativeTtl'), `${path} [remotes.photos] negative_ttl`);
  t.equal(fromEnv.settings.uid, 14, '[defaults] beats the built-in value');
  t.equal(fromEnv.settings.cacheSize, 1.5 * 1024 ** 3, 'sizes: 1.5GiB');
  t.equal(fromEnv.settings.fileMode, 0o644, 'built in where nothing sets it');
  t.notOk(fromEnv.sources.has('fileMode'));
  t.equal(fromEnv.mountpoint, mnt, 'the mountpoint from the remote section');
  t.equal(fromEnv.remote, `file://${bucket}`);
  const byUrl = await resolveMount({ ...request(`file://${bucket}`), mountpoint: mnt }, { BUCKETFS_CONFIG: path });
  t.equal(byUrl.settings.attrTtl, 11, 'a URL gets [defaults] but no remote section');
});

t.test('named remotes: NAME:sub/prefix, profile, and URLs never taken for names', async (t) => {
  const path = await configFile('named.toml', `
[remotes.rgw]
url = "s3://data/base?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=us-east-1"
profile = "backup"
[remotes.local]
url = "file://${bucket}?prefix=top/"
`);
  const env = { BUCKETFS_CONFIG: path };
  const plan = await resolveMount({ ...request('rgw:2024/may'), mountpoint: mnt }, env);
  const url = new URL(plan.remote);
  t.equal(url.host, 'data');
  t.equal(url.pathname, '/base/2024/may');
  t.equal(url.searchParams.get('endpoint'), 'http://127.0.0.1:7480');
  t.equal(url.searchParams.get('profile'), 'backup', 'the remote\'s credentials profile');
  t.equal(plan.remoteName, 'rgw');
  const local = await resolveMount({ ...request('local:sub/'), mountpoint: mnt }, env);
  t.equal(new URL(local.remote).searchParams.get('prefix'), 'top/sub/', 'file:// remotes take the sub-prefix in ?prefix=');
  const s3 = await resolveMount({ ...request('s3://rgw/x'), mountpoint: mnt }, env);
  t.equal(s3.remote, 's3://rgw/x', 'scheme:// is always a URL');
});

t.test('-o strings: bucketfs options by name, mount(8) generic options ignored', async (t) => {
  const parsed = parseMountStrings(['rw,_netdev,nofail,noauto,user,x-systemd.automount,uid=1000', 'cache_dir=/x,write-mode=async,allow_other']);
  const byKey = Object.fromEntries([...parsed].map(([spec, raw]) => [spec.key, raw.value]));
  t.same(byKey, { uid: '1000', cacheDir: '/x', writeMode: 'async', allowOther: true }, 'rw is mount(8)\'s default, not an override');
  t.same([...parseMountStrings(['ro'])].map(([spec, raw]) => [spec.key, raw.value]), [['readOnly', true]]);
  t.throws(() => parseMountStrings(['cache_sise=4G']), /-o cache_sise: unknown mount option; known: ro, rw, cache_dir/);
  t.throws(() => parseMountStrings(['uid']), /-o uid: needs a value \(uid=…\)/);
});

t.test('config mistakes name the file, the line and the fix', async (t) => {
  const cases: [string, RegExp][] = [
    ['[defaults]\ncache_sise = "4G"\n', /bad\.toml:2: \[defaults\] cache_sise: unknown key; known keys: cache_dir, cache_size/],
    ['[remotes.x]\nurl = "s3://b"\nsecret_access_key = "abc"\n', /bad\.toml:3: \[remotes\.x\] secret_access_key: secrets do not belong in the config file; put them in .*credentials \(mode 600\)/],
    ['[remotes.x]\nprofile = "p"\n', /bad\.toml:1: \[remotes\.x\] url: missing: every remote needs url = /],
    ['[remotes.s3]\nurl = "s3://b"\n', /bad\.toml:1: \[remotes\] s3: invalid remote name .*not a URL scheme/],
    ['[mounts]\n', /bad\.toml:1: mounts: unknown section; known: \[defaults\], \[remotes\.NAME\]/],
    ['[defaults]\nattr_ttl = = 3\n', /bad\.toml:2: not valid TOML/],
  ];
  for (const [text, pattern] of cases) t.throws(() => parseConfig(text, '/etc/bad.toml'), pattern, text.split('\n')[1] ?? text);
  // Values are checked where they are used, and named by where they were written.
  await t.rejects(resolveMount({ ...request(`file://${bucket}`), mountpoint: mnt }, { BUCKETFS_CONFIG: await configFile('uid.toml', '[defaults]\nuid = "me"\n') }),
    /uid\.toml \[defaults\] uid: invalid value 'me' \(expected a numeric id/);
  t.equal(optionFor('writeMode').flag, 'write-mode');
});

/** One stderr line, its exit code, nothing on stdout, nothing mounted. */
function failsWith(t: Test, result: CliResult, code: number, pattern: RegExp): void {
  t.equal(result.code, code, `exit ${code} (stderr: ${result.stderr})`);
  t.equal(lines(result.stderr).length, 1, 'exactly one stderr line');
  t.match(result.stderr, pattern);
  t.equal(result.stdout, '');
}

t.test('every mistake through the real executable: one line, its exit code, nothing mounted', async (t) => {
  const good = await configFile('good.toml', CONFIG);
  const bad = await configFile('bad.toml', '[defaults]\ncache_sise = "4G"\n');
  const url = `file://${bucket}`;
  const mount = (args: string[], env: Record<string, string> = {}) => runCli(['mount', ...args], { env: { BUCKETFS_CONFIG: good, ...env } });
  failsWith(t, await mount([url, mnt, '--cache-sise', '4G']), 2, /^bucketfs: Unknown argument: cache-sise \(see bucketfs --help\)$/m);
  failsWith(t, await mount([url, mnt, '--cache-size', 'lots']), 2, /^bucketfs: --cache-size: invalid size 'lots' \(expected e\.g\. 512M, 4G, 1\.5GiB/);
  failsWith(t, await mount([url, mnt, '--write-mode', 'fast']), 2, /--write-mode: invalid value 'fast' \(expected one of: sync, async\)/);
  failsWith(t, await mount([url, mnt, '-o', 'ro,cache_sise=4G']), 2, /-o cache_sise: unknown mount option/);
  failsWith(t, await mount([url, mnt], { BUCKETFS_ATTR_TTL: 'soon' }), 2, /^bucketfs: BUCKETFS_ATTR_TTL: invalid value 'soon' \(expected a number of seconds/);
  failsWith(t, await mount([url, mnt], { BUCKETFS_CONFIG: bad }), 2, /bad\.toml:2: \[defaults\] cache_sise: unknown key/);
  failsWith(t, await mount([url, mnt], { BUCKETFS_CONFIG: join(root, 'missing.toml') }), 3, /config file .*missing\.toml: no such file \(BUCKETFS_CONFIG names it\)/);
  failsWith(t, await mount(['nosuch:', mnt]), 2, /no remote named 'nosuch' \(from 'nosuch:'\): .*good\.toml has only photos; define \[remotes\.nosuch\]/);
  failsWith(t, await mount([url]), 2, /name a MOUNTPOINT: bucketfs mount file:\/\/.* \/mnt\/dir/);
  failsWith(t, await mount(['s3://b d/x', mnt]), 2, /invalid remote 's3:\/\/b d\/x'/);
  failsWith(t, await mount([url, join(root, 'nodir')]), 3, /mountpoint .*nodir does not exist \(create it: mkdir -p/);
  failsWith(t, await mount([url, root]), 5, /mountpoint .* is not empty .*use an empty directory/);
  t.equal(await fuseMountAt(mnt), undefined, 'nothing was mounted');
});

t.test('a credentials file readable by others is refused, naming the fix', async (t) => {
  const credentials = join(root, 'credentials');
  await writeFile(credentials, '[default]\naccess_key_id = AKID\nsecret_access_key = verysecretvalue\n');
  await chmod(credentials, 0o644);
  const r = await runCli(['mount', 's3://b?endpoint=http://127.0.0.1:9&region=r', mnt], { env: { BUCKETFS_CREDENTIALS: credentials, BUCKETFS_CONFIG: join(root, 'good.toml') } });
  failsWith(t, r, 4, /readable by group or others \(mode 0644\); run: chmod 600/);
  t.notMatch(r.stderr, /verysecretvalue/);
});

t.test('the defaults --help shows for the cache and memory bounds are the data path\'s own', (t) => {
  t.equal(parseSize(optionFor('cacheSize').shownDefault ?? ''), DEFAULT_CACHE_BYTES);
  t.equal(parseSize(optionFor('memoryLimit').shownDefault ?? ''), DEFAULT_MEMORY_BYTES + DEFAULT_UPLOAD_MEMORY_BYTES);
  t.end();
});
