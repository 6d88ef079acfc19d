/**
 * Cutting one ranged GET that spans several chunks into chunk buffers as
 * its bytes arrive, so the reader of the first chunk does not wait for the
 * whole range. One request for a run of chunks costs the server (and the
 * daemon) far less than one per chunk: on loopback RGW a single stream
 * outran several chunk-sized GETs in flight.
 */

/** A run's stream: pieces of any size, in order. */
export type ChunkStream = AsyncIterable<Buffer>;

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
