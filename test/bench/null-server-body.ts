/**
 * The aws-chunked body framing the AWS SDK may use for streamed uploads
 * (`x-amz-content-sha256: STREAMING-…`): `<hex size>[;chunk-signature=…]\r\n
 * <bytes>\r\n` repeated, a zero-size chunk, then optional trailer lines and
 * an empty line. The null server only needs the payload bytes (to hash
 * them); signatures and trailers are skipped, never checked.
 */
export class AwsChunkedDecoder {
  /** Bytes of an incomplete header line. */
  private header = Buffer.alloc(0);
  /** Payload bytes still due in the current chunk. */
  private remaining = 0;
  /** Bytes of the CRLF after a chunk's payload still to skip. */
  private crlf = 0;
  private done = false;

  constructor(private readonly payload: (data: Buffer) => void) {}

  push(data: Buffer): void {
    let at = 0;
    while (at < data.length && !this.done) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, data.length - at);
        this.payload(data.subarray(at, at + n));
        this.remaining -= n;
        at += n;
        if (this.remaining === 0) this.crlf = 2;
        continue;
      }
      if (this.crlf > 0) {
        const n = Math.min(this.crlf, data.length - at);
        this.crlf -= n;
        at += n;
        continue;
      }
      at = this.readHeader(data, at);
    }
  }

  /** Reads (part of) a chunk header line from `at`; returns where the payload starts (or data.length). */
  private readHeader(data: Buffer, at: number): number {
    // A CRLF split across two pushes: the CR ends the saved header, the LF starts this data.
    const split = this.header.at(-1) === 0x0d && data[at] === 0x0a;
    const end = split ? at - 1 : data.indexOf('\r\n', at);
    if (!split && end < 0) {
      this.header = Buffer.concat([this.header, data.subarray(at)]);
      return data.length;
    }
    const line = Buffer.concat([this.header, data.subarray(at, Math.max(at, end))]).toString('latin1').replace(/\r$/, '');
    this.header = Buffer.alloc(0);
    const size = parseInt(line.split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) throw new Error(`aws-chunked body: bad chunk header '${line.slice(0, 80)}'`);
    // The zero-size chunk ends the payload; trailers and the final empty line follow and are ignored.
    if (size === 0) this.done = true;
    this.remaining = size;
    return end + 2;
  }
}
