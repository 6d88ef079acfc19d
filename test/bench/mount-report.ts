/**
 * The mount benchmark's results: medians and ranges of seconds per workload
 * and tool, bucketfs's speedup over each peer (peer seconds / bucketfs
 * seconds, so > 1 means bucketfs is faster; against the raw SDK, the share of
 * the SDK's speed bucketfs reaches), the targets, and the text table.
 */
import { formatColumns, median } from './stats.js';
import { METRICS } from './mount-workloads.js';

export type RowKind = 'bucketfs' | 'peer' | 'raw';

export interface Result {
  round: number;
  metric: string;
  row: string;
  kind: RowKind;
  seconds: number;
  requests?: Record<string, number>;
}

export interface Failure {
  round: number;
  workload: string;
  row: string;
  error: string;
}

export interface Target {
  metric: string;
  /** A tool name, or 'raw SDK' for the fastest raw SDK row of the metric. */
  versus: string;
  /** Minimum bucketfs speedup (peer seconds / bucketfs seconds). */
  atLeast: number;
}

export const TARGETS: readonly Target[] = [
  { metric: METRICS.lsCold, versus: 's3fs', atLeast: 10 },
  { metric: METRICS.stat, versus: 's3fs', atLeast: 10 },
  { metric: METRICS.rename, versus: 's3fs', atLeast: 5 },
  { metric: METRICS.write, versus: 'raw SDK', atLeast: 0.8 },
  { metric: METRICS.read, versus: 'raw SDK', atLeast: 0.8 },
];

export interface SummaryRow {
  metric: string;
  row: string;
  kind: RowKind;
  seconds: number[];
  median: number;
  min: number;
  max: number;
  /** For the large-file workloads. */
  mibPerSecond?: number;
  /** This row's median / bucketfs's median; absent on bucketfs's own row. */
  speedup?: number;
  target?: { atLeast: number; met: boolean };
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

/** One summary row per (metric, row), metrics in METRICS order, bucketfs first, then peers, then raw SDK rows. */
export function summariseResults(results: readonly Result[], largeBytes: number): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const metric of Object.values(METRICS)) {
    const mine = results.filter((r) => r.metric === metric);
    const labels = [...new Map(mine.map((r) => [r.row, r.kind])).entries()].sort((a, b) => KIND_ORDER[a[1]] - KIND_ORDER[b[1]]);
    const group: SummaryRow[] = labels.map(([row, kind]) => {
      const samples = mine.filter((r) => r.row === row);
      const seconds = samples.map((r) => r.seconds);
      const summary: SummaryRow = { metric, row, kind, seconds, median: median(seconds), min: Math.min(...seconds), max: Math.max(...seconds) };
      if (metric === METRICS.write || metric === METRICS.read) summary.mibPerSecond = largeBytes / 2 ** 20 / summary.median;
      const requests = medianRequests(samples);
      if (requests !== undefined) summary.requests = requests;
      return summary;
    });
    const bucketfs = group.find((r) => r.kind === 'bucketfs');
    for (const row of group) if (bucketfs !== undefined && row !== bucketfs) row.speedup = row.median / bucketfs.median;
    applyTargets(metric, group);
    rows.push(...group);
  }
  return rows;
}

function applyTargets(metric: string, group: SummaryRow[]): void {
  for (const target of TARGETS.filter((t) => t.metric === metric)) {
    const candidates = group.filter((r) => (target.versus === 'raw SDK' ? r.kind === 'raw' : r.row === target.versus));
    const versus = candidates.reduce<SummaryRow | undefined>((best, r) => (best === undefined || r.median < best.median ? r : best), undefined);
    if (versus?.speedup !== undefined) versus.target = { atLeast: target.atLeast, met: versus.speedup >= target.atLeast };
  }
}

const fixed = (n: number | undefined, digits: number) => (n === undefined || !Number.isFinite(n) ? '' : n.toFixed(digits));
const secondsText = (n: number) => fixed(n, n < 10 ? 2 : 1);

export function formatSummary(rows: readonly SummaryRow[]): string {
  const header = ['workload', 'tool', 'median s', 'min–max s', 'MiB/s', 'bucketfs speedup', 'target'];
  let previous = '';
  const lines = rows.map((r) => {
    const first = r.metric !== previous;
    previous = r.metric;
    return [
      first ? r.metric : '',
      r.row,
      secondsText(r.median),
      `${secondsText(r.min)}–${secondsText(r.max)}`,
      fixed(r.mibPerSecond, 0),
      r.speedup === undefined ? '' : `${fixed(r.speedup, 2)}×`,
      r.target === undefined ? '' : `≥ ${r.target.atLeast}× ${r.target.met ? 'met' : 'MISSED'}`,
    ];
  });
  return formatColumns(header, lines, new Set([2, 3, 4, 5]));
}

export function formatRequests(rows: readonly SummaryRow[]): string {
  const counted = rows.filter((r) => r.requests !== undefined);
  const lines = counted.map((r) => [r.metric, r.row, Object.entries(r.requests ?? {}).map(([op, n]) => `${op} ${n}`).join(', ')]);
  return formatColumns(['workload', 'tool', 'S3 requests (median per run)'], lines, new Set());
}
