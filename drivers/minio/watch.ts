/**
 * Change notifications through MinIO's ListenBucketNotification extension:
 * a long-lived GET on `/<bucket>?events=…` that streams one JSON document
 * per line (blank lines are keep-alives). Servers without the extension
 * (AWS, Ceph RGW) answer that GET with an XML listing or refuse it; watch()
 * then fails with Unsupported, so callers fall back to polling.
 *
 * minio-js's NotificationPoller is not used: it cannot abort its pending
 * request on stop(), which would keep a socket open after close().
 */
import type { IncomingMessage } from 'node:http';
import type { ChangeEvent, Watcher } from '../contract.js';
import { NotFoundError, UnsupportedError } from '../errors.js';
import type { StorageError } from '../errors.js';
import { header } from './connection.js';
import { query } from './context.js';
import type { MinioContext } from './context.js';
import { translate } from './errors.js';

const EVENTS = ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'];
/** Pause before re-opening a listen request the server ended or broke. */
const REOPEN_DELAY_MS = 1000;

interface S3EventRecord {
  eventName?: string;
  s3?: { object?: { key?: string; size?: number; eTag?: string } };
}

/** Event keys are URL query-escaped (Go's QueryEscape: '+' is a space). */
function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

export function toChangeEvent(record: S3EventRecord): ChangeEvent | undefined {
  const name = record.eventName ?? '';
  const object = record.s3?.object;
  if (object?.key === undefined) return undefined;
  const type = name.startsWith('s3:ObjectCreated:') ? 'put' : name.startsWith('s3:ObjectRemoved:') ? 'delete' : undefined;
  if (type === undefined) return undefined;
  const event: ChangeEvent = { type, key: decodeEventKey(object.key) };
  if (object.eTag) event.etag = object.eTag.replace(/^"+|"+$/g, '');
  if (typeof object.size === 'number' && type === 'put') event.size = object.size;
  return event;
}

/** Splits the stream into lines and hands every record of every JSON line to `onRecord`. */
function readEvents(res: IncomingMessage, onRecord: (record: S3EventRecord) => void): void {
  let pending = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const doc = JSON.parse(line) as { Records?: S3EventRecord[] | null };
        for (const record of doc.Records ?? []) onRecord(record);
      } catch {
        // A malformed line is one lost event, not a reason to drop the whole watch.
      }
    }
  });
}

function speaksListenProtocol(res: IncomingMessage): boolean {
  const type = header(res, 'content-type') ?? '';
  return !/xml/i.test(type);
}

class ListenWatcher implements Watcher {
  private response: IncomingMessage | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly open: () => Promise<IncomingMessage>,
    private readonly onEvent: (event: ChangeEvent) => void,
  ) {}

  /** Starts with an already open response; later ones are opened here. */
  attach(res: IncomingMessage): void {
    if (this.closed) {
      res.destroy();
      return;
    }
    this.response = res;
    readEvents(res, (record) => {
      const event = toChangeEvent(record);
      if (event !== undefined && !this.closed) this.onEvent(event);
    });
    res.on('close', () => this.scheduleReopen());
    res.on('error', () => undefined);
  }

  private scheduleReopen(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.open().then(
        (res) => this.attach(res),
        () => this.scheduleReopen(),
      );
    }, REOPEN_DELAY_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.response?.destroy();
  }
}

const UNSUPPORTED = 'change notifications are not supported by minio';

/**
 * A server without the extension may also refuse the listen request outright
 * (RGW cannot even verify its signature: it drops repeated query keys). If the
 * bucket answers a plain request, the credentials are fine and the refusal is
 * the missing extension; otherwise the original error stands.
 */
async function explainRefusal(ctx: MinioContext, bucket: string, where: string, error: StorageError): Promise<StorageError> {
  if (error.kind === 'Transient' || error.kind === 'NotFound') return error;
  const exists = await ctx.conn.minio.bucketExists(bucket).catch(() => undefined);
  if (exists === false) return new NotFoundError(`${ctx.namer.url(bucket)}: no such bucket`, { reason: 'NoSuchBucket', cause: error });
  if (exists === undefined) return error;
  return new UnsupportedError(`${UNSUPPORTED}: ${where}: the server refused MinIO's ListenBucketNotification (${error.message})`, {
    reason: 'NotSupported',
    cause: error,
  });
}

export async function watch(
  ctx: MinioContext,
  bucket: string,
  options: { prefix?: string },
  onEvent: (event: ChangeEvent) => void,
): Promise<Watcher> {
  const where = ctx.namer.url(bucket, options.prefix);
  const q = [query({ prefix: options.prefix || undefined }), ...EVENTS.map((e) => query({ events: e }))].filter(Boolean).join('&');
  const open = async (): Promise<IncomingMessage> => {
    const res = await ctx.conn.send({ method: 'GET', bucketName: bucket, query: q });
    if (speaksListenProtocol(res)) return res;
    res.destroy();
    throw new UnsupportedError(`${UNSUPPORTED}: ${where}: the server does not implement MinIO's ListenBucketNotification`, {
      reason: 'NotSupported',
    });
  };
  let first: IncomingMessage;
  try {
    first = await open();
  } catch (e) {
    throw await explainRefusal(ctx, bucket, where, translate(e, where, ctx.namer));
  }
  const watcher = new ListenWatcher(open, onEvent);
  watcher.attach(first);
  return watcher;
}
