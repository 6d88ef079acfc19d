/**
 * What every benchmark program shares: the load-average line, the per-round
 * rotation that interleaves clients, the results file under bench-results/,
 * and the entry point (refuses to run as a tap test; a server that cannot
 * start here is reported with its SKIPPED line and exit status 2).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ServerSkipped } from './server.js';

export const loadLine = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** Round r runs the items in order starting at r, so none is always first or last. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Writes `record` to bench-results/<kind>-<start time>.json (in the working directory) and returns the path. */
export async function writeResults(kind: string, startedAt: Date, record: unknown): Promise<string> {
  const dir = join(process.cwd(), 'bench-results');
  const file = join(dir, `${kind}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(dir, { recursive: true });
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

/**
 * Runs a benchmark's main function as a program. tap's default file pattern
 * takes every .ts under test/, and a benchmark of many minutes is no test.
 */
export function benchMain(script: string, main: () => Promise<void>): void {
  if (process.env['TAP'] === '1') {
    console.log(`1..0 # SKIP benchmark: run it with npm run ${script}`);
    return;
  }
  main().catch((e: unknown) => {
    if (e instanceof ServerSkipped) console.error(e.message);
    else console.error(`${script} failed:`, e);
    process.exitCode = e instanceof ServerSkipped ? 2 : 1;
  });
}
