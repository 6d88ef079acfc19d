/**
 * The baseline: @aws-sdk/client-s3 used directly, set up the way a careful
 * developer would (keep-alive agent with enough sockets, path-style, no
 * optional checksums), with a hand-written parallel multipart upload of the
 * same part size and concurrency as the library's defaults. No library code
 * runs on this path except those two constants.
 */
import { Agent } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE } from '../../drivers/transfer.js';
import type { BenchClient, UploadMethod } from './client.js';

export interface S3Target {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/** Enough sockets for 16 concurrent small requests and 4 parts, with room to spare. */
const MAX_SOCKETS = 64;
/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1000;

function rawS3Client(target: S3Target): S3Client {
  return new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A failed request should fail the run, not be hidden by a retry.
    maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS }) },
  });
}

export class RawSdkClient implements BenchClient {
  readonly name = 'raw SDK';
  readonly reference = false;
  readonly uploads: readonly UploadMethod[];
  private readonly s3: S3Client;

  constructor(private readonly target: S3Target) {
    this.s3 = rawS3Client(target);
    const mib = DEFAULT_PART_SIZE / 2 ** 20;
    this.uploads = [
      { label: `raw SDK, multipart ${mib} MiB × ${DEFAULT_CONCURRENCY}`, run: (path, size, key) => this.multipart(path, size, key) },
      { label: 'raw SDK, single PutObject stream', run: (path, size, key) => this.singlePut(path, size, key) },
    ];
  }

  private get bucket(): string {
    return this.target.bucket;
  }

  /** Creates the benchmark bucket; an existing one of ours is fine. */
  async ensureBucket(): Promise<void> {
    await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((e: unknown) => {
      // RGW answers a repeated create with OwnedByYou, some servers with AlreadyExists.
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((e as { name?: string }).name ?? '')) throw e;
    });
  }

  /** Deletes the (empty) benchmark bucket. */
  async deleteBucket(): Promise<void> {
    await this.s3.send(new DeleteBucketCommand({ Bucket: this.bucket }));
  }

  private async singlePut(path: string, size: number, key: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: createReadStream(path), ContentLength: size }));
  }

  /** Parts read at their offsets and sent DEFAULT_CONCURRENCY at a time; aborted on any failure. */
  private async multipart(path: string, size: number, key: string): Promise<void> {
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    if (UploadId === undefined) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`);
    const file = await open(path, 'r');
    const parts: CompletedPart[] = [];
    const count = Math.ceil(size / DEFAULT_PART_SIZE);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < count; i = next++) {
        const start = i * DEFAULT_PART_SIZE;
        const body = Buffer.allocUnsafe(Math.min(DEFAULT_PART_SIZE, size - start));
        const { bytesRead } = await file.read(body, 0, body.length, start);
        if (bytesRead !== body.length) throw new Error(`${path}: short read at ${start}`);
        const { ETag } = await this.s3.send(new UploadPartCommand({
          Bucket: this.bucket, Key: key, UploadId, PartNumber: i + 1, Body: body, ContentLength: body.length,
        }));
        parts[i] = { PartNumber: i + 1, ETag };
      }
    };
    try {
      await Promise.all(Array.from({ length: DEFAULT_CONCURRENCY }, worker));
      await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId })).catch(() => undefined);
      throw e;
    } finally {
      await file.close();
    }
  }

  async download(key: string, dest: string): Promise<void> {
    const { Body } = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    // flush: fsync before close, as the library's download does.
    await pipeline(Body as Readable, createWriteStream(dest, { flush: true }));
  }

  /** Reads the whole object and throws the bytes away; returns how many there were. */
  async drain(key: string): Promise<number> {
    const { Body } = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    let bytes = 0;
    for await (const chunk of Body as Readable) bytes += (chunk as Buffer).length;
    return bytes;
  }

  /** Every object under `prefix` (no delimiter), in key order. */
  async list(prefix: string): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) out.push({ key: o.Key ?? '', size: o.Size ?? 0 });
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  /** Server-side copy within the bucket. */
  async copy(from: string, to: string): Promise<void> {
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source }));
  }

  /** The object's size, or undefined when it does not exist. */
  async sizeOf(key: string): Promise<number | undefined> {
    return (await this.info(key))?.size;
  }

  /** The object's size and etag (without quotes), or undefined when it does not exist. */
  async info(key: string): Promise<{ size: number; etag: string } | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, etag: (out.ETag ?? '').replace(/"/g, '') };
    } catch (e) {
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw e;
    }
  }

  async putSmall(key: string, body: Buffer): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length }));
  }

  async head(key: string): Promise<void> {
    await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async remove(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH).map((Key) => ({ Key }));
      const { Errors } = await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }));
      if (Errors !== undefined && Errors.length > 0) throw new Error(`DeleteObjects: ${Errors.length} failed, first: ${Errors[0]?.Code}`);
    }
  }

  async close(): Promise<void> {
    this.s3.destroy();
  }
}
