/**
 * The mount benchmark's results: per server, workload metric and tool, the
 * median and range over rounds (seconds, or IOPS for fio metrics), MiB/s
 * where bytes moved, bucketfs's speedup over each peer (> 1: bucketfs is
 * faster; against the raw SDK, the share of the SDK's speed bucketfs
 * reaches), the peak memory and cache size of each tool's daemon (the
 * largest over rounds), the targets met or missed on every bucketfs row, and
 * the text tables.
 */
import { DATA_METRICS } from './mount-data.js';
import { METRICS } from './mount-workloads.js';
import { formatColumns, median } from './stats.js';

export type RowKind = 'bucketfs' | 'peer' | 'raw';

export interface Result {
  /** Which S3 server the run used ('rgw' or 'null'). */
  server: string;
  round: number;
  metric: string;
  row: string;
  kind: RowKind;
  seconds: number;
  bytes?: number;
  iops?: number;
  /** Peak resident memory of the tool's process over its mount (VmHWM). */
  rssBytes?: number;
  /** Peak size of the tool's cache directory over its mount. */
  cacheBytes?: number;
  requests?: Record<string, number>;
}

export interface Failure {
  server: string;
  round: number;
  workload: string;
  row: string;
  error: string;
}

/** A tool that could not run a workload here, e.g. an option this build of bucketfs lacks. */
export interface NotAvailable {
  server: string;
  metrics: readonly string[];
  row: string;
  reason: string;
}

/** bucketfs against the fastest row of `versus` (a tool's name, or 'raw SDK'), or an absolute rate. */
export type Target =
  | { metric: string; versus: string; atLeast: number }
  | { metric: string; rate: 'GB/s' | 'IOPS'; atLeast: number };

export const TARGETS: readonly Target[] = [
  { metric: METRICS.write, versus: 'raw SDK', atLeast: 0.9 },
  { metric: METRICS.read, versus: 'raw SDK', atLeast: 0.9 },
  { metric: METRICS.readCached, rate: 'GB/s', atLeast: 1 },
  { metric: DATA_METRICS.randreadCached, rate: 'IOPS', atLeast: 15_000 },
  { metric: DATA_METRICS.append, versus: 's3fs', atLeast: 10 },
  { metric: METRICS.create, versus: 's3fs', atLeast: 10 },
  // The namespace targets of the mount's first version still hold.
  { metric: METRICS.lsCold, versus: 's3fs', atLeast: 10 },
  { metric: METRICS.stat, versus: 's3fs', atLeast: 10 },
  { metric: METRICS.rename, versus: 's3fs', atLeast: 5 },
];

/** Every bucketfs row, every workload: the daemon's peak resident memory. */
export const RSS_LIMIT_BYTES = 256 * 2 ** 20;

export interface TargetCheck {
  text: string;
  met: boolean;
}

export interface SummaryRow {
  server: string;
  metric: string;
  row: string;
  kind: RowKind;
  unit: 's' | 'IOPS';
  values: number[];
  median: number;
  min: number;
  max: number;
  mibPerSecond?: number;
  /** How many times faster bucketfs is than this row; absent on bucketfs's own row. */
  speedup?: number;
  rssBytes?: number;
  cacheBytes?: number;
  /** On bucketfs rows: each target that applies, met or missed. */
  targets: TargetCheck[];
  /** Set on rows that could not run (the other fields are then empty). */
  notAvailable?: string;
  /** Requests per S3 operation, median over rounds (when counted). */
  requests?: Record<string, number>;
}

function medianRequests(results: readonly Result[]): Record<string, number> | undefined {
  const counted = results.filter((r) => r.requests !== undefined).map((r) => r.requests as Record<string, number>);
  if (counted.length === 0) return undefined;
  const ops = [...new Set(counted.flatMap((c) => Object.keys(c)))];
  return Object.fromEntries(ops.map((op) => [op, median(counted.map((c) => c[op] ?? 0))]).sort((a, b) => (b[1] as number) - (a[1] as number)));
}

const KIND_ORDER: Record<RowKind, number> = { bucketfs: 0, peer: 1, raw: 2 };
const largest = (values: (number | undefined)[]) => {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
};
/** "Faster" for this unit: fewer seconds, more IOPS. */
const betterOf = (unit: SummaryRow['unit'], a: SummaryRow, b: SummaryRow) => ((unit === 's' ? a.median <= b.median : a.median >= b.median) ? a : b);
/** How many times `fast` outdoes `slow`. */
const ratio = (unit: SummaryRow['unit'], fast: SummaryRow, slow: SummaryRow) => (unit === 's' ? slow.median / fast.median : fast.median / slow.median);

function summariseRow(server: string, metric: string, row: string, kind: RowKind, samples: readonly Result[]): SummaryRow {
  const unit = samples.some((r) => r.iops !== undefined) ? 'IOPS' : 's';
  const values = samples.map((r) => (unit === 'IOPS' ? r.iops ?? 0 : r.seconds));
  const summary: SummaryRow = { server, metric, row, kind, unit, values, median: median(values), min: Math.min(...values), max: Math.max(...values), targets: [] };
  const bytes = median(samples.map((r) => r.bytes ?? Number.NaN));
  if (Number.isFinite(bytes)) summary.mibPerSecond = bytes / 2 ** 20 / median(samples.map((r) => r.seconds));
  const rss = largest(samples.map((r) => r.rssBytes));
  if (rss !== undefined) summary.rssBytes = rss;
  const cache = largest(samples.map((r) => r.cacheBytes));
  if (cache !== undefined) summary.cacheBytes = cache;
  const requests = medianRequests(samples);
  if (requests !== undefined) summary.requests = requests;
  return summary;
}

/** One summary row per (metric, row), metrics in `metricOrder`, bucketfs rows first, then peers, then raw SDK rows, then rows that could not run. */
export function summariseResults(server: string, results: readonly Result[], notAvailable: readonly NotAvailable[], metricOrder: readonly string[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const metric of metricOrder) {
    const mine = results.filter((r) => r.server === server && r.metric === metric);
    const labels = [...new Map(mine.map((r) => [r.row, r.kind])).entries()].sort((a, b) => KIND_ORDER[a[1]] - KIND_ORDER[b[1]]);
    const group = labels.map(([row, kind]) => summariseRow(server, metric, row, kind, mine.filter((r) => r.row === row)));
    const reference = group.find((r) => r.row === 'bucketfs') ?? group.find((r) => r.kind === 'bucketfs');
    for (const row of group) if (reference !== undefined && row !== reference) row.speedup = ratio(row.unit, reference, row);
    for (const row of group.filter((r) => r.kind === 'bucketfs')) row.targets = checkTargets(row, group);
    const missing = notAvailable.filter((n) => n.server === server && n.metrics.includes(metric));
    rows.push(...group, ...missing.map((n): SummaryRow => ({
      server, metric, row: n.row, kind: 'bucketfs', unit: 's', values: [], median: Number.NaN, min: Number.NaN, max: Number.NaN, targets: [], notAvailable: n.reason,
    })));
  }
  return rows;
}

const fixed = (n: number | undefined, digits: number) => (n === undefined || !Number.isFinite(n) ? '' : n.toFixed(digits));
const whole = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '' : Math.round(n).toLocaleString('en'));
const valueText = (unit: SummaryRow['unit'], n: number) => (unit === 'IOPS' ? whole(n) : fixed(n, n < 10 ? 2 : 1));
const mib = (bytes: number | undefined) => (bytes === undefined ? '' : whole(bytes / 2 ** 20));
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
/** Rounded down, so a missed target never prints as equal to it (0.997 → "0.99"). */
const floor2 = (n: number) => fixed(Math.floor(n * 100) / 100, 2);

function checkTargets(row: SummaryRow, group: readonly SummaryRow[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const target of TARGETS.filter((t) => t.metric === row.metric)) {
    if ('rate' in target) {
      const value = target.rate === 'IOPS' ? row.median : ((row.mibPerSecond ?? Number.NaN) * 2 ** 20) / 1e9;
      const met = value >= target.atLeast;
      checks.push({ met, text: `≥ ${target.atLeast.toLocaleString('en')} ${target.rate}: ${target.rate === 'IOPS' ? whole(Math.floor(value)) : floor2(value)} ${verdict(met)}` });
      continue;
    }
    const candidates = group.filter((r) => (target.versus === 'raw SDK' ? r.kind === 'raw' : r.row === target.versus));
    if (candidates.length === 0) continue;
    const versus = candidates.reduce((best, r) => betterOf(row.unit, best, r));
    const times = ratio(row.unit, row, versus);
    // Against a peer, what the raw SDK reaches on the same server: how much of the target the server leaves room for.
    const raw = target.versus === 'raw SDK' ? [] : group.filter((r) => r.kind === 'raw');
    const reference = raw.length === 0 ? '' : ` (raw SDK: ${floor2(ratio(row.unit, raw.reduce((best, r) => betterOf(row.unit, best, r)), versus))}×)`;
    checks.push({ met: times >= target.atLeast, text: `≥ ${target.atLeast}× ${target.versus}: ${floor2(times)}× ${verdict(times >= target.atLeast)}${reference}` });
  }
  if (row.rssBytes !== undefined) {
    const met = row.rssBytes <= RSS_LIMIT_BYTES;
    checks.push({ met, text: `RSS ≤ ${mib(RSS_LIMIT_BYTES)} MiB ${verdict(met)}` });
  }
  return checks;
}

export function formatSummary(rows: readonly SummaryRow[]): string {
  const header = ['workload', 'tool', 'n', 'median', 'min–max', 'unit', 'MiB/s', 'bucketfs speedup', 'peak RSS MiB', 'peak cache MiB', 'targets'];
  let previous = '';
  const lines = rows.map((r) => {
    const first = r.metric !== previous;
    previous = r.metric;
    if (r.notAvailable !== undefined) return [first ? r.metric : '', r.row, '0', 'n/a', '', '', '', '', '', '', `n/a (${r.notAvailable})`];
    return [
      first ? r.metric : '',
      r.row,
      String(r.values.length),
      valueText(r.unit, r.median),
      `${valueText(r.unit, r.min)}–${valueText(r.unit, r.max)}`,
      r.unit,
      whole(r.mibPerSecond),
      r.speedup === undefined ? '' : `${fixed(r.speedup, 2)}×`,
      mib(r.rssBytes),
      mib(r.cacheBytes),
      r.targets.map((t) => t.text).join('; '),
    ];
  });
  return formatColumns(header, lines, new Set([2, 3, 4, 6, 7, 8, 9]));
}

/** One line: how many target checks were met, and which were missed. */
export function formatTargetLine(rows: readonly SummaryRow[]): string {
  const checks = rows.flatMap((r) => r.targets.map((t) => ({ ...t, where: `${r.metric} / ${r.row}` })));
  const missed = checks.filter((c) => !c.met);
  const worstRss = rows.filter((r) => r.kind === 'bucketfs' && r.rssBytes !== undefined).reduce<SummaryRow | undefined>((w, r) => (w === undefined || (r.rssBytes ?? 0) > (w.rssBytes ?? 0) ? r : w), undefined);
  const rss = worstRss === undefined ? '' : `; bucketfs peak RSS at most ${mib(worstRss.rssBytes)} MiB (${worstRss.metric} / ${worstRss.row})`;
  return `targets: ${checks.length - missed.length} of ${checks.length} met${missed.length === 0 ? '' : `; missed: ${missed.map((c) => `${c.where} (${c.text})`).join('; ')}`}${rss}`;
}

export function formatRequests(rows: readonly SummaryRow[]): string {
  const counted = rows.filter((r) => r.requests !== undefined);
  const lines = counted.map((r) => [r.metric, r.row, Object.entries(r.requests ?? {}).map(([op, n]) => `${op} ${n}`).join(', ')]);
  return formatColumns(['workload', 'tool', 'S3 requests (median per run)'], lines, new Set());
}
