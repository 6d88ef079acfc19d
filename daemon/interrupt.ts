/**
 * Ctrl-C for the command line. The first SIGINT aborts the run's signal:
 * remotes stop starting new requests (except aborting multipart uploads,
 * which is the clean-up), and download bodies in flight are destroyed,
 * so transfers fail fast, abort their uploads and remove their temp files;
 * the command then exits 130. A second SIGINT exits at once.
 */
import type { Readable } from 'node:stream';
import type { Backend, GetOptions, ObjectBody } from '../drivers/contract.js';
import { ForwardingBackend, type Operation } from '../drivers/decorators/forwarding.js';
import { InterruptedError } from './exit-codes.js';

/** Operations that undo half-done work: they must still run after an interrupt. */
const CLEAN_UP: ReadonlySet<Operation> = new Set<Operation>(['abortMultipart']);

export class InterruptibleBackend extends ForwardingBackend {
  constructor(inner: Backend, private readonly signal: AbortSignal) {
    super(inner);
  }

  protected override around<T>(op: Operation, call: () => Promise<T>): Promise<T> {
    if (this.signal.aborted && !CLEAN_UP.has(op)) return Promise.reject(new InterruptedError());
    return call();
  }

  override async get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody> {
    const result = await super.get(bucket, key, options);
    destroyOnAbort(result.body, this.signal);
    return result;
  }
}

function destroyOnAbort(body: Readable, signal: AbortSignal): void {
  if (signal.aborted) {
    body.destroy(new InterruptedError());
    return;
  }
  const abort = () => body.destroy(new InterruptedError());
  signal.addEventListener('abort', abort, { once: true });
  body.once('close', () => signal.removeEventListener('abort', abort));
}

export interface InterruptWatch {
  signal: AbortSignal;
  dispose(): void;
}

/** Listens for SIGINT for the duration of one command. */
export function watchInterrupts(): InterruptWatch {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}
