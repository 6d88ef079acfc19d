/**
 * The opt-in TCP endpoint for Prometheus (`--metrics-address`): GET /metrics
 * only, nothing else of the control socket (status lists file names, flush
 * and invalidate change things — those stay owner-only on the Unix socket).
 * Loopback unless the address names another host explicitly: "9100" and
 * ":9100" mean 127.0.0.1:9100; "[::1]:9100" and "0.0.0.0:9100" are taken as
 * written.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../exit-codes.js';
import type { MountMetrics } from './mount-metrics.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseMetricsAddress(text: string): ListenAddress {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (match === null || port > 65535) throw new UsageError(`invalid metrics address '${text}' (expected [HOST:]PORT, e.g. 127.0.0.1:9100)`);
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '127.0.0.1' : host, port };
}

export class MetricsListener {
  private constructor(private readonly server: Server, readonly address: string) {}

  static async start(address: ListenAddress, metrics: MountMetrics): Promise<MetricsListener> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://bucketfs').pathname !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
        return;
      }
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => resolve());
    });
    const bound = server.address() as AddressInfo;
    const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    return new MetricsListener(server, `${host}:${bound.port}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
