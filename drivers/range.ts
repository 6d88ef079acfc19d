/**
 * The one byte-range type of bucketfs: half-open [start, end). `end` omitted
 * means "to the end of the object". Validated here once; each backend converts
 * at its own edge (HTTP `Range` is inclusive, minio-js takes offset+length
 * where length 0 means "to the end", ali-oss takes an inclusive header).
 */
import { OtherError } from './errors.js';

export interface ByteRange {
  readonly start: number;
  /** Exclusive. Omitted: to the end of the object. */
  readonly end?: number;
}

/** Throws a clear error for a malformed range (negative, fractional, end before start). */
export function checkRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new OtherError(`invalid byte range: start ${String(start)} must be a non-negative integer`, {
      reason: 'InvalidRange',
    });
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new OtherError(`invalid byte range: end ${String(end)} must be an integer >= start ${start}`, {
      reason: 'InvalidRange',
    });
  }
}

/** True when the range selects no bytes at all (start === end). */
export function isEmptyRange(range: ByteRange): boolean {
  return range.end !== undefined && range.end === range.start;
}

/**
 * Clamps `range` to an object of `size` bytes and returns the concrete
 * [start, end). A start beyond the end is an error; a start exactly at the
 * end selects nothing (a read at EOF), as POSIX read does.
 */
export function resolveRange(range: ByteRange | undefined, size: number, what = 'object'): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size };
  checkRange(range);
  if (range.start > size) {
    throw new OtherError(`range start ${range.start} is beyond the end of ${what} (size ${size})`, {
      reason: 'InvalidRange',
    });
  }
  const end = range.end === undefined ? size : Math.min(range.end, size);
  return { start: range.start, end };
}

/** The inclusive HTTP `Range` header value, or undefined for "whole object". */
export function httpRangeHeader(range: ByteRange | undefined): string | undefined {
  if (range === undefined) return undefined;
  checkRange(range);
  if (range.end === undefined) return range.start === 0 ? undefined : `bytes=${range.start}-`;
  if (range.end === range.start) throw new Error('an empty range has no HTTP form; handle it before the request');
  return `bytes=${range.start}-${range.end - 1}`;
}

/** Parses `bytes a-b/total` (Content-Range) into a half-open range and total. */
export function parseContentRange(value: string | undefined): { start: number; end: number; total: number | undefined } | undefined {
  if (!value) return undefined;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]) + 1, total: m[3] === '*' ? undefined : Number(m[3]) };
}

export function formatRange(range: ByteRange | undefined): string {
  if (range === undefined) return '[0, end)';
  return `[${range.start}, ${range.end === undefined ? 'end' : range.end})`;
}
