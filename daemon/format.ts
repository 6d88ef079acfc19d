/**
 * Output formatting shared by every command: sizes, dates, names safe for a
 * terminal, fixed-width table rows and JSON documents. Commands never format
 * these things themselves, so `ls`, `stat` and `cp` always agree.
 */
import type { Io } from './command.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 1536 → "1.5 KiB"; exact below 1 KiB. */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

const SIZE_SUFFIX: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
};

/** "8MiB", "8M", "5mb", "1048576" → bytes; throws on anything else (used as a yargs coerce). */
export function parseSize(text: string | number): number {
  if (typeof text === 'number' && Number.isSafeInteger(text) && text > 0) return text;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(text));
  const factor = match ? SIZE_SUFFIX[match[2]!.toLowerCase()] : undefined;
  const bytes = match && factor !== undefined ? Math.round(Number(match[1]) * factor) : NaN;
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) {
    throw new Error(`invalid size '${text}' (expected e.g. 8MiB, 16M or a number of bytes)`);
  }
  return bytes;
}

/** ISO 8601 to the second, UTC: stable in scripts, sortable as text. */
export function formatDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "1.2s" / "340ms". */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A key or path as it may be written to a terminal: names with control
 * characters (keys may hold any byte) are shown JSON-quoted so one entry stays
 * one line and cannot move the cursor. `--json` output carries the exact name.
 */
export function printable(name: string): string {
  return CONTROL.test(name) ? JSON.stringify(name) : name;
}

/** Escapes every control character, for single-line messages. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(new RegExp(CONTROL.source, 'g'), (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export type Align = 'left' | 'right';

/**
 * One table row with fixed minimum column widths (the last column is never
 * padded), so rows can be streamed as a listing arrives and still line up.
 */
export function tableRow(cells: readonly string[], widths: readonly number[], align: readonly Align[] = []): string {
  return cells
    .map((cell, i) => {
      if (i === cells.length - 1) return cell;
      const width = widths[i] ?? 0;
      return align[i] === 'right' ? cell.padStart(width) : cell.padEnd(width);
    })
    .join('  ');
}

/**
 * Label/value lines (`stat`), labels padded to one width. A value given as
 * a list of [name, value] pairs prints as indented `name = value` lines under
 * its label, or "(none)".
 */
export function fieldLines(fields: readonly (readonly [string, string | readonly (readonly [string, string])[]])[]): string[] {
  const width = Math.max(0, ...fields.map(([label]) => label.length + 1));
  return fields.flatMap(([label, value]) => {
    const head = `${label}:`.padEnd(width);
    if (typeof value === 'string') return [`${head} ${value}`];
    if (value.length === 0) return [`${head} (none)`];
    return [head.trimEnd(), ...value.map(([name, v]) => `  ${name} = ${v}`)];
  });
}

export function writeLines(io: Io, lines: readonly string[]): void {
  if (lines.length > 0) io.stdout.write(`${lines.join('\n')}\n`);
}

/** `--json` output: exactly one JSON document on stdout. */
export function writeJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
