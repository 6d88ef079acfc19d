/**
 * Tells a callback about every request that reaches the backend below it:
 * operation, bucket and key where there is one, outcome (ok or the error
 * kind), HTTP status when the error carries one, seconds, bytes sent or
 * announced for reading. Installed directly around the raw backend (inside
 * retries), so each attempt is one observation — the daemon's request trace
 * and metrics are built from these. It never changes a result; a callback
 * that throws is ignored.
 *
 * `get` is timed to the response headers (the body is a stream the caller
 * reads later); its bytes are the length of the range served.
 */
import type { Backend, Body, GetOptions, HeadOptions, ListOptions, ObjectBody, ObjectInfo, ObjectRef, PartResult, PutOptions, WriteResult, CopyOptions, DeleteManyResult, ListPage } from '../contract.js';
import { isStorageError, type ErrorKind } from '../errors.js';
import { ForwardingBackend, type Operation } from './forwarding.js';

export interface ObservedRequest {
  op: Operation;
  bucket?: string;
  key?: string;
  outcome: 'ok' | ErrorKind;
  /** The HTTP status of a failed request, when the error carries one. */
  status?: number;
  seconds: number;
  /** Bytes sent (put, uploadPart) or to be received (get). */
  bytesOut?: number;
  bytesIn?: number;
  /** Short error message of a failed request (no secrets: driver messages never carry them). */
  error?: string;
}

export type ObserveRequest = (request: ObservedRequest) => void;

type Target = { bucket?: string; key?: string };

function bodySize(body: Body, options: PutOptions | undefined): number | undefined {
  return Buffer.isBuffer(body) ? body.length : options?.size;
}

export class ObservingBackend extends ForwardingBackend {
  constructor(inner: Backend, private readonly observer: ObserveRequest) {
    super(inner);
  }

  private async timed<T>(op: Operation, target: Target, call: () => Promise<T>, sizes: (value: T) => Partial<ObservedRequest> = () => ({})): Promise<T> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const value = await call();
      this.emit({ op, ...target, outcome: 'ok', seconds: seconds(), ...sizes(value) });
      return value;
    } catch (e) {
      const failure: ObservedRequest = { op, ...target, outcome: isStorageError(e) ? e.kind : 'Other', seconds: seconds() };
      if (isStorageError(e) && e.status !== undefined) failure.status = e.status;
      if (e instanceof Error) failure.error = e.message;
      this.emit(failure);
      throw e;
    }
  }

  private emit(request: ObservedRequest): void {
    try {
      this.observer(request);
    } catch {
      // Observing is best effort: a broken trace file must not fail a request.
    }
  }

  protected override around<T>(op: Operation, call: () => Promise<T>): Promise<T> {
    return this.timed(op, {}, call);
  }

  override head(bucket: string, key: string, options?: HeadOptions): Promise<ObjectInfo> {
    return this.timed('head', { bucket, key }, () => this.inner.head(bucket, key, options));
  }
  override get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody> {
    return this.timed('get', { bucket, key }, () => this.inner.get(bucket, key, options), (b) => ({ bytesIn: b.range.end - b.range.start }));
  }
  override put(bucket: string, key: string, body: Body, options?: PutOptions): Promise<WriteResult> {
    const size = bodySize(body, options);
    return this.timed('put', { bucket, key }, () => this.inner.put(bucket, key, body, options), () => (size === undefined ? {} : { bytesOut: size }));
  }
  override copy(source: ObjectRef, dest: ObjectRef, options?: CopyOptions): Promise<WriteResult> {
    return this.timed('copy', { bucket: dest.bucket, key: dest.key }, () => this.inner.copy(source, dest, options));
  }
  override delete(bucket: string, key: string): Promise<void> {
    return this.timed('delete', { bucket, key }, () => this.inner.delete(bucket, key));
  }
  override deleteMany(bucket: string, keys: string[]): Promise<DeleteManyResult> {
    return this.timed('deleteMany', { bucket, key: `${keys.length} keys` }, () => this.inner.deleteMany(bucket, keys));
  }
  override listPage(bucket: string, options?: ListOptions): Promise<ListPage> {
    return this.timed('listPage', { bucket, key: options?.prefix ?? '' }, () => this.inner.listPage(bucket, options));
  }
  override uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    return this.timed('uploadPart', { bucket, key }, () => this.inner.uploadPart(bucket, key, uploadId, partNumber, body), () => ({ bytesOut: body.length }));
  }
  override createMultipart(bucket: string, key: string, options?: Parameters<Backend['createMultipart']>[2]): Promise<string> {
    return this.timed('createMultipart', { bucket, key }, () => this.inner.createMultipart(bucket, key, options));
  }
  override completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    return this.timed('completeMultipart', { bucket, key }, () => this.inner.completeMultipart(bucket, key, uploadId, parts));
  }
  override abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.timed('abortMultipart', { bucket, key }, () => this.inner.abortMultipart(bucket, key, uploadId));
  }
}
