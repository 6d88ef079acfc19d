/**
 * The FUSE adapter on a real mount, over a tiny in-memory FileSystem written
 * here: the adapter's own unit test, so the file system under it is a fake
 * on purpose (the real VFS is tested through the daemon). Checks what the
 * kernel and libfuse 2 really deliver: errnos reaching the caller, utimens
 * times, 128 KiB writes, xattr arguments and ERANGE, big directories,
 * per-operation timeouts, draining for shutdown.
 *
 * All access to the mount goes through child processes (sh): this process
 * serves the mount, so a synchronous call onto it would deadlock.
 */
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AccessDeniedError } from '../../drivers/errors.js';
import { fuseMountAt, mountFileSystem, type MountedFileSystem, type ObservedOperation } from '../../vfs/fuse-adapter.js';
import { VfsError, type Attr, type FileSystem, type StatFs } from '../../vfs/types.js';
import { sh } from './harness.js';

interface Node {
  attr: Attr;
  data: Buffer;
  target?: string;
  xattrs: Map<string, Buffer>;
}

const NS = 1_000_000n;

/** A flat map of paths; just enough POSIX for the adapter's checks. Records what the adapter passed in. */
class MemoryFileSystem implements FileSystem {
  readonly nodes = new Map<string, Node>();
  readonly calls: [string, ...unknown[]][] = [];
  readonly writeSizes: number[] = [];
  /** Paths whose getattr takes this long (ms): for timeouts. */
  readonly slow = new Map<string, number>();
  private nextIno = 1;

  constructor() {
    this.add('/', 0o040755);
  }

  add(path: string, mode: number, data = Buffer.alloc(0)): Node {
    const now = BigInt(Date.now()) * NS;
    const attr = { ino: this.nextIno++, mode, nlink: 1, uid: 0, gid: 0, size: data.length, blocks: 0, atimeNs: now, mtimeNs: now, ctimeNs: now };
    const node = { attr, data, xattrs: new Map<string, Buffer>() };
    this.nodes.set(path, node);
    return node;
  }

  private get(path: string): Node {
    if (path === '/boom') throw new Error('backend exploded in an unexpected way');
    if (path === '/denied') throw new AccessDeniedError('s3://bucket/denied: access denied');
    const node = this.nodes.get(path);
    if (node === undefined) throw new VfsError('ENOENT', `${path}: no such file`);
    return node;
  }

  private children(path: string): string[] {
    const prefix = path === '/' ? '/' : `${path}/`;
    return [...this.nodes.keys()].filter((p) => p !== path && p.startsWith(prefix) && !p.slice(prefix.length).includes('/')).map((p) => p.slice(prefix.length));
  }

  async init() {}
  async close() {}
  /** What cachedAttr answers at once, by path (a path missing here goes to getattr). */
  readonly cached = new Map<string, Attr>();
  readonly getattrPaths: string[] = [];
  /** How often cachedAttr was asked for each path. */
  readonly cachedCalls = new Map<string, number>();
  cachedAttr(path: string): Attr | undefined {
    this.cachedCalls.set(path, (this.cachedCalls.get(path) ?? 0) + 1);
    if (path === '/cache-boom') throw new Error('the cache exploded');
    return this.cached.get(path);
  }

  async getattr(path: string) {
    this.getattrPaths.push(path);
    const delay = this.slow.get(path);
    if (delay !== undefined) await new Promise((r) => setTimeout(r, delay));
    const node = this.get(path);
    return { ...node.attr, size: node.data.length };
  }
  /** readdir also says which attributes cachedAttr answers (Listing.current), as the VFS does. */
  readdirCurrent = false;
  /** Directories listed page by page through readdir's onPage: page size, wait before each later page, pages before a failure. */
  readonly paged = new Map<string, { size: number; waitMs: number; failAfter?: number; extra?: string[] }>();
  async readdir(path: string, onPage?: (page: { names: string[]; attrs: Attr[] }) => void) {
    const delay = this.slow.get(path);
    if (delay !== undefined) await new Promise((r) => setTimeout(r, delay));
    const paging = this.paged.get(path);
    if (paging !== undefined) return this.readdirPaged(path, paging, onPage);
    const names = this.children(path);
    const paths = names.map((n) => (path === '/' ? `/${n}` : `${path}/${n}`));
    if (!this.readdirCurrent) return { names, attrs: paths.map((p) => this.get(p).attr) };
    return { names, attrs: paths.map((p) => this.cached.get(p) ?? this.get(p).attr), current: paths.map((p) => this.cached.has(p)) };
  }
  private async readdirPaged(path: string, paging: { size: number; waitMs: number; failAfter?: number; extra?: string[] }, onPage?: (page: { names: string[]; attrs: Attr[] }) => void) {
    const attrOf = (n: string) => this.get(path === '/' ? `/${n}` : `${path}/${n}`).attr;
    const names = this.children(path);
    for (let at = 0, page = 0; at < names.length; at += paging.size, page++) {
      if (page > 0) await new Promise((r) => setTimeout(r, paging.waitMs));
      if (paging.failAfter === page) throw new VfsError('EIO', `listing ${path} broke after ${page} pages`);
      // `extra` names come again on every page: what a directory hiding a file of its name looks like.
      const pageNames = [...names.slice(at, at + paging.size), ...(paging.extra ?? [])];
      onPage?.({ names: pageNames, attrs: pageNames.map(attrOf) });
    }
    return { names, attrs: names.map(attrOf) };
  }
  async readlink(path: string) {
    return this.get(path).target ?? '';
  }
  async mkdir(path: string, mode: number) {
    this.add(path, 0o040000 | mode);
  }
  async rmdir(path: string) {
    if (this.children(path).length > 0) throw new VfsError('ENOTEMPTY', `${path} is not empty`);
    this.nodes.delete(path);
  }
  async unlink(path: string) {
    this.get(path);
    this.nodes.delete(path);
  }
  async rename(from: string, to: string) {
    this.nodes.set(to, this.get(from));
    this.nodes.delete(from);
  }
  async symlink(target: string, path: string) {
    this.add(path, 0o120777).target = target;
  }
  async link(): Promise<void> {
    throw new VfsError('EPERM', 'no hard links');
  }
  async chmod(path: string, mode: number) {
    const attr = this.get(path).attr;
    attr.mode = (attr.mode & ~0o7777) | (mode & 0o7777);
  }
  async chown(path: string, uid: number, gid: number) {
    Object.assign(this.get(path).attr, { uid, gid });
  }
  async utimens(path: string, atimeNs: bigint | undefined, mtimeNs: bigint | undefined) {
    this.calls.push(['utimens', path, atimeNs, mtimeNs]);
    const attr = this.get(path).attr;
    Object.assign(attr, { atimeNs: atimeNs ?? attr.atimeNs, mtimeNs: mtimeNs ?? attr.mtimeNs });
  }
  async truncate(path: string, size: number) {
    const node = this.get(path);
    node.data = Buffer.concat([node.data, Buffer.alloc(Math.max(0, size - node.data.length))]).subarray(0, size);
  }
  async statfs(): Promise<StatFs> {
    const big = 2 ** 40;
    return { bsize: 4096, frsize: 4096, blocks: big, bfree: big, bavail: big, files: big, ffree: big, favail: big, namemax: 255 };
  }
  async access(path: string) {
    this.get(path);
  }
  async open(path: string, flags: number) {
    this.calls.push(['open', path, flags]);
    this.get(path);
    return 1;
  }
  async create(path: string, mode: number, flags: number) {
    this.calls.push(['create', path, mode, flags]);
    this.add(path, 0o100000 | mode);
    return 2;
  }
  async fgetattr(path: string, fh: number) {
    this.calls.push(['fgetattr', path, fh]);
    return this.getattr(path);
  }
  async read(path: string, _fh: number, buffer: Buffer, length: number, position: number) {
    const data = this.get(path).data;
    return data.copy(buffer, 0, Math.min(position, data.length), Math.min(position + length, data.length));
  }
  async write(path: string, _fh: number, buffer: Buffer, length: number, position: number) {
    this.writeSizes.push(length);
    const node = this.get(path);
    if (node.data.length < position + length) node.data = Buffer.concat([node.data, Buffer.alloc(position + length - node.data.length)]);
    buffer.copy(node.data, position, 0, length);
    return length;
  }
  async ftruncate(path: string, _fh: number, size: number) {
    await this.truncate(path, size);
  }
  async flush() {}
  async fsync() {}
  async release() {}
  async setxattr(path: string, name: string, value: Buffer, flags: number) {
    this.calls.push(['setxattr', path, name, value.toString(), flags]);
    const xattrs = this.get(path).xattrs;
    if (flags === 1 && xattrs.has(name)) throw new VfsError('EEXIST', name);
    if (flags === 2 && !xattrs.has(name)) throw new VfsError('ENODATA', name);
    if (!name.startsWith('user.')) throw new VfsError('ENOTSUP', name);
    xattrs.set(name, value);
  }
  readonly xattrNamespace = 'user.';
  async getxattr(path: string, name: string) {
    this.calls.push(['getxattr', path, name]);
    if (!name.startsWith(this.xattrNamespace)) throw new VfsError('ENOTSUP', name);
    const value = this.get(path).xattrs.get(name);
    if (value === undefined) throw new VfsError('ENODATA', name);
    return value;
  }
  async listxattr(path: string) {
    return [...this.get(path).xattrs.keys()];
  }
  async removexattr(path: string, name: string) {
    if (!this.get(path).xattrs.delete(name)) throw new VfsError('ENODATA', name);
  }
}

const fs = new MemoryFileSystem();
const logged: string[] = [];
const mnt = await mkdtemp(join(tmpdir(), 'bucketfs-adapter-'));
const observed: ObservedOperation[] = [];
const METADATA_TIMEOUT_MS = 1_000;
const mounted: MountedFileSystem = await mountFileSystem(fs, mnt, {
  source: 'memory://adapter-test',
  log: (level, message) => logged.push(`${level}: ${message}`),
  metadataTimeoutMs: METADATA_TIMEOUT_MS,
  observe: (o) => observed.push(o),
});
t.teardown(async () => {
  await mounted.unmount();
  await rmdir(mnt);
});

t.test('the mount is a fuse.bucketfs mount named after its source', async (t) => {
  const info = await fuseMountAt(mnt);
  t.equal(info?.fsType, 'fuse.bucketfs');
  t.equal(info?.source, 'bucketfs#memory://adapter-test');
});

t.test('errnos reach the caller', async (t) => {
  fs.add('/d', 0o040755);
  fs.add('/d/child', 0o100644);
  t.match((await sh(`stat ${mnt}/missing`)).stderr, /No such file or directory/, 'ENOENT');
  t.match((await sh(`rmdir ${mnt}/d`)).stderr, /Directory not empty/, 'ENOTEMPTY');
  t.match((await sh(`stat ${mnt}/denied`)).stderr, /Permission denied/, 'a storage AccessDenied is EACCES');
  t.match((await sh(`stat ${mnt}/boom`)).stderr, /Input\/output error/, 'an unknown error is EIO');
  t.match((await sh(`cat ${mnt}/boom`)).stderr, /Input\/output error/);
  t.same(logged.filter((l) => l.includes('exploded')).length, 1, 'the unknown error is logged once, however often it happens');
  t.notOk(logged.some((l) => /no such file|not empty|access denied/.test(l)), 'expected errors are not logged');
  t.match((await sh(`mkfifo ${mnt}/fifo`)).stderr, /Operation not permitted/, 'special files: EPERM');
  t.match((await sh(`ln ${mnt}/d/child ${mnt}/hard`)).stderr, /Operation not permitted/, 'hard links: EPERM');
});

t.test('file contents, symlinks, modes and statfs pass through', async (t) => {
  const r = await sh(`printf 'hello world' > ${mnt}/f && cat ${mnt}/f && ln -s f ${mnt}/link && readlink ${mnt}/link && chmod 640 ${mnt}/f && stat -c %a ${mnt}/f && stat -f -c '%S %l' ${mnt}`);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'hello world' + 'f\n640\n4096 255\n');
  const create = fs.calls.find(([op, path]) => op === 'create' && path === '/f');
  t.same(create, ['create', '/f', 0o100644, 0o102], 'create gets the mode from the kernel and O_CREAT|O_RDWR (fuse-native passes no flags)');
});

t.test('a getattr through an open handle (lseek SEEK_END after a write) reaches fgetattr with the handle', async (t) => {
  fs.add('/sized', 0o100644, Buffer.alloc(1234));
  const r = await sh(`python3 -c "import os; fd = os.open('${mnt}/sized', os.O_RDWR); os.write(fd, b'x' * 10); print(os.lseek(fd, 0, os.SEEK_END)); os.close(fd)"`);
  t.same([r.code, r.stdout], [0, '1234\n'], r.stderr);
  t.same(fs.calls.filter(([op]) => op === 'fgetattr').at(-1), ['fgetattr', '/sized', 1], 'the path and the handle open() returned');
});

t.test('utimens: touch -d sets both times; touch -a / touch -m set one and keep the other', async (t) => {
  fs.add('/times', 0o100644);
  const stamp = await sh(`touch -d '2001-02-03 04:05:06 UTC' ${mnt}/times && stat -c '%X %Y' ${mnt}/times`);
  t.equal(stamp.stdout, '981173106 981173106\n', stamp.stderr);
  // Distinct atime and mtime arrive as such (fuse-native is patched: it used to pass atime twice).
  const both = await sh(`python3 -c "import os; os.utime('${mnt}/times', ns=(981173106_000_000_000, 1577836800_123_000_000))" && stat -c '%X %.3Y' ${mnt}/times`);
  t.equal(both.stdout, '981173106 1577836800.123\n', both.stderr);
  t.same(fs.calls.filter(([op]) => op === 'utimens').at(-1), ['utimens', '/times', 981173106_000_000_000n, 1577836800_123_000_000n]);
  // One time alone (UTIME_OMIT for the other) reaches the VFS too: the patch sets flag_utime_omit_ok.
  const atime = await sh(`touch -a -d '2005-01-01 UTC' ${mnt}/times && stat -c '%X %Y' ${mnt}/times`);
  t.equal(atime.stdout, '1104537600 1577836800\n', atime.stderr);
  t.same(fs.calls.filter(([op]) => op === 'utimens').at(-1), ['utimens', '/times', 1104537600_000_000_000n, undefined], 'mtime omitted');
  const mtime = await sh(`touch -m -d '2006-01-01 UTC' ${mnt}/times && stat -c '%X %Y' ${mnt}/times`);
  t.equal(mtime.stdout, '1104537600 1136073600\n', mtime.stderr);
  t.same(fs.calls.filter(([op]) => op === 'utimens').at(-1), ['utimens', '/times', undefined, 1136073600_000_000_000n], 'atime omitted');
  const now = Date.now();
  const touchNow = await sh(`touch ${mnt}/times && stat -c '%Y' ${mnt}/times`);
  t.ok(Math.abs(Number(touchNow.stdout) * 1000 - now) < 5000, 'UTIME_NOW becomes the current time');
});

t.test('writes arrive as 128 KiB requests (big_writes, max_write=131072)', async (t) => {
  fs.writeSizes.length = 0;
  const r = await sh(`dd if=/dev/zero of=${mnt}/big bs=1M count=16 status=none && stat -c %s ${mnt}/big`);
  t.equal(r.stdout, `${16 * 1024 * 1024}\n`, r.stderr);
  t.same(new Set(fs.writeSizes), new Set([128 * 1024]), 'every write request is 128 KiB');
  t.equal(fs.writeSizes.length, 128);
  const stats = mounted.stats.snapshot();
  t.ok((stats['write']?.bytes ?? 0) >= 16 * 1024 * 1024, 'the adapter counts bytes written');
  t.ok((stats['write']?.count ?? 0) >= 128, 'and write calls');
  t.equal(stats['write']?.buckets.reduce((a, b) => a + b, 0), stats['write']?.count, 'every call lands in one latency bucket');
});

t.test('xattrs: argument order, flags, ERANGE, list and remove', async (t) => {
  fs.add('/x', 0o100644);
  const set = await sh(`setfattr -n user.colour -v blue ${mnt}/x && getfattr --absolute-names --only-values -n user.colour ${mnt}/x`);
  t.equal(set.stdout, 'blue', set.stderr);
  t.same(fs.calls.filter(([op]) => op === 'setxattr').at(-1), ['setxattr', '/x', 'user.colour', 'blue', 0]);
  const py = await sh(`python3 - <<'EOF'
import errno, os
p = '${mnt}/x'
os.setxattr(p, 'user.long', b'v' * 300)
print(len(os.getxattr(p, 'user.long')))  # Python tries a 128-byte buffer first: needs ERANGE, not EIO
for flags in (os.XATTR_CREATE, os.XATTR_REPLACE):
    try:
        os.setxattr(p, 'user.colour' if flags == os.XATTR_CREATE else 'user.nothing', b'x', flags)
    except OSError as e:
        print(errno.errorcode[e.errno])
for i in range(40):
    os.setxattr(p, 'user.attribute-with-a-long-name-%02d' % i, b'1')
print(len(os.listxattr(p)))
os.removexattr(p, 'user.colour')
print('user.colour' in os.listxattr(p))
EOF`);
  t.equal(py.stdout, '300\nEEXIST\nENODATA\n42\nFalse\n', py.stderr);
  t.same(fs.calls.filter(([op, , name]) => op === 'setxattr' && name === 'user.nothing'), [['setxattr', '/x', 'user.nothing', 'x', 2]], 'XATTR_REPLACE arrives as flags 2');
  t.match((await sh(`getfattr --absolute-names -n user.missing ${mnt}/x`)).stderr, /No such attribute/, 'ENODATA');
  t.match((await sh(`setfattr -n trusted.x -v 1 ${mnt}/x`)).stderr, /Operation not supported/, 'ENOTSUP');
});

t.test('xattr names outside the namespace get ENOTSUP on the FUSE thread: write(2) costs no getxattr call', async (t) => {
  fs.add('/caps', 0o100644);
  const getxattrs = () => fs.calls.filter(([op]) => op === 'getxattr').map(([, path, name]) => `${String(path)} ${String(name)}`);
  const before = getxattrs().length;
  // Before each write(2) the kernel asks for security.capability (to drop file capabilities).
  const r = await sh(`dd if=/dev/zero of=${mnt}/caps bs=64k count=8 conv=notrunc status=none && stat -c %s ${mnt}/caps`);
  t.equal(r.stdout, `${8 * 64 * 1024}\n`, r.stderr);
  t.match((await sh(`getfattr --absolute-names -n security.selinux ${mnt}/caps`)).stderr, /Operation not supported/, 'ENOTSUP');
  t.match((await sh(`getfattr --absolute-names -n trusted.x ${mnt}/caps`)).stderr, /Operation not supported/, 'ENOTSUP');
  t.same(getxattrs().slice(before), [], 'none of them reached the file system');
  t.match((await sh(`getfattr --absolute-names -n user.missing ${mnt}/caps`)).stderr, /No such attribute/, 'names inside it still do');
  t.same(getxattrs().slice(before), ['/caps user.missing']);
});

t.test('readdir of 5,000 names, with . and .. and file types', async (t) => {
  fs.add('/many', 0o040755);
  for (let i = 0; i < 5000; i++) fs.add(`/many/file-${String(i).padStart(5, '0')}`, 0o100644);
  const r = await sh(`ls -fa ${mnt}/many | wc -l; ls ${mnt}/many | tail -1; find ${mnt}/many -type f | wc -l; ls -a ${mnt}/many | head -2`);
  t.equal(r.stdout, '5002\nfile-04999\n5000\n.\n..\n', r.stderr);
});

t.test('a directory is handed out while it is listed: first names early, each name once, seekdir and rewinddir', async (t) => {
  fs.add('/paged', 0o040755);
  const names = Array.from({ length: 3000 }, (_, i) => `p${String(i).padStart(4, '0')}`);
  for (const name of names) fs.add(`/paged/${name}`, 0o100644);
  fs.paged.set('/paged', { size: 1000, waitMs: 600, extra: ['p0001'] });
  t.teardown(() => fs.paged.delete('/paged'));
  const first = await sh(`python3 -c "
import os, sys, time
started = time.monotonic()
it = os.scandir(sys.argv[1])
next(it)
print(round((time.monotonic() - started) * 1000))
print(1 + sum(1 for _ in it))
print(round((time.monotonic() - started) * 1000))" ${mnt}/paged`);
  const [firstMs, count, allMs] = first.stdout.trim().split('\n').map(Number);
  t.ok(firstMs! < 500, `the first entry came before the second page (${firstMs} ms) ${first.stderr}`);
  t.ok(allMs! >= 1100, `the last after the third (${allMs} ms)`);
  t.equal(count, 3000, 'every name once (scandir skips . and ..)');
  const r = await sh(`ls -fa ${mnt}/paged | sort | uniq -d | wc -l; ls -fa ${mnt}/paged | wc -l`);
  t.equal(r.stdout, '0\n3002\n', 'a name a later page shows again is not given twice');

  const perl = await sh(`perl -e '
opendir(my $d, $ARGV[0]) or die "opendir: $!";
readdir($d) for 1 .. 1500;
my $at = telldir($d);
my $next = readdir($d);
1 while defined(readdir($d));
seekdir($d, $at);
print readdir($d) eq $next ? "same\n" : "differs\n";
rewinddir($d);
my $n = 0;
$n++ while defined(readdir($d));
print "$n\n";' ${mnt}/paged`);
  t.equal(perl.stdout, 'same\n3002\n', perl.stderr);
});

t.test('a listing that fails midway: the names so far, then its error', async (t) => {
  fs.add('/broken', 0o040755);
  for (let i = 0; i < 2500; i++) fs.add(`/broken/b${String(i).padStart(4, '0')}`, 0o100644);
  fs.paged.set('/broken', { size: 1000, waitMs: 50, failAfter: 2 });
  t.teardown(() => fs.paged.delete('/broken'));
  const r = await sh(`python3 -c "
import os, sys
seen = 0
try:
    for _ in os.scandir(sys.argv[1]):
        seen += 1
    print('no error', seen)
except OSError as e:
    print(os.strerror(e.errno), seen)" ${mnt}/broken`);
  t.equal(r.stdout, 'Input/output error 2000\n', r.stderr);
});

t.test('a listing the adapter cannot convert: an error for the reader, and the mount serves on', async (t) => {
  fs.add('/unconvertible', 0o040755);
  fs.add('/unconvertible/x', 0o100644);
  const readdir = fs.readdir.bind(fs);
  fs.readdir = async (path: string, onPage?: (page: { names: string[]; attrs: Attr[] }) => void) => {
    const listing = await readdir(path, onPage);
    if (path !== '/unconvertible') return listing;
    // Times that are not bigints: the stat conversion throws.
    return { names: listing.names, attrs: listing.attrs.map((a) => ({ ...a, mtimeNs: 1 as unknown as bigint })) };
  };
  t.teardown(() => {
    fs.readdir = readdir;
  });
  const r = await sh(`ls ${mnt}/unconvertible; echo "exit $?"; ls ${mnt} | grep -c unconvertible`);
  t.match(r.stdout, /exit 2\n1\n/, r.stderr);
  t.match(r.stderr, /reading directory/, 'ls reports the failed read');
});

t.test('metadata operations time out; data operations do not', async (t) => {
  fs.add('/slow', 0o100644);
  fs.slow.set('/slow', METADATA_TIMEOUT_MS * 2);
  const started = Date.now();
  t.match((await sh(`stat ${mnt}/slow`)).stderr, /Connection timed out/, 'a getattr past the timeout is ETIMEDOUT');
  t.ok(Date.now() - started < METADATA_TIMEOUT_MS * 2, 'and the caller is not kept waiting');
  fs.slow.delete('/slow');
  const slowWrite = fs.write.bind(fs);
  fs.write = async (...args) => {
    await new Promise((r) => setTimeout(r, METADATA_TIMEOUT_MS * 2));
    return slowWrite(...args);
  };
  const r = await sh(`printf data > ${mnt}/slow && cat ${mnt}/slow`);
  fs.write = slowWrite;
  t.equal(r.stdout, 'data', `a write slower than the metadata timeout completes (${r.stderr})`);
});

t.test('every reply is observed with its latency, errno and bytes', async (t) => {
  observed.length = 0;
  const r = await sh(`stat ${mnt}/nothing-here; printf 12345 > ${mnt}/observed; cat ${mnt}/observed`);
  t.equal(r.stdout, '12345', r.stderr);
  t.ok(observed.some((o) => o.op === 'getattr' && o.errno === 'ENOENT'), 'a failed lookup carries its errno');
  t.ok(observed.some((o) => o.op === 'write' && o.bytes === 5 && o.errno === undefined), 'a write carries its bytes');
  t.ok(observed.some((o) => o.op === 'read' && o.bytes === 5));
  t.ok(observed.every((o) => o.seconds >= 0 && o.seconds < 10));
});

t.test('getattr answered by cachedAttr at once; anything else goes to getattr', async (t) => {
  const now = BigInt(Date.now()) * NS;
  fs.cached.set('/only-cached', { ino: 999, mode: 0o100600, nlink: 1, uid: 0, gid: 0, size: 4242, blocks: 9, atimeNs: now, mtimeNs: now, ctimeNs: now });
  fs.add('/in-both', 0o100644, Buffer.from('abc'));
  fs.add('/cache-boom', 0o100644, Buffer.from('xy'));
  fs.getattrPaths.length = 0;
  observed.length = 0;
  const r = await sh(`stat -c '%s %a' ${mnt}/only-cached ${mnt}/in-both ${mnt}/cache-boom; stat ${mnt}/not-anywhere`);
  t.equal(r.stdout, '4242 600\n3 644\n2 644\n', r.stderr);
  t.match(r.stderr, /No such file/, 'a name neither knows: ENOENT from getattr');
  t.notOk(fs.getattrPaths.includes('/only-cached'), 'a cached answer never reaches getattr');
  t.ok(fs.getattrPaths.includes('/in-both') && fs.getattrPaths.includes('/cache-boom'), 'no answer, or a throwing cache: getattr');
  t.ok(observed.some((o) => o.op === 'getattr' && o.errno === undefined), 'cached answers are observed too');
  fs.cached.clear();
});

t.test('primed lookups: entries listed by readdir are looked up without JS, once, until a change or their ttl', async (t) => {
  const now = BigInt(Date.now()) * NS;
  const names = Array.from({ length: 200 }, (_, i) => `f${String(i).padStart(3, '0')}`);
  fs.add('/primed', 0o040755);
  for (const [i, name] of names.entries()) {
    const node = fs.add(`/primed/${name}`, 0o100644, Buffer.alloc(i));
    fs.cached.set(`/primed/${name}`, { ...node.attr, size: i, mtimeNs: now - BigInt(i) * 1000n * NS, blocks: i });
  }
  const calls = (name: string) => fs.cachedCalls.get(`/primed/${name}`) ?? 0;
  fs.cachedCalls.clear();
  fs.getattrPaths.length = 0;
  const r = await sh(`ls -ln --time-style=+%s ${mnt}/primed | tail -n +2`);
  const rows = r.stdout.trim().split('\n').map((line) => line.split(/\s+/));
  t.equal(rows.length, names.length, r.stderr);
  const nowS = Number(now / (1000n * NS));
  t.ok(rows.every(([mode, , uid, gid, size, mtime, name], i) =>
    mode === '-rw-r--r--' && uid === '0' && gid === '0' && size === String(i) && Number(mtime) === nowS - i && name === names[i]),
  'ls -l shows the attributes readdir primed');
  t.ok(names.every((name) => calls(name) === 1), 'each entry was asked for once: at readdir, not again at its lookup');
  t.notOk(fs.getattrPaths.some((p) => p.startsWith('/primed/')), 'no lookup reached getattr');

  // Names listed but not looked up yet stay primed until any change goes through the mount.
  await sh(`sleep 1.1; ls -f ${mnt}/primed > /dev/null`);
  fs.cachedCalls.clear();
  t.equal((await sh(`stat -c %s ${mnt}/primed/f005`)).stdout, '5\n');
  t.equal(calls('f005'), 0, 'a primed name: no call into JS');
  t.equal((await sh(`chmod 600 ${mnt}/primed/f000 && stat -c %s ${mnt}/primed/f006`)).stdout, '6\n');
  t.equal(calls('f006'), 1, 'after a chmod elsewhere, the lookup goes to JS again');

  // ... and no longer than the kernel's own attribute ttl (1 s).
  await sh(`sleep 1.1; ls -f ${mnt}/primed > /dev/null; sleep 1.1`);
  fs.cachedCalls.clear();
  t.equal((await sh(`stat -c %s ${mnt}/primed/f007`)).stdout, '7\n');
  t.equal(calls('f007'), 1, 'an expired primed answer is not used');
  fs.cached.clear();
});

t.test('primed lookups from the attributes readdir returned: no second ask, and none once a change came in between', async (t) => {
  const now = BigInt(Date.now()) * NS;
  // Non-ASCII names too: their records carry UTF-8 byte lengths.
  const names = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `é${i}-ü` : i % 3 === 1 ? `f${i}-\u{1F600}` : `g${i}`));
  fs.add('/current', 0o040755);
  for (const [i, name] of names.entries()) {
    const node = fs.add(`/current/${name}`, 0o100644, Buffer.alloc(1));
    fs.cached.set(`/current/${name}`, { ...node.attr, size: 1000 + i, mtimeNs: now - BigInt(i) * 1000n * NS, blocks: 1 });
  }
  fs.add('/current/not-cached', 0o100644, Buffer.from('abc'));
  fs.readdirCurrent = true;
  t.teardown(() => {
    fs.readdirCurrent = false;
    fs.slow.delete('/current');
    fs.cached.clear();
  });
  const calls = (name: string) => fs.cachedCalls.get(`/current/${name}`) ?? 0;
  fs.cachedCalls.clear();
  fs.getattrPaths.length = 0;
  const r = await sh(`ls -ln --time-style=+%s ${mnt}/current | tail -n +2`);
  const sizes = new Map(r.stdout.trim().split('\n').map((line) => line.split(/\s+/)).map((cols) => [cols.slice(6).join(' '), cols[4]]));
  t.equal(sizes.size, names.length + 1, r.stderr);
  t.ok(names.every((name, i) => sizes.get(name) === String(1000 + i)), 'ls -l shows the attributes readdir returned');
  t.equal(sizes.get('not-cached'), '3', 'a name cachedAttr does not answer is looked up the common way');
  t.ok(names.every((name) => calls(name) === 0), 'no name was asked for again');
  t.notOk(fs.getattrPaths.some((p) => p.startsWith('/current/') && p !== '/current/not-cached'), 'no primed lookup reached getattr');

  // A change while readdir is under way: what it read may predate it, so nothing is primed.
  await sh('sleep 1.1');
  fs.slow.set('/current', 300);
  fs.cachedCalls.clear();
  const racing = await sh(`ls -f ${mnt}/current > /dev/null & sleep 0.1; chmod 600 ${mnt}/current/not-cached; wait; stat -c %s ${mnt}/current/g2`);
  t.equal(racing.stdout, '1002\n', racing.stderr);
  t.equal(calls('g2'), 1, 'after a change during readdir, the lookup asks cachedAttr again');
});

t.test('drained() waits for a write accepted before drain()', async (t) => {
  const slowWrite = fs.write.bind(fs);
  let landed = false;
  fs.write = async (...args) => {
    await new Promise((r) => setTimeout(r, 500));
    const n = await slowWrite(...args);
    landed = true;
    return n;
  };
  const writer = sh(`printf late > ${mnt}/late`);
  while (!fs.nodes.has('/late')) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  mounted.drain();
  t.notOk(landed, 'the write is still in flight when the mount drains');
  await mounted.drained();
  t.ok(landed, 'drained() resolved only after the VFS took the write');
  fs.write = slowWrite;
  await writer;
  t.equal(fs.nodes.get('/late')?.data.toString(), 'late');
});

t.test('draining refuses new writes and changes, reads go on; unmount removes the mount', async (t) => {
  fs.add('/keep', 0o100644, Buffer.from('kept'));
  mounted.drain();
  t.match((await sh(`touch ${mnt}/new`)).stderr, /Read-only file system/);
  t.match((await sh(`echo more >> ${mnt}/keep`)).stderr, /Read-only file system/);
  t.match((await sh(`mkdir ${mnt}/dir2`)).stderr, /Read-only file system/);
  t.equal((await sh(`cat ${mnt}/keep`)).stdout, 'kept');
  await mounted.unmount();
  t.equal(await fuseMountAt(mnt), undefined, 'no mount left');
  await mounted.unmount();
  t.pass('unmount is idempotent');
});
