/**
 * A set of byte offsets kept as sorted, disjoint, non-adjacent half-open
 * ranges [start, end). A staging file uses it to know which bytes it holds
 * locally; everything else still comes from the object it was opened on.
 * Pure data structure: no I/O, no knowledge of files or chunks.
 */

export interface Span {
  start: number;
  end: number;
}

export class RangeSet {
  /** Sorted by start; no two spans overlap or touch. */
  private spans: Span[] = [];

  /** The number of spans (a fragmentation measure for logs and tests). */
  get count(): number {
    return this.spans.length;
  }

  /** Index of the first span whose end is at or after `offset` (binary search). */
  private firstEndingAtOrAfter(offset: number): number {
    let low = 0;
    let high = this.spans.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.spans[mid] as Span).end < offset) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Adds [start, end), merging with every span it overlaps or touches. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const first = this.firstEndingAtOrAfter(start);
    let last = first;
    let merged: Span = { start, end };
    while (last < this.spans.length && (this.spans[last] as Span).start <= end) {
      const span = this.spans[last] as Span;
      merged = { start: Math.min(merged.start, span.start), end: Math.max(merged.end, span.end) };
      last++;
    }
    this.spans.splice(first, last - first, merged);
  }

  /** Drops every offset at or beyond `size`. */
  truncate(size: number): void {
    const keep = this.spans.filter((span) => span.start < size);
    const tail = keep[keep.length - 1];
    if (tail !== undefined && tail.end > size) keep[keep.length - 1] = { start: tail.start, end: size };
    this.spans = keep;
  }

  /** True when every offset of [start, end) is in the set. */
  covers(start: number, end: number): boolean {
    return this.gaps(start, end).length === 0;
  }

  /** The parts of [start, end) that are NOT in the set, in order. */
  gaps(start: number, end: number): Span[] {
    const missing: Span[] = [];
    let at = start;
    for (let i = this.firstEndingAtOrAfter(start); i < this.spans.length && at < end; i++) {
      const span = this.spans[i] as Span;
      if (span.start >= end) break;
      if (span.start > at) missing.push({ start: at, end: span.start });
      at = Math.max(at, span.end);
    }
    if (at < end) missing.push({ start: at, end });
    return missing;
  }

  /** True when some offset of [start, end) is in the set. */
  intersects(start: number, end: number): boolean {
    const span = this.spans[this.firstEndingAtOrAfter(start + 1)];
    return end > start && span !== undefined && span.start < end;
  }

  /** How many offsets the set holds. */
  get bytes(): number {
    return this.spans.reduce((n, span) => n + span.end - span.start, 0);
  }

  /** The smallest offset in the set, or undefined when empty. */
  get first(): number | undefined {
    return this.spans[0]?.start;
  }

  clear(): void {
    this.spans = [];
  }
}
