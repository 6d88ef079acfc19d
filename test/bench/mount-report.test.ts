/**
 * The mount benchmark's bookkeeping, without mounting anything: summaries
 * (medians, IOPS rows, peaks as the largest over rounds), speedups in both
 * units, targets met and missed on every bucketfs row (ratios against the
 * fastest raw SDK row, absolute rates, the RSS bound), runs that could not
 * happen shown as n/a, which (workload, tool) pairs a build without
 * `--write-mode` cannot run, and the peak watchers on real processes and
 * directories.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DATA_METRICS } from './mount-data.js';
import { noteUnavailable, type Phase } from './mount-phase.js';
import { formatSummary, formatTargetLine, summariseResults, type Result } from './mount-report.js';
import type { Workload } from './mount-steps.js';
import type { FuseTool } from './mount-tools.js';
import { METRICS } from './mount-workloads.js';
import { peakRss, watchCacheDir } from './peaks.js';

const MiB = 2 ** 20;
const order = [METRICS.write, METRICS.readCached, DATA_METRICS.randreadCached, METRICS.create];

function result(metric: string, row: string, kind: Result['kind'], seconds: number, extra: Partial<Result> = {}): Result {
  return { server: 'rgw', round: 0, metric, row, kind, seconds, ...extra };
}

t.test('summaries, speedups and targets', async (t) => {
  const results: Result[] = [
    result(METRICS.write, 'bucketfs', 'bucketfs', 2, { bytes: 1024 * MiB, rssBytes: 100 * MiB, cacheBytes: 900 * MiB }),
    result(METRICS.write, 'bucketfs', 'bucketfs', 4, { round: 1, bytes: 1024 * MiB, rssBytes: 300 * MiB, cacheBytes: 1000 * MiB }),
    result(METRICS.write, 'raw SDK, multipart', 'raw', 2.5, { bytes: 1024 * MiB }),
    result(METRICS.write, 'raw SDK, single PUT', 'raw', 2, { bytes: 1024 * MiB }),
    result(METRICS.readCached, 'bucketfs', 'bucketfs', 1.5, { bytes: 1024 * MiB }),
    result(DATA_METRICS.randreadCached, 'bucketfs', 'bucketfs', 5, { iops: 20_000 }),
    result(DATA_METRICS.randreadCached, 's3fs', 'peer', 5, { iops: 5_000 }),
    result(METRICS.create, 'bucketfs', 'bucketfs', 5),
    result(METRICS.create, 's3fs', 'peer', 100),
    result(METRICS.create, 'raw SDK (PutObject, one at a time)', 'raw', 4),
  ];
  const rows = summariseResults('rgw', results, [{ server: 'rgw', metrics: [METRICS.create], row: 'bucketfs async', reason: 'option missing: --write-mode' }], order);
  const write = rows.find((r) => r.metric === METRICS.write && r.row === 'bucketfs');
  t.match(write, { median: 3, min: 2, max: 4, rssBytes: 300 * MiB, cacheBytes: 1000 * MiB, unit: 's' }, 'median seconds; peaks are the largest over rounds');
  t.equal(write?.targets.map((c) => c.text).join('; '), '≥ 0.9× raw SDK: 0.66× MISSED; RSS ≤ 256 MiB MISSED', 'against the fastest raw row');
  t.equal(rows.find((r) => r.row === 'raw SDK, single PUT')?.speedup, 2 / 3);
  const cached = rows.find((r) => r.metric === METRICS.readCached);
  t.equal(cached?.targets[0]?.text, '≥ 1 GB/s: 0.71 MISSED', '1 GiB in 1.5 s is 0.716 GB/s, shown rounded down');
  const iops = rows.filter((r) => r.metric === DATA_METRICS.randreadCached);
  t.match(iops, [{ row: 'bucketfs', unit: 'IOPS', median: 20_000 }, { row: 's3fs', speedup: 4 }], 'IOPS: higher is better');
  t.equal(iops[0]?.targets[0]?.text, '≥ 15,000 IOPS: 20,000 met');
  const create = rows.filter((r) => r.metric === METRICS.create);
  t.match(create.map((r) => r.row), ['bucketfs', 's3fs', 'raw SDK (PutObject, one at a time)', 'bucketfs async']);
  t.equal(create[0]?.targets[0]?.text, '≥ 10× s3fs: 20.00× met (raw SDK: 25.00×)', 'against a peer, with what the raw SDK reaches on the server');
  const table = formatSummary(rows);
  t.match(table, /bucketfs async\s+0\s+n\/a.*n\/a \(option missing: --write-mode\)/);
  t.match(table, /20,000/);
  t.match(formatTargetLine(rows), /^targets: 2 of 5 met; missed: .*bucketfs peak RSS at most 300 MiB/);
});

t.test('a variant needing an option the build lacks is n/a for the workloads it would run', async (t) => {
  const tool = (name: string, needs: string[]): FuseTool => ({ name, command: name, needs, mount: () => Promise.reject(new Error('not here')) });
  const workload = (name: string, writes: boolean) => ({ name, metrics: [`${name} metric`], writes }) as unknown as Workload;
  const phase = {
    name: 'rgw', notAvailable: [], bucketfsOptions: new Set(['--cache-size']),
    workloads: [workload('read', false), workload('create', true)],
    tools: [{ tool: tool('bucketfs', []), writesOnly: false }, { tool: tool('bucketfs async', ['--write-mode']), writesOnly: true }],
  } as unknown as Phase;
  noteUnavailable(phase);
  t.same(phase.notAvailable, [{ server: 'rgw', metrics: ['create metric'], row: 'bucketfs async', reason: 'option missing: --write-mode' }]);
});

t.test('peaks: VmHWM of a live process, the largest size a directory reached', async (t) => {
  t.ok(((await peakRss(process.pid)) ?? 0) > MiB, 'this process has a high-water mark');
  t.equal(await peakRss(2 ** 22 + 12345), undefined, 'a process that does not exist has none');
  const dir = await mkdtemp(join(tmpdir(), 'bench-peaks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const watcher = watchCacheDir(dir);
  await writeFile(join(dir, 'a'), Buffer.alloc(4 * MiB, 1));
  await new Promise((r) => setTimeout(r, 600));
  await rm(join(dir, 'a'));
  const peak = (await watcher.stop()) ?? 0;
  t.ok(peak >= 4 * MiB, `the 4 MiB file was seen while it existed (peak ${peak})`);
});
