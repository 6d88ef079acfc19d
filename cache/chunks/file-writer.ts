/**
 * Writes chunk files on a thread of their own.
 *
 * A chunk file costs its CRC-32 trailer (zlib.crc32 over 8 MiB, 1.3 ms idle
 * and 2.5 ms beside a download) plus the write and rename calls. Done on the
 * JS thread, that was a fifth of its busy time during a cold 1 GiB read
 * (318 ms of crc32 alone in a CPU profile), and every FUSE read arriving
 * meanwhile waited for it. Here a chunk whose memory is shared (the chunk
 * store's pool buffers are SharedArrayBuffers) is handed to a worker thread
 * by reference: the worker sums it, writes a temp file with synchronous
 * calls and renames it into place, and the JS thread only sees the reply.
 *
 * A chunk in ordinary memory (a fetch outside the pool) is written on the
 * JS thread as before; so is everything if the worker cannot be started.
 * A worker that dies fails the writes it held (the caller only loses the
 * caching of those chunks) and the next write starts another one.
 *
 * The caller must not reuse a chunk's memory before its write settles.
 */
import { Worker } from 'node:worker_threads';
import { chunkTempPath, trailerOf, writeChunkFile } from './chunk-file.js';

interface Job {
  id: number;
  path: string;
  temp: string;
  memory: SharedArrayBuffer;
  offset: number;
  length: number;
}

interface Reply {
  id: number;
  error?: string;
}

/**
 * The worker's whole program, run from its source text (so it needs no file
 * of its own next to this module, compiled or not), given chunk-file.ts's
 * trailerOf. It does what writeChunkFile does: bytes and trailer to a temp
 * file renamed into place, no fsync.
 */
function workerMain(trailer: typeof trailerOf): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as typeof import('node:fs');
  const { crc32 } = require('node:zlib') as typeof import('node:zlib');
  parentPort?.on('message', (job: Job) => {
    const reply: Reply = { id: job.id };
    try {
      const chunk = Buffer.from(job.memory, job.offset, job.length);
      const tail = trailer(chunk, crc32);
      const fd = fs.openSync(job.temp, 'wx', 0o600);
      try {
        let written = 0;
        while (written < job.length) written += fs.writeSync(fd, chunk, written, job.length - written);
        fs.writeSync(fd, tail, 0, tail.length);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(job.temp, job.path);
    } catch (error) {
      fs.rmSync(job.temp, { force: true });
      reply.error = String(error);
    }
    parentPort?.postMessage(reply);
  });
}

const isShared = (chunk: Buffer): chunk is Buffer & { buffer: SharedArrayBuffer } =>
  typeof SharedArrayBuffer === 'function' && chunk.buffer instanceof SharedArrayBuffer;

export class ChunkFileWriter {
  private worker: Worker | undefined;
  private unavailable = false;
  private nextId = 0;
  private readonly pending = new Map<number, { worker: Worker; resolve: () => void; reject: (error: Error) => void }>();
  /** Chunks written by the worker thread (the rest went through the JS thread). */
  offThread = 0;

  /** Writes `chunk` with its trailer to `path` (atomically, by rename); resolves once the file is in place. */
  write(path: string, chunk: Buffer): Promise<void> {
    const worker = isShared(chunk) ? this.start() : undefined;
    if (worker === undefined) return writeChunkFile(path, chunk);
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => this.pending.set(id, { worker, resolve, reject }));
    worker.ref();
    const job: Job = { id, path, temp: chunkTempPath(path), memory: chunk.buffer as SharedArrayBuffer, offset: chunk.byteOffset, length: chunk.length };
    worker.postMessage(job);
    this.offThread++;
    return done;
  }

  /** Stops the worker once its writes are done (callers wait for their writes first). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.unavailable = true;
    if (worker === undefined) return;
    // A thread being terminated keeps the event loop alive for nothing, referenced or not (seen under
    // tap): without this timer the process could end here and whatever follows close() never run.
    const hold = setInterval(() => undefined, 1000);
    try {
      await worker.terminate();
    } finally {
      clearInterval(hold);
    }
  }

  private start(): Worker | undefined {
    if (this.worker !== undefined || this.unavailable) return this.worker;
    let worker: Worker;
    try {
      // None of the process's own flags: a loader (--import), a profiler or an inspector set for the
      // daemon has nothing to do in a thread that only writes files, and slows its start or its exit.
      worker = new Worker(`(${workerMain.toString()})(${trailerOf.toString()})`, { eval: true, execArgv: [] });
    } catch {
      this.unavailable = true;
      return undefined;
    }
    worker.unref(); // referenced only while writes are pending, so an idle writer never keeps the process alive
    worker.on('message', (reply: Reply) => this.settle(reply));
    const lost = (why: string) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, job] of this.pending) {
        if (job.worker !== worker) continue;
        this.pending.delete(id);
        job.reject(new Error(`the chunk writer thread ${why}`));
      }
    };
    worker.on('error', (error) => lost(`failed: ${String(error)}`));
    worker.on('exit', (code) => lost(`exited (code ${code})`));
    this.worker = worker;
    return worker;
  }

  private settle(reply: Reply): void {
    const waiter = this.pending.get(reply.id);
    if (waiter === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) waiter.worker.unref();
    if (reply.error === undefined) waiter.resolve();
    else waiter.reject(new Error(reply.error));
  }
}
