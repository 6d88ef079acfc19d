/**
 * The commands' side of the control socket: find the mount's socket from a
 * mountpoint (or a path inside a mount), send one request, read JSON or a
 * stream of JSON lines. Every failure is a ControlError with one clear
 * message and an errno-like code that exit-codes.ts maps: ENOENT (no mount
 * there: 3), EACCES (not this user's mount: 4), ECONNREFUSED / ETIMEDOUT
 * (the daemon is gone or does not answer: 7).
 */
import { request } from 'node:http';
import { canonicalMountpoint, mountContaining, readRecord, recordPath, runtimeDir, type MountRecord } from './paths.js';

/** Status and metrics answer at once; a daemon silent this long is hung or swamped. */
const ANSWER_TIMEOUT_MS = 10_000;

export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(message: string, readonly code: 'ENOENT' | 'EACCES' | 'ECONNREFUSED' | 'ETIMEDOUT' | 'EPROTO', options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface SendOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Receives each line of a streamed answer as it arrives (flush). */
  onLine?: (line: string) => void;
  /** Bounds the wait for the answer to start (a stream may then take as long as it takes). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ControlResponse {
  status: number;
  body: string;
}

export class ControlClient {
  constructor(readonly record: MountRecord) {}

  /** One request over the socket. */
  send(method: 'GET' | 'POST', path: string, options: SendOptions = {}): Promise<ControlResponse> {
    const { body, onLine, timeoutMs = ANSWER_TIMEOUT_MS, signal } = options;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const headers = payload === undefined ? {} : { 'content-type': 'application/json' };
      const req = request({ socketPath: this.record.socket, method, path, headers, ...(signal === undefined ? {} : { signal }) }, (res) => {
        req.setTimeout(0);
        let text = '';
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (onLine === undefined) return;
          pending += chunk;
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) if (line !== '') onLine(line);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (e) => reject(this.failure(e)));
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(signal?.aborted === true ? e : this.failure(e)));
      req.end(payload);
    });
  }

  /** A JSON request whose answer must be 2xx. */
  async json<T>(method: 'GET' | 'POST', path: string, options: Omit<SendOptions, 'onLine'> = {}): Promise<T> {
    const res = await this.send(method, path, options);
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      throw new ControlError(`the bucketfs daemon for ${this.record.mountpoint} sent an unreadable answer`, 'EPROTO');
    }
    if (res.status >= 300) throw new ControlError(`the bucketfs daemon for ${this.record.mountpoint} refused: ${(parsed as { error?: string }).error ?? `status ${res.status}`}`, 'EPROTO');
    return parsed as T;
  }

  private failure(e: NodeJS.ErrnoException): ControlError {
    const where = `the bucketfs daemon for ${this.record.mountpoint} (pid ${this.record.pid})`;
    switch (e.code) {
      case 'EACCES':
      case 'EPERM':
        return new ControlError(`cannot reach ${where}: permission denied on ${this.record.socket} (the mount belongs to another user)`, 'EACCES', { cause: e });
      case 'ENOENT':
      case 'ECONNREFUSED':
        return new ControlError(`${where} is not running (stale control socket ${this.record.socket}); mount it again`, 'ECONNREFUSED', { cause: e });
      case 'ETIMEDOUT':
        return new ControlError(`${where} does not answer (hung or overloaded); see its log, or bucketfs unmount --force`, 'ETIMEDOUT', { cause: e });
      default:
        return new ControlError(`cannot reach ${where}: ${e.message}`, 'ECONNREFUSED', { cause: e });
    }
  }
}

/** The client for the mount on exactly `mountpoint`. */
export async function clientFor(mountpoint: string, env: NodeJS.ProcessEnv): Promise<ControlClient> {
  const canonical = await canonicalMountpoint(mountpoint);
  const record = await readRecord(recordPath(runtimeDir(env), canonical));
  if (record === undefined) {
    throw new ControlError(`no bucketfs mount on ${canonical} (bucketfs status lists this user's mounts)`, 'ENOENT');
  }
  return new ControlClient(record);
}

/** The client for the mount holding `path` (the mountpoint or anything below it) and the path inside the mount. */
export async function clientForPath(path: string, env: NodeJS.ProcessEnv): Promise<{ client: ControlClient; inner: string }> {
  const found = await mountContaining(path, env);
  if (found === undefined) throw new ControlError(`${path} is not inside a bucketfs mount of this user (bucketfs status lists them)`, 'ENOENT');
  return { client: new ControlClient(found.record), inner: found.inner };
}
