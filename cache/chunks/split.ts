/**
 * Cutting one ranged GET that spans several chunks into chunk buffers as
 * its bytes arrive, so the reader of the first chunk does not wait for the
 * whole range. One request for a run of chunks costs the server (and the
 * daemon) far less than one per chunk: on loopback RGW a single stream
 * outran several chunk-sized GETs in flight.
 */

/**
 * A run's stream: pieces of any size, in order. A stream that can `fill` a
 * buffer (the s3 backend's plain-HTTP bodies) is read that way instead: its
 * bytes land straight in the chunk buffers, never copied on the JS thread.
 */
export type ChunkStream = AsyncIterable<Buffer> & {
  fill?: (into: Buffer) => Promise<number>;
  destroy?: (error?: Error) => unknown;
};

/** Fills `into` completely from `body`; the count of bytes it got (less only at the end of the body). */
async function fillFully(fill: (into: Buffer) => Promise<number>, into: Buffer): Promise<number> {
  let filled = 0;
  while (filled < into.length) {
    const n = await fill(into.subarray(filled));
    if (n === 0) break;
    filled += n;
  }
  return filled;
}

/**
 * Reads exactly `into.length` bytes of `body` into `into` (the whole body:
 * throws if it ends early or runs long).
 */
export async function readExactly(body: ChunkStream, into: Buffer, what: string): Promise<void> {
  const fill = body.fill?.bind(body);
  let at = 0;
  if (fill !== undefined) {
    try {
      at = await fillFully(fill, into);
      if (at === into.length && (await fill(Buffer.alloc(1))) !== 0) throw new Error(`long read of ${what}`);
    } finally {
      body.destroy?.();
    }
  } else {
    for await (const piece of body) {
      if (at + piece.length > into.length) throw new Error(`long read of ${what}`);
      piece.copy(into, at);
      at += piece.length;
    }
  }
  if (at !== into.length) throw new Error(`short read of ${what}: got ${at} of ${into.length} bytes`);
}

/** Where a split's chunk buffers come from, and where one goes back when the split fails before handing it on. */
export interface ChunkBuffers {
  take(length: number): Buffer | Promise<Buffer>;
  release?(buffer: Buffer): void;
}

/**
 * Reads `body` into buffers from `buffers.take` (one per entry of `lengths`,
 * of exactly that length; the body is not read on while a take waits) and
 * calls `onChunk(i, buffer)` as each is complete; the body is not read on
 * until a promise `onChunk` returns settles, which is how a caller slows the
 * server down (TCP flow control) when it cannot keep up. Throws when the body
 * ends early or runs long; the buffer being filled then goes to `release`.
 */
export async function splitStream(
  body: ChunkStream,
  lengths: number[],
  buffers: ChunkBuffers,
  onChunk: (i: number, chunk: Buffer) => void | Promise<void>,
): Promise<void> {
  if (body.fill !== undefined) return fillChunks(body, body.fill.bind(body), lengths, buffers, onChunk);
  let i = 0;
  let chunk: Buffer | undefined = await buffers.take(lengths[0] ?? 0);
  let filled = 0;
  try {
    for await (const piece of body) {
      let at = 0;
      while (at < piece.length) {
        if (chunk === undefined) throw new Error(`the body is longer than the ${lengths.length} chunks asked for`);
        const n = Math.min(piece.length - at, chunk.length - filled);
        piece.copy(chunk, filled, at, at + n);
        filled += n;
        at += n;
        if (filled === chunk.length) {
          const complete: Buffer = chunk;
          chunk = undefined;
          await onChunk(i, complete);
          i++;
          if (i < lengths.length) chunk = await buffers.take(lengths[i] as number);
          filled = 0;
        }
      }
    }
    if (i < lengths.length) throw new Error(`the body ended in chunk ${i} of ${lengths.length} (${filled} of ${chunk?.length ?? 0} bytes)`);
  } catch (error) {
    if (chunk !== undefined) buffers.release?.(chunk);
    throw error;
  }
}

/** splitStream for a body that fills buffers: each chunk buffer is filled in place. */
async function fillChunks(
  body: ChunkStream,
  fill: (into: Buffer) => Promise<number>,
  lengths: number[],
  buffers: ChunkBuffers,
  onChunk: (i: number, chunk: Buffer) => void | Promise<void>,
): Promise<void> {
  try {
    for (const [i, length] of lengths.entries()) {
      const chunk = await buffers.take(length);
      let filled: number;
      try {
        filled = await fillFully(fill, chunk);
      } catch (error) {
        buffers.release?.(chunk);
        throw error;
      }
      if (filled < length) {
        buffers.release?.(chunk);
        throw new Error(`the body ended in chunk ${i} of ${lengths.length} (${filled} of ${length} bytes)`);
      }
      await onChunk(i, chunk);
    }
    if ((await fill(Buffer.alloc(1))) !== 0) throw new Error(`the body is longer than the ${lengths.length} chunks asked for`);
  } finally {
    body.destroy?.();
  }
}
