/**
 * Upload and download bandwidth limits for any backend: a token bucket per
 * direction. Download bodies pass through a throttling stream; upload bodies
 * are streamed out at the limit (Buffers included), parts wait for tokens.
 * Limits can change at any time; 0 or undefined means unlimited.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type {
  AppendResult,
  Backend,
  BandwidthLimits,
  Body,
  Capabilities,
  GetOptions,
  ObjectBody,
  PartResult,
  PutOptions,
  WriteResult,
} from '../contract.js';
import { ForwardingBackend } from './forwarding.js';

/** Tokens are bytes; the bucket holds at most 100 ms worth (min 64 KiB) so bursts stay short. */
export class TokenBucket {
  private tokens = 0;
  private last = performance.now();

  constructor(private rate: number) {}

  setRate(rate: number): void {
    this.rate = rate;
  }

  get unlimited(): boolean {
    return !(this.rate > 0);
  }

  private get capacity(): number {
    return Math.max(64 * 1024, this.rate / 10);
  }

  /** Resolves once `bytes` may pass. */
  async take(bytes: number): Promise<void> {
    let remaining = bytes;
    while (remaining > 0 && !this.unlimited) {
      const now = performance.now();
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      const grant = Math.min(remaining, this.tokens);
      this.tokens -= grant;
      remaining -= grant;
      if (remaining > 0) {
        const wait = (Math.min(remaining, this.capacity) / this.rate) * 1000;
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
      }
    }
  }
}

const SLICE = 64 * 1024;

class ThrottleStream extends Transform {
  constructor(private readonly bucket: TokenBucket) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bucket.take(chunk.length).then(() => done(null, chunk), done);
  }
}

/** A Buffer as a stream of 64 KiB slices, so a throttled upload is smooth. */
function sliced(buffer: Buffer): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= buffer.length) return void this.push(null);
      this.push(buffer.subarray(offset, offset + SLICE));
      offset += SLICE;
    },
  });
}

export class ThrottledBackend extends ForwardingBackend {
  private readonly up = new TokenBucket(0);
  private readonly down = new TokenBucket(0);

  constructor(inner: Backend, limits: BandwidthLimits = {}) {
    super(inner);
    this.setBandwidthLimits(limits);
  }

  override get capabilities(): Capabilities {
    return { ...this.inner.capabilities, bandwidthLimits: true };
  }

  override setBandwidthLimits(limits: BandwidthLimits): void {
    this.up.setRate(limits.upload ?? 0);
    this.down.setRate(limits.download ?? 0);
  }

  override async get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody> {
    const result = await super.get(bucket, key, options);
    if (this.down.unlimited) return result;
    const throttled = result.body.pipe(new ThrottleStream(this.down));
    result.body.on('error', (e) => throttled.destroy(e));
    return { ...result, body: throttled };
  }

  override put(bucket: string, key: string, body: Body, options: PutOptions = {}): Promise<WriteResult> {
    if (this.up.unlimited) return super.put(bucket, key, body, options);
    const size = Buffer.isBuffer(body) ? body.length : options.size;
    const source = Buffer.isBuffer(body) ? sliced(body) : body;
    const throttled = source.pipe(new ThrottleStream(this.up));
    source.on('error', (e) => throttled.destroy(e));
    return super.put(bucket, key, throttled, size === undefined ? options : { ...options, size });
  }

  override async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    await this.up.take(body.length);
    return super.uploadPart(bucket, key, uploadId, partNumber, body);
  }

  override async append(bucket: string, key: string, position: number, body: Buffer, options?: PutOptions): Promise<AppendResult> {
    await this.up.take(body.length);
    return super.append(bucket, key, position, body, options);
  }
}
