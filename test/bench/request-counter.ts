/**
 * An optional HTTP proxy in front of the S3 server that counts requests by S3
 * operation, so the mount benchmark can say how many LISTs, HEADs, GETs,
 * PUTs, copies and deletes each tool spent on a workload. It forwards every
 * request untouched (the Host header too: SigV4 signs it, and path-style
 * requests do not depend on it otherwise). It adds a hop and CPU in the
 * benchmark process, so counted runs explain the numbers; they are not the
 * reported times.
 */
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Enough sockets for any tool's parallelism (s3fs opens 20, rclone 16 transfers × 4 parts). */
const MAX_SOCKETS = 256;

/** The S3 operation of a request, from its method, query and copy header. */
export function operationOf(method: string, url: string, headers: IncomingHttpHeaders): string {
  const [path = '', query = ''] = url.split('?');
  const params = new URLSearchParams(query);
  const isBucket = path.split('/').filter((s) => s !== '').length <= 1;
  const copy = headers['x-amz-copy-source'] !== undefined;
  if (method === 'GET' && isBucket) return params.has('uploads') ? 'ListMultipartUploads' : 'LIST';
  if (method === 'HEAD') return 'HEAD';
  if (method === 'GET') return headers.range === undefined ? 'GET' : 'GET (ranged)';
  if (method === 'PUT' && params.has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
  if (method === 'PUT') return copy ? 'COPY' : 'PUT';
  if (method === 'POST' && params.has('uploads')) return 'CreateMultipart';
  if (method === 'POST' && params.has('uploadId')) return 'CompleteMultipart';
  if (method === 'POST' && params.has('delete')) return 'DeleteObjects';
  if (method === 'DELETE') return params.has('uploadId') ? 'AbortMultipart' : 'DELETE';
  return method;
}

export class RequestCounter {
  private counts = new Map<string, number>();

  private constructor(private readonly server: Server, readonly endpoint: string) {}

  /** Listens on a free loopback port and forwards to `target` (http://host:port). */
  static async start(target: string): Promise<RequestCounter> {
    const upstream = new URL(target);
    const agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
    let counter: RequestCounter | undefined;
    const server = createServer((req, res) => {
      counter?.count(operationOf(req.method ?? 'GET', req.url ?? '/', req.headers));
      // Node's server already answered any `Expect: 100-continue`; the body follows at once.
      const { expect: _expect, ...headers } = req.headers;
      const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (reply: IncomingMessage) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    counter = new RequestCounter(server, `http://127.0.0.1:${port}`);
    return counter;
  }

  private count(operation: string): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }

  /** The counts since the last take, most frequent first; resets them. */
  take(): Record<string, number> {
    const out = Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
    this.counts = new Map();
    return out;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
