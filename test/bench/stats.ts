/**
 * Summaries of benchmark samples and their presentation: medians, ranges,
 * ratios against a baseline row, fixed-width text tables. Knows nothing of
 * storage. A `Row` holds throughputs ("higher is better"); `median` and
 * `formatColumns` serve any numbers (the mount benchmark's are seconds).
 */

export interface Sample {
  /** Throughput of one run: MiB/s or ops/s. */
  value: number;
  seconds: number;
  /** CPU time of the benchmark process (every thread) during the run; the server's is not included. */
  cpuSeconds: number;
}

export interface Row {
  workload: string;
  client: string;
  unit: 'MiB/s' | 'ops/s';
  samples: Sample[];
  median: number;
  min: number;
  max: number;
  /**
   * Median client CPU per unit of work: CPU-seconds per GiB, or CPU-milliseconds
   * per operation. Steadier than throughput on a busy machine, so it shows where cost goes.
   */
  clientCpu: number;
  /** median / baseline median; undefined for baselines and reference rows. */
  ratio?: number;
  /** What this row is compared with, or why it is not. */
  note: string;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarise(workload: string, client: string, unit: Row['unit'], samples: Sample[]): Row {
  const values = samples.map((s) => s.value);
  // value × seconds is the amount of work: MiB or operations.
  const scale = unit === 'MiB/s' ? 1024 : 1000;
  const cpu = samples.map((s) => (s.cpuSeconds / (s.value * s.seconds)) * scale);
  return {
    workload, client, unit, samples,
    median: median(values), min: Math.min(...values), max: Math.max(...values), clientCpu: median(cpu), note: '',
  };
}

const cpuUnit = (unit: Row['unit']) => (unit === 'MiB/s' ? 's/GiB' : 'ms/op');

const fmt = (n: number | undefined, digits = 0) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

/** A fixed-width text table: header, a rule, one line per row; columns in `numeric` are right-aligned. */
export function formatColumns(header: readonly string[], lines: readonly string[][], numeric: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const pad = (cells: readonly string[]) =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [pad(header), pad(widths.map((w) => '-'.repeat(w))), ...lines.map(pad)].join('\n');
}

/** The driver benchmark's table, one line per row, workloads grouped in the order given. */
export function formatTable(rows: readonly Row[], target: number): string {
  const header = ['workload', 'client', 'median', 'min–max', 'unit', 'client CPU', 'ratio', 'vs'];
  const lines = rows.map((r) => [
    r.workload,
    r.client,
    fmt(r.median),
    `${fmt(r.min)}–${fmt(r.max)}`,
    r.unit,
    `${fmt(r.clientCpu, 2)} ${cpuUnit(r.unit)}`,
    r.ratio === undefined ? '' : `${fmt(r.ratio, 2)}${r.ratio < target ? ' !' : ''}`,
    r.note,
  ]);
  return formatColumns(header, lines, new Set([2, 3, 5]));
}
