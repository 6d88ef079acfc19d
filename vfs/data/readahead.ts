/**
 * Readahead of one file handle: detects sequential reads and says which
 * chunks to fetch ahead of the reader. The window starts at one chunk and
 * doubles each time the reader enters a new chunk, up to `maxWindow` chunks
 * (the chunk store's memory share), so a long sequential read keeps
 * several chunks on their way while a short one fetches little it does not
 * use. Once ahead, the window is topped up in batches of half its size: the
 * chunk store fetches consecutive chunks with one GET, and a few long GETs
 * cost the server less than many chunk-sized ones.
 * A read that does not continue where the previous one ended (a seek)
 * resets the window: random access fetches only the chunks it touches.
 *
 * "Continues" allows some slack once a stream is established: the kernel
 * sends a handle's 128 KiB reads concurrently and they may reach us slightly
 * out of order.
 */

export class Readahead {
  /** Where the next sequential read starts. */
  private next = 0;
  /** Chunks to keep requested ahead of the one being read; 0 while not sequential. */
  private window = 0;
  /** The chunk the reader is in. */
  private current = -1;
  /** The last chunk requested ahead. */
  private ahead = -1;
  private readonly slack: number;

  constructor(private readonly chunkSize: number, private readonly maxWindow: number) {
    this.slack = Math.min(256 * 1024, Math.floor(chunkSize / 4));
  }

  /** Notes a read of [position, position + length) of a file of `size` bytes; returns the chunk indexes to fetch ahead. */
  plan(position: number, length: number, size: number): number[] {
    const end = Math.min(position + length, size);
    // Slack only once a stream is established: a first read must start exactly where the last one ended.
    const slack = this.window > 0 ? this.slack : 0;
    const sequential = position >= this.next - slack && position <= this.next + slack;
    this.next = sequential ? Math.max(this.next, end) : end;
    if (!sequential || end <= position) {
      this.window = 0;
      this.ahead = -1;
      this.current = -1;
      return [];
    }
    const chunk = Math.floor((end - 1) / this.chunkSize);
    if (this.window === 0) this.window = 1;
    else if (chunk > this.current) this.window = Math.min(this.window * 2, this.maxWindow);
    this.current = Math.max(this.current, chunk);
    const final = Math.floor((size - 1) / this.chunkSize);
    const last = Math.min(this.current + this.window, final);
    const from = Math.max(this.current + 1, this.ahead + 1);
    // Top up in batches of half the window (fewer, longer GETs) unless the reader caught up or the end is in reach.
    if (from > this.current + 1 && last < final && last - from + 1 < Math.max(1, Math.floor(this.window / 2))) return [];
    const wanted: number[] = [];
    for (let index = from; index <= last; index++) wanted.push(index);
    this.ahead = Math.max(this.ahead, last);
    return wanted;
  }
}
