/**
 * The S3 server the driver benchmark measures against: the loopback Ceph RGW
 * of the test harness. A gateway started for this process alone is stopped
 * by the harness when the process exits; a shared one is left running.
 */
import { useRgw, type S3Server } from '../servers/rgw.js';

export interface BenchServer {
  s3: S3Server;
  /** One line for the report: which server, where. */
  description: string;
  stop(): Promise<void>;
}

/** The server cannot run here; the benchmark prints why and exits non-zero. */
export class ServerSkipped extends Error {
  override readonly name = 'ServerSkipped';
}

export async function startBenchServer(): Promise<BenchServer> {
  const started = performance.now();
  const rgw = await useRgw();
  if ('skipped' in rgw) throw new ServerSkipped(`SKIPPED: Ceph RGW: ${rgw.skipped}`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  return {
    s3: rgw,
    description: `${rgw.name} at ${rgw.endpoint} (ready in ${seconds} s)`,
    stop: async () => undefined,
  };
}
