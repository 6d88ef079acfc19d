/**
 * Everything that lets an operator watch a running mount, started by the
 * mount command once the file system exists and before it is mounted (a
 * failure here fails the mount: nothing is left half-served), stopped after
 * it is unmounted: the metrics registry's data-path readings, the control
 * socket with its mount record, and the opt-in TCP metrics endpoint.
 */
import type { ObserveRequest } from '../../drivers/decorators/observe.js';
import type { OpenOptions, Remote } from '../../drivers/remote.js';
import type { MountControl } from '../../vfs/control.js';
import type { Log, OperationCounter } from '../../vfs/fuse-adapter.js';
import { MetricsListener, parseMetricsAddress } from '../metrics/listener.js';
import type { MountMetrics } from '../metrics/mount-metrics.js';
import { runCheck } from './check.js';
import { cacheDisagreements, type CachedEntries } from './check-cache.js';
import type { CheckOptions } from './protocol.js';
import { ControlServer } from './server.js';

export interface WatchOptions {
  fs: MountControl & { readonly store: CachedEntries };
  remote: Remote;
  mountpoint: string;
  /** The remote as shown to people. */
  display: string;
  cacheDir: string;
  readOnly: boolean;
  metrics: MountMetrics;
  /** `--metrics-address`, unparsed; undefined: no TCP endpoint. */
  metricsAddress: string | undefined;
  /** The FUSE adapter's counters once mounted (empty before). */
  fuseStats(): Record<string, OperationCounter>;
  env: NodeJS.ProcessEnv;
  log: Log;
}

export interface Watching {
  socket: string;
  metricsAddress: string | undefined;
  close(): Promise<void>;
}

function check(o: WatchOptions, options: CheckOptions) {
  const pending = o.fs.stats().uploads.pending;
  return runCheck(o.remote.container, o.remote.prefix, o.display, options, {
    busyKeys: new Set(pending.map((p) => p.key)),
    compareCache: (objects) => cacheDisagreements(o.fs.store, o.remote.prefix, objects, new Set(pending.map((p) => p.path))),
  });
}

/** openRemote's hooks for a mount: every request to the metrics and, when asked for, the trace; retries counted. */
export function remoteHooks(metrics: MountMetrics, trace: ObserveRequest | undefined): Pick<OpenOptions, 'observe' | 'retry'> {
  return {
    observe: (request) => {
      metrics.observeRequest(request);
      trace?.(request);
    },
    retry: { onRetry: (op) => metrics.onRetry(op) },
  };
}

export async function startWatching(o: WatchOptions): Promise<Watching> {
  o.metrics.readFrom(() => o.fs.stats());
  const address = o.metricsAddress === undefined ? undefined : parseMetricsAddress(o.metricsAddress);
  const listener = address === undefined ? undefined : await MetricsListener.start(address, o.metrics);
  let server: ControlServer;
  try {
    server = await ControlServer.start({
      record: { pid: process.pid, mountpoint: o.mountpoint, remote: o.display, socket: '', startedAt: Date.now(), cacheDir: o.cacheDir },
      readOnly: o.readOnly,
      control: o.fs,
      metrics: o.metrics,
      fuseStats: o.fuseStats,
      ...(listener === undefined ? {} : { metricsAddress: listener.address }),
      check: (options) => check(o, options),
    }, o.env, o.log);
  } catch (e) {
    await listener?.close();
    throw e;
  }
  if (listener !== undefined) o.log('info', `metrics on http://${listener.address}/metrics`);
  o.log('debug', `control socket ${server.socket}`);
  return {
    socket: server.socket,
    metricsAddress: listener?.address,
    close: async () => {
      await Promise.all([server.close(), listener?.close()]);
    },
  };
}
