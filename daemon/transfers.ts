/**
 * The single-object transfers of `cp` and the loop that runs many of them:
 * upload a file, download an object (atomic: the library writes a temp file
 * beside the destination and renames it), copy server-side, or stream one
 * remote's object into another's upload. Each failure names its own source
 * and destination. Files go `concurrency` at a time and share that budget
 * with their parts, so memory stays near concurrency × part size.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import pLimit from 'p-limit';
import { uploadObject } from '../drivers/transfer.js';
import { InterruptedError } from './exit-codes.js';
import { inContext } from './failure.js';
import type { Progress } from './progress.js';
import { displayKey, type OpenTarget } from './locations.js';

export interface TransferSettings {
  /** Undefined: the library's default (8 MiB, raised to stay within the part limit). */
  partSize: number | undefined;
  /** Parts in flight for this one object. */
  concurrency: number;
  onProgress: (bytesSoFar: number) => void;
}

export interface Transfer {
  from: string;
  to: string;
  /** Bytes, when known before the transfer starts. */
  size: number | undefined;
  /** Moves the bytes; resolves to how many were moved. */
  run(settings: TransferSettings): Promise<number>;
}

function transferOptions(settings: TransferSettings) {
  return { concurrency: settings.concurrency, onProgress: settings.onProgress, ...(settings.partSize !== undefined && { partSize: settings.partSize }) };
}

export function uploadTransfer(path: string, dst: OpenTarget, key: string, size: number): Transfer {
  const to = displayKey(dst.spec, key);
  return {
    from: path, to, size,
    run: (settings) => inContext(`cannot upload ${path} to ${to}`, async () => {
      await uploadObject(dst.backend, dst.spec.bucket, key, path, transferOptions(settings));
      return size;
    }, dst.spec),
  };
}

/** `makeParents`: create the destination's directory first (recursive copies). */
export function downloadTransfer(src: OpenTarget, key: string, path: string, size: number | undefined, makeParents: boolean): Transfer {
  const from = displayKey(src.spec, key);
  return {
    from, to: path, size,
    run: (settings) => inContext(`cannot download ${from} to ${path}`, async () => {
      if (makeParents) await mkdir(dirname(path), { recursive: true });
      return (await src.container.downloadObject(key, path, transferOptions(settings))).size;
    }, src.spec),
  };
}

/** A local directory for a directory-marker key ('photos/' with no data). */
export function directoryTransfer(src: OpenTarget, key: string, path: string): Transfer {
  const from = displayKey(src.spec, key);
  return {
    from, to: path, size: 0,
    run: () => inContext(`cannot create ${path} for ${from}`, async () => {
      await mkdir(path, { recursive: true });
      return 0;
    }),
  };
}

/** Server-side when both ends are one service; otherwise the source streams into the destination's upload. */
export function remoteTransfer(src: OpenTarget, srcKey: string, dst: OpenTarget, dstKey: string, size: number, serverSide: boolean): Transfer {
  const from = displayKey(src.spec, srcKey);
  const to = displayKey(dst.spec, dstKey);
  const what = `cannot copy ${from} to ${to}`;
  if (serverSide) {
    return {
      from, to, size,
      run: (settings) => inContext(what, async () => {
        await dst.container.copy(srcKey, dstKey, { ...transferOptions(settings), sourceContainer: src.spec.bucket });
        settings.onProgress(size);
        return size;
      }, dst.spec),
    };
  }
  return {
    from, to, size,
    run: (settings) => inContext(what, async () => {
      const { info, body } = await src.backend.get(src.spec.bucket, srcKey);
      await uploadObject(dst.backend, dst.spec.bucket, dstKey, body, {
        ...transferOptions(settings),
        ...(info.metadata !== undefined && { metadata: info.metadata }),
        ...(info.contentType !== undefined && { contentType: info.contentType }),
      }).finally(() => body.destroy());
      return info.size;
    }, dst.spec),
  };
}

export interface RunSettings {
  partSize: number | undefined;
  concurrency: number;
  signal: AbortSignal;
}

/**
 * Runs every transfer, `concurrency` objects at a time. After the first
 * failure (or an interrupt) no new transfer starts; those in flight finish or
 * clean up, then the first error is thrown. Resolves to the bytes moved.
 */
export async function runTransfers(transfers: readonly Transfer[], settings: RunSettings, progress: Progress): Promise<number> {
  const inFlight = Math.max(1, Math.min(settings.concurrency, transfers.length));
  const perObject = Math.max(1, Math.ceil(settings.concurrency / inFlight));
  const limit = pLimit(inFlight);
  let failure: unknown;
  let bytes = 0;
  await Promise.all(transfers.map((transfer) => limit(async () => {
    if (failure !== undefined) return;
    if (settings.signal.aborted) {
      failure = new InterruptedError();
      return;
    }
    try {
      const moved = await transfer.run({ partSize: settings.partSize, concurrency: perObject, onProgress: progress.track() });
      bytes += moved;
      progress.fileDone();
    } catch (e) {
      failure ??= e;
    }
  })));
  if (failure !== undefined) throw failure;
  return bytes;
}
