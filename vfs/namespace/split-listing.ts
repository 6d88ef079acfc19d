/**
 * One directory listing fetched as several key ranges side by side, handed
 * out as the pages of the sequential listing would be: the same entries, in
 * the same order, none missed or doubled, whatever the keys.
 *
 * S3 lists in pages of 1,000 linked by continuation tokens, so a listing of
 * N entries is N/1000 round trips one after the other. Once the first page
 * shows the directory is bigger, the rest of the key space (after the
 * page's last entry) is cut at boundaries guessed from the names that page
 * holds (names like f00000…f00999 continue as f01…, f02…), and every range
 * (lo, hi] is listed from StartAfter=lo, in pages, until it passes hi. A
 * poor guess costs speed (one range lists the most, in pages), never
 * correctness: the ranges cover everything and an entry belongs to exactly
 * one of them by its position (an object by its key, a common prefix by the
 * prefix itself). A listing resumed inside a common prefix shows the prefix
 * again; its position is then at or before lo, so the range drops it.
 *
 * After a full page that ends inside its range, a range first asks for one
 * entry (when the guess was right the next entry lies beyond the range, and
 * a full page would be mostly thrown away), then for full pages.
 *
 * Requests: the first page, then per range (at most 10, 8 in flight) one
 * request per page it lists plus at most one 1-entry probe: at most
 * ⌈N/1000⌉ + 20 for N entries; ranges guessed past the end of the directory
 * cost one small request each. A range fetches at most 4 pages ahead of the
 * reader (memory stays bounded for any directory). Backends whose tokens
 * cannot resume after an arbitrary key (Container.tokenAfter) are listed
 * sequentially, the next page requested as soon as one arrives.
 */
import pLimit from 'p-limit';
import type { ListPage } from '../../drivers/contract.js';
import type { Container } from '../../drivers/storage.js';
import { compareNames } from '../../cache/metadata/paths.js';

export interface SplitListingOptions {
  /** Entries per page (S3's most: 1,000). */
  pageSize?: number;
  /** List requests in flight at once. */
  concurrency?: number;
  /** The most ranges the rest of the listing is cut into. */
  maxRanges?: number;
  /** Boundaries to use instead of guessing them (tests: every kind of cut must give the same listing). */
  boundaries?: (last: string) => string[];
}

const DEFAULTS = { pageSize: 1000, concurrency: 8, maxRanges: 10 };
/** Pages a range fetches ahead of the reader before it waits (bounds memory on a huge directory). */
const MAX_AHEAD = 4;
/** Character positions are tried, right to left, until they give at least this many boundaries. */
const MIN_BOUNDARIES = 8;

/** Character classes names count in, in byte order; a boundary steps through one. */
const DIGITS = '0123456789';
const CLASSES = [DIGITS, '0123456789abcdef', 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  `${DIGITS}ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz`];
/** Printable ASCII: for any other character (punctuation, blanks). */
const PRINTABLE = Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)).join('');

/** Where an entry sorts in the listing: an object by its key, a common prefix by itself. */
function positions(page: ListPage): string[] {
  return [...page.objects.map((o) => o.key), ...page.prefixes];
}

function lastPosition(page: ListPage): string | undefined {
  let last: string | undefined;
  for (const p of positions(page)) if (last === undefined || compareNames(p, last) > 0) last = p;
  return last;
}

function firstPosition(page: ListPage): string | undefined {
  let first: string | undefined;
  for (const p of positions(page)) if (first === undefined || compareNames(p, first) < 0) first = p;
  return first;
}

function commonLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** The smallest class holding every character of `chars` (PRINTABLE if none does). */
function classOf(chars: string): string {
  return CLASSES.find((c) => [...chars].every((ch) => c.includes(ch))) ?? PRINTABLE;
}

/**
 * Boundaries after `last` (the first page's last entry), ascending: from
 * the rightmost position where the first page's names vary, leftwards, the
 * successors of `last`'s character there within its class ("f00000" …
 * "f00999" → f01 … f09, then g, h… if more are wanted).
 * Only positions past `prefix` are used, so every boundary stays inside the
 * directory. Hostile or random names give useless boundaries, not wrong ones.
 */
export function guessBoundaries(first: string, last: string, prefix: string, max: number): string[] {
  const varying = Math.max(commonLength(first, last), prefix.length);
  const seen = new Set([first[varying], last[varying]].filter((c): c is string => c !== undefined).join(''));
  const bounds: string[] = [];
  for (let q = Math.min(varying, last.length - 1); q >= prefix.length && bounds.length < MIN_BOUNDARIES; q--) {
    const ch = last[q]!;
    if (ch.charCodeAt(0) > 0x7e || ch === '/') continue;
    const seenClass = classOf([...seen].join(''));
    const cls = seenClass.includes(ch) ? seenClass : classOf(ch);
    const head = last.slice(0, q);
    const level: string[] = [];
    // Never the delimiter: a boundary inside a common prefix would be correct, but the prefix would be listed twice.
    for (const c of cls) if (c > ch && c !== '/') level.push(head + c);
    bounds.push(...level);
  }
  return ascendingAfter(bounds, last).slice(0, max);
}

interface RangeSpec {
  /** Entries at or before lo belong to an earlier range. */
  lo: string;
  /** Entries after hi belong to a later range; undefined: the last range. */
  hi: string | undefined;
  token: string;
  /** The range starts right after a full page: ask for one entry first. */
  probeFirst: boolean;
}

/** One range's fetch loop and its pages not yet read. */
class RangeFetch {
  private readonly pages: ListPage[] = [];
  private finished = false;
  private error: unknown;
  private wakeReader: (() => void) | undefined;
  private wakeFetcher: (() => void) | undefined;

  constructor(private readonly spec: RangeSpec, private readonly fetch: (token: string, maxKeys: number) => Promise<ListPage>,
    private readonly pageSize: number, private readonly stopped: () => boolean) {}

  async run(): Promise<void> {
    try {
      await this.loop();
    } catch (e) {
      this.error = e;
    }
    this.finished = true;
    this.wakeReader?.();
  }

  /** The next page of this range, or undefined when the range is done. */
  async next(): Promise<ListPage | undefined> {
    while (this.pages.length === 0 && !this.finished) await new Promise<void>((resolve) => (this.wakeReader = resolve));
    this.wakeReader = undefined;
    const page = this.pages.shift();
    this.wakeFetcher?.();
    if (page === undefined && this.error !== undefined) throw this.error;
    return page;
  }

  /** Lets a paused fetch loop see that the listing was abandoned. */
  release(): void {
    this.wakeFetcher?.();
  }

  private async loop(): Promise<void> {
    const { lo, hi } = this.spec;
    let token: string | undefined = this.spec.token;
    let probe = this.spec.probeFirst;
    let probed = probe;
    while (token !== undefined && !this.stopped()) {
      while (this.pages.length >= MAX_AHEAD && !this.stopped()) await new Promise<void>((resolve) => (this.wakeFetcher = resolve));
      this.wakeFetcher = undefined;
      if (this.stopped()) return;
      const maxKeys = probe ? 1 : this.pageSize;
      const page = await this.fetch(token, maxKeys);
      const kept = keepWithin(page, lo, hi);
      const passed = hi !== undefined && positions(page).some((p) => compareNames(p, hi) > 0);
      if (kept.objects.length + kept.prefixes.length > 0) this.push(kept);
      if (passed || page.nextToken === undefined) return;
      const end = lastPosition(page);
      if (hi !== undefined && end !== undefined && compareNames(end, hi) >= 0) return;
      token = page.nextToken;
      // A full page that stops inside the range: the next entry may well lie beyond it.
      probe = !probe && !probed && hi !== undefined;
      if (probe) probed = true;
    }
  }

  private push(page: ListPage): void {
    this.pages.push(page);
    this.wakeReader?.();
  }
}

/** `bounds` above `last`, ascending, without repeats. */
function ascendingAfter(bounds: string[], last: string): string[] {
  const sorted = bounds.filter((b) => compareNames(b, last) > 0).sort(compareNames);
  return sorted.filter((b, i) => i === 0 || b !== sorted[i - 1]);
}

/** The entries of `page` positioned in (lo, hi]. */
function keepWithin(page: ListPage, lo: string, hi: string | undefined): ListPage {
  const inside = (p: string) => compareNames(p, lo) > 0 && (hi === undefined || compareNames(p, hi) <= 0);
  return { objects: page.objects.filter((o) => inside(o.key)), prefixes: page.prefixes.filter(inside) };
}

/**
 * The pages of listing `prefix` with delimiter '/', in order (tokens
 * stripped: the caller only reads). Stopping early (return from a for-await
 * loop) abandons the requests not yet made.
 */
export async function* listSplit(container: Container, prefix: string, options: SplitListingOptions = {}): AsyncGenerator<ListPage> {
  const { pageSize, concurrency, maxRanges, boundaries } = { ...DEFAULTS, ...options };
  const fetch = (token: string | undefined, maxKeys: number) =>
    container.listPage({ prefix, delimiter: '/', maxKeys, ...(token !== undefined && { token }) });
  const first = await fetch(undefined, pageSize);
  yield { objects: first.objects, prefixes: first.prefixes };
  const last = lastPosition(first);
  if (first.nextToken === undefined || last === undefined) return;
  const guess = boundaries ?? ((end: string) => guessBoundaries(firstPosition(first) ?? end, end, prefix, maxRanges - 1));
  const bounds = container.tokenAfter(last) === undefined ? [] : ascendingAfter(guess(last), last);
  const specs: RangeSpec[] = [{ lo: last, hi: bounds[0], token: first.nextToken, probeFirst: bounds.length > 0 }];
  bounds.forEach((lo, i) => specs.push({ lo, hi: bounds[i + 1], token: container.tokenAfter(lo)!, probeFirst: false }));
  let stopped = false;
  const limit = pLimit(concurrency);
  const ranges = specs.map((spec) => new RangeFetch(spec, fetch, pageSize, () => stopped));
  // Ranges start in order, so the one being read is always among those running.
  const running = ranges.map((range) => limit(() => range.run()));
  try {
    for (const range of ranges) {
      for (let page = await range.next(); page !== undefined; page = await range.next()) yield page;
    }
  } finally {
    stopped = true;
    limit.clearQueue();
    for (const range of ranges) range.release();
    void Promise.allSettled(running);
  }
}

/**
 * The pages of listing `prefix` with delimiter '/' one after the other (the
 * next requested as soon as one arrives), at most `maxPages` of them: for a
 * listing that may stop early, so that no request is wasted. The last page
 * keeps its token when the listing was cut there.
 */
export async function* listSequential(container: Container, prefix: string, pageSize: number, maxPages: number): AsyncGenerator<ListPage> {
  const request = (token?: string): Promise<ListPage> =>
    container.listPage({ prefix, delimiter: '/', maxKeys: pageSize, ...(token !== undefined && { token }) });
  let next: Promise<ListPage> | undefined = request();
  for (let pages = 1; next !== undefined; pages++) {
    const page: ListPage = await next;
    next = page.nextToken !== undefined && pages < maxPages ? request(page.nextToken) : undefined;
    // Awaited on the next turn; a failure while this page is read must not go unhandled meanwhile.
    next?.catch(() => undefined);
    yield next === undefined ? page : { objects: page.objects, prefixes: page.prefixes };
  }
}
