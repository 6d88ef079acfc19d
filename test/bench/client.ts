/**
 * What the driver benchmark measures on each client: the four workloads as
 * operations, so the raw SDK and the library are timed by the same loop.
 */

/** One way of uploading a file; a client may offer several (each is its own row). */
export interface UploadMethod {
  /** Row label, e.g. "raw SDK, multipart 8 MiB × 4". */
  label: string;
  run(path: string, size: number, key: string): Promise<void>;
}

export interface BenchClient {
  /** Row label for the download and small-object workloads. */
  readonly name: string;
  /** Reference rows (local, memory) get no ratio: they do not talk to the S3 server. */
  readonly reference: boolean;
  readonly uploads: readonly UploadMethod[];
  /** Downloads `key` into `dest`, durably (fsync before returning). */
  download(key: string, dest: string): Promise<void>;
  putSmall(key: string, body: Buffer): Promise<void>;
  head(key: string): Promise<void>;
  /** Deletes these keys; missing keys are not an error. */
  remove(keys: string[]): Promise<void>;
  close(): Promise<void>;
}
