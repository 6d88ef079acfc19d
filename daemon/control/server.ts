/**
 * A mount's control socket: an HTTP server (protocol.ts) on a Unix socket in
 * the runtime dir, mode 0600 in a 0700 directory — the file permissions are
 * the access check (Node cannot read SO_PEERCRED), so only this user (and
 * root) can connect. A socket left by a daemon that was killed is detected
 * (nothing answers on it) and replaced; a live one means another daemon
 * serves this mountpoint, and starting fails. close() removes the socket and
 * the mount record.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import type { Log } from '../../vfs/fuse-adapter.js';
import { ensureRuntimeDir, readRecord, recordPath, runtimeDir, socketPath, type MountRecord } from './paths.js';
import type { CheckOptions, CheckReport, FlushEvent, InvalidateRequest } from './protocol.js';
import { buildStatus, type ControlTarget } from './status.js';

/** Requests carry a path or a few flags; anything bigger is not ours. */
const MAX_BODY_BYTES = 64 * 1024;
/** Linux's sun_path holds 108 bytes including the NUL. */
const MAX_SOCKET_PATH = 107;

export interface ServedTarget extends ControlTarget {
  check(options: CheckOptions): Promise<CheckReport>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** True when something accepts connections on `path`. */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function readJson<T>(req: IncomingMessage): Promise<T> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return (text === '' ? {} : JSON.parse(text)) as T;
  } catch {
    throw new HttpError(400, 'request body is not JSON');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

async function flush(target: ServedTarget, res: ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const send = (event: FlushEvent) => res.write(`${JSON.stringify(event)}\n`);
  const started = Date.now();
  let files = 0;
  try {
    await target.control.flushAll((done, total) => {
      files = total;
      send({ event: 'progress', done, total });
    });
    send({ event: 'done', files, seconds: (Date.now() - started) / 1000 });
  } catch (e) {
    send({ event: 'failed', error: (e as Error).message });
  }
  res.end();
}

async function route(target: ServedTarget, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://bucketfs').pathname;
  const call = `${req.method ?? 'GET'} ${path}`;
  switch (call) {
    case 'GET /status':
      return sendJson(res, 200, await buildStatus(target));
    case 'GET /stats':
      return sendJson(res, 200, { ...target.control.stats(), fuse: target.fuseStats() });
    case 'GET /metrics': {
      const text = await target.metrics.text();
      res.writeHead(200, { 'content-type': target.metrics.contentType });
      return void res.end(text);
    }
    case 'POST /flush':
      return flush(target, res);
    case 'POST /invalidate': {
      const { path: inner } = await readJson<Partial<InvalidateRequest>>(req);
      if (typeof inner !== 'string' || !inner.startsWith('/')) throw new HttpError(400, 'invalidate needs an absolute path inside the mount');
      return sendJson(res, 200, { path: inner, ...(await target.control.invalidate(inner)) });
    }
    case 'POST /check':
      return sendJson(res, 200, await target.check(await readJson<CheckOptions>(req)));
    default:
      throw new HttpError(404, `no such control request: ${call}`);
  }
}

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly socket: string,
    private readonly recordFile: string,
  ) {}

  /** Listens on the mount's socket and writes its record; fails when another live daemon holds the socket. */
  static async start(target: ServedTarget, env: NodeJS.ProcessEnv, log: Log): Promise<ControlServer> {
    const dir = runtimeDir(env);
    await ensureRuntimeDir(dir);
    const socket = socketPath(dir, target.record.mountpoint);
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) throw new Error(`control socket path too long (${socket}); set XDG_RUNTIME_DIR to a shorter directory`);
    if (await answers(socket)) throw Object.assign(new Error(`another bucketfs daemon serves ${target.record.mountpoint} (control socket ${socket})`), { code: 'EBUSY' });
    await rm(socket, { force: true });
    const server = createServer((req, res) => {
      route(target, req, res).catch((e: unknown) => {
        const status = e instanceof HttpError ? e.status : 500;
        if (status === 500) log('warn', `control request ${req.method ?? ''} ${req.url ?? ''} failed: ${(e as Error).message}`);
        if (res.headersSent) res.end();
        else sendJson(res, status, { error: (e as Error).message });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
    await chmod(socket, 0o600);
    const recordFile = recordPath(dir, target.record.mountpoint);
    const record: MountRecord = { ...target.record, socket };
    const temp = `${recordFile}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    await rename(temp, recordFile);
    return new ControlServer(server, socket, recordFile);
  }

  /** Stops answering and removes the socket and the record (the record only if it is still ours). */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.socket, { force: true });
    const record = await readRecord(this.recordFile);
    if (record === undefined || record.pid === process.pid) await rm(this.recordFile, { force: true });
  }
}
