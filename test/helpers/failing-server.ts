/**
 * A loopback HTTP server that fails every request, for the Transient error
 * mapping of HTTP backends: mode '500' answers HTTP 500 with an S3-style
 * `InternalError` XML body; mode 'reset' accepts the request and then resets
 * the connection. It listens on a free port and closes every socket on close().
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FailingServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const INTERNAL_ERROR =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<Error><Code>InternalError</Code>' +
  '<Message>We encountered an internal error. Please try again.</Message>' +
  '<RequestId>failing-server</RequestId></Error>';

function answer500(req: IncomingMessage, res: ServerResponse): void {
  // Drain the request body so the client's upload completes and it reads the 500.
  req.resume();
  req.on('end', () => {
    res.writeHead(500, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(INTERNAL_ERROR) });
    res.end(INTERNAL_ERROR);
  });
}

function reset(req: IncomingMessage): void {
  req.socket.resetAndDestroy();
}

export async function startFailingServer(mode: '500' | 'reset' = '500'): Promise<FailingServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => (mode === '500' ? answer500(req, res) : reset(req)));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
