/**
 * The mount's bounds hold under several times their size of traffic: with
 * `--cache-size 64M --memory-limit 128M`, four 100 MiB files are written
 * through the mount and three 100 MiB objects put directly in the bucket are
 * read through it (700 MiB through a 64 MiB cache), while the cache
 * directory's disk use and the daemon's RSS are sampled every 100 ms.
 *   - cache directory ≤ 64 MiB + 8 MiB: the slack is for what is not data —
 *     the SQLite metadata database with its WAL and shared memory (a few
 *     MiB at most here), directory entries, and the last partial block of
 *     each file;
 *   - RSS of the daemon (with any children) ≤ 256 MiB;
 *   - every byte correct: sha256 of what was written against what the mount
 *     and the bucket give back, and of each object against what the mount
 *     reads.
 * Disk use is what `du` counts (allocated blocks), so sparse staging files
 * count only for what they hold.
 */
import t, { type Test } from 'tap';
import { createCipheriv, createHash } from 'node:crypto';
import { lstat, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRemote } from '../../drivers/remote.js';
import { mount, type Mounted, type MountTarget } from './harness.js';
import { forEachTarget } from './scenario-targets.js';

const MiB = 1024 * 1024;
const CACHE_BYTES = 64 * MiB;
const MEMORY_BYTES = 128 * MiB;
const CACHE_SLACK_BYTES = 8 * MiB;
const RSS_LIMIT_BYTES = 256 * MiB;
const FILE_BYTES = 100 * MiB;
const WRITTEN_FILES = 4;
const BUCKET_OBJECTS = 3;
const SAMPLE_MS = 100;
/** Pieces the test writes and reads in: large enough to be fast, small next to every bound. */
const PIECE = 4 * MiB;
/** Longest the traffic may take (700 MiB each way, loaded machine); past it the daemon is taken down and the test fails. */
const TRAFFIC_TIMEOUT_MS = 300_000;

/** Deterministic incompressible bytes (AES-CTR keystream), `piece` bytes at a time. */
function* stream(seed: number, total: number): Generator<Buffer> {
  const key = createHash('sha256').update(`bounds-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(PIECE);
  for (let done = 0; done < total; done += PIECE) yield cipher.update(zeros.subarray(0, Math.min(PIECE, total - done)));
}

function digestOf(seed: number, total: number): string {
  const hash = createHash('sha256');
  for (const piece of stream(seed, total)) hash.update(piece);
  return hash.digest('hex');
}

/** Allocated bytes under `dir` (what du counts), 0 for entries that vanish while being looked at. */
async function diskUse(dir: string): Promise<number> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  let total = 0;
  for (const name of names) total += await lstat(join(dir, name)).then((s) => s.blocks * 512, () => 0);
  return total;
}

/** RSS of `pid` and its descendants, from /proc. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  let children: number[] = [];
  for (const tid of tasks) {
    const list = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    children = children.concat(list.split(' ').filter(Boolean).map(Number));
  }
  let total = kib * 1024;
  for (const child of children) total += await rssOf(child);
  return total;
}

interface Peaks {
  cacheBytes: number;
  rssBytes: number;
  samples: number;
}

interface Sampler {
  /** Names the traffic that follows, so the report says where each peak came from. */
  phase(name: string): void;
  stop(): Promise<Map<string, Peaks>>;
}

/** Samples the cache directory and the daemon every 100 ms until stopped; one sample at a time. */
function sampler(m: Mounted): Sampler {
  const peaks = new Map<string, Peaks>();
  let current = 'start';
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    const phase = current;
    running = running.then(async () => {
      const [cache, rss] = await Promise.all([diskUse(m.cacheDir), rssOf(m.pid)]);
      const p = peaks.get(phase) ?? { cacheBytes: 0, rssBytes: 0, samples: 0 };
      peaks.set(phase, { cacheBytes: Math.max(p.cacheBytes, cache), rssBytes: Math.max(p.rssBytes, rss), samples: p.samples + 1 });
    });
  }, SAMPLE_MS);
  return {
    phase: (name) => void (current = name),
    async stop() {
      clearInterval(timer);
      await running;
      return peaks;
    },
  };
}

function overall(peaks: Map<string, Peaks>): Peaks {
  const all = [...peaks.values()];
  return {
    cacheBytes: Math.max(0, ...all.map((p) => p.cacheBytes)),
    rssBytes: Math.max(0, ...all.map((p) => p.rssBytes)),
    samples: all.reduce((n, p) => n + p.samples, 0),
  };
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

async function writeThrough(path: string, seed: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (const piece of stream(seed, FILE_BYTES)) await fh.write(piece);
  } finally {
    await fh.close();
  }
}

async function sha256Through(path: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(PIECE);
    for (;;) {
      const { bytesRead } = await fh.read(buffer, 0, PIECE, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

async function putObjects(target: MountTarget): Promise<void> {
  const remote = await openRemote(target.remote, { env: target.env });
  try {
    for (let i = 0; i < BUCKET_OBJECTS; i++) {
      await remote.container.put(`${remote.prefix}bounds/object-${i}`, Buffer.concat([...stream(100 + i, FILE_BYTES)]));
    }
  } finally {
    await remote.close();
  }
}

async function bucketDigest(target: MountTarget, key: string): Promise<string> {
  const remote = await openRemote(target.remote, { env: target.env });
  try {
    const hash = createHash('sha256');
    for await (const piece of await remote.container.openObject(`${remote.prefix}${key}`)) hash.update(piece as Buffer);
    return hash.digest('hex');
  } finally {
    await remote.close();
  }
}

async function traffic(t: Test, target: MountTarget, m: Mounted, samples: Sampler): Promise<void> {
  const dir = join(m.dir, 'bounds');
  samples.phase('writing 4 × 100 MiB');
  for (let i = 0; i < WRITTEN_FILES; i++) await writeThrough(join(dir, `written-${i}`), i);
  samples.phase('reading 3 × 100 MiB objects');
  for (let i = 0; i < BUCKET_OBJECTS; i++) {
    t.equal(await sha256Through(join(dir, `object-${i}`)), digestOf(100 + i, FILE_BYTES), `object-${i}: 100 MiB read through the mount, sha256 matches`);
  }
  samples.phase('reading back the written files');
  for (let i = 0; i < WRITTEN_FILES; i++) {
    const want = digestOf(i, FILE_BYTES);
    t.equal(await sha256Through(join(dir, `written-${i}`)), want, `written-${i}: read back through the mount`);
    t.equal(await bucketDigest(target, `bounds/written-${i}`), want, `written-${i}: the bucket has it`);
  }
}

async function boundedRun(t: Test, target: MountTarget): Promise<void> {
  await putObjects(target);
  const cacheDir = await mkdtemp(join(tmpdir(), 'bucketfs-bounds-cache-'));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  const m = await mount(target.remote, {
    env: target.env, cacheDir, args: ['--cache-size', '64M', '--memory-limit', '128M'], timeoutMs: 120_000,
  });
  const samples = sampler(m);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the traffic did not finish in ${TRAFFIC_TIMEOUT_MS / 1000} s; daemon log:\n${m.stderr().slice(-3000)}`)), TRAFFIC_TIMEOUT_MS);
  });
  try {
    await Promise.race([traffic(t, target, m, samples), timeout]);
  } catch (error) {
    t.fail(error instanceof Error ? error.message : String(error));
    // Calls still waiting on the mount fail once the daemon is gone.
    await m.kill9();
  } finally {
    clearTimeout(timer);
    const phases = await samples.stop();
    await m.unmount();
    for (const [phase, p] of phases) t.comment(`${target.name}, ${phase}: peak cache directory ${mib(p.cacheBytes)}, peak RSS ${mib(p.rssBytes)}`);
    const peaks = overall(phases);
    t.ok(peaks.samples > 10, `sampled ${peaks.samples} times`);
    t.ok(peaks.cacheBytes <= CACHE_BYTES + CACHE_SLACK_BYTES, `cache directory peaked at ${mib(peaks.cacheBytes)} ≤ 64 MiB + 8 MiB slack`);
    t.ok(peaks.rssBytes <= RSS_LIMIT_BYTES, `daemon RSS peaked at ${mib(peaks.rssBytes)} ≤ 256 MiB (memory limit ${MEMORY_BYTES / MiB} MiB)`);
  }
}

await forEachTarget(t, 'cache and memory bounds', { exclude: { memory: 'objects live inside the daemon and count against its RSS' } }, boundedRun);
