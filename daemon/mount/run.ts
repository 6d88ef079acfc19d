/**
 * `bucketfs mount` once its arguments are parsed: the checks that must fail
 * before anything is mounted (remote, bucket, FUSE, mountpoint, cache dir),
 * then the VFS, the FUSE mount, the ready line, and the lifecycle until the
 * mount stops. Runs in the foreground; returns when the mount is gone.
 */
import { resolve } from 'node:path';
import type { ObserveRequest } from '../../drivers/decorators/observe.js';
import type { OpenOptions, Remote } from '../../drivers/remote.js';
import { openRemote, parseRemote } from '../../drivers/remote.js';
import { createFileSystem } from '../../vfs/vfs.js';
import { mountFileSystem, type Log, type MountedFileSystem } from '../../vfs/fuse-adapter.js';
import type { Io } from '../command.js';
import type { MountSettings } from '../config/options.js';
import { remoteHooks, startWatching, type Watching } from '../control/watch.js';
import { inContext } from '../failure.js';
import { displayKey } from '../locations.js';
import { MountMetrics } from '../metrics/mount-metrics.js';
import { claimCacheDir, defaultCacheDir } from './daemon-file.js';
import { Lifecycle, type MountHooks } from './lifecycle.js';

export type { MountHooks } from './lifecycle.js';
import { createDaemonLogger } from './log.js';
import { checkFuseAvailable, prepareMountpoint } from './mountpoint.js';

/** A resolved mount: the remote URL, the mountpoint and every option (daemon/config/). */
export interface MountArgs extends MountSettings {
  remote: string;
  mountpoint: string;
}

/** Opens the remote and checks the bucket is there and readable (one LIST of at most one key). */
async function openChecked(args: MountArgs, display: string, io: Io, hooks: Pick<OpenOptions, 'observe' | 'retry'>): Promise<Remote> {
  const spec = parseRemote(args.remote);
  const remote = await inContext(`cannot open ${display}`, () => openRemote(args.remote, { env: io.env, ...hooks }), spec);
  try {
    await inContext(`cannot mount ${display}`, () => remote.container.listPage({ prefix: remote.prefix, delimiter: '/', maxKeys: 1 }), spec);
    return remote;
  } catch (e) {
    await remote.close().catch(() => undefined);
    throw e;
  }
}

function fileSystemOptions(args: MountArgs, remote: Remote, cacheDir: string, log: Log) {
  const seconds = (s: number) => Math.round(s * 1000);
  return {
    container: remote.container,
    prefix: remote.prefix,
    cacheDir,
    // The URL as written names the cache's remote: endpoint and options included.
    remote: args.remote,
    attrTtlMs: seconds(args.attrTtl),
    dirTtlMs: seconds(args.dirTtl),
    negativeTtlMs: seconds(args.negativeTtl),
    uid: args.uid,
    gid: args.gid,
    fileMode: args.fileMode,
    dirMode: args.dirMode,
    exactAttrs: args.exactAttrs,
    readOnly: args.readOnly,
    log,
    // DataTuning (vfs/control.ts): the data path's own defaults where the user set nothing.
    writeMode: args.writeMode,
    ...(args.cacheSize !== undefined && { cacheBytes: args.cacheSize }),
    ...(args.memoryLimit !== undefined && { memoryLimitBytes: args.memoryLimit }),
  };
}

/** What the start-up has established so far. */
interface Context {
  args: MountArgs;
  log: Log;
  display: string;
  lifecycle: Lifecycle;
  hooks: MountHooks;
  /** The request trace (--trace-file, BUCKETFS_TRACE=1), if asked for. */
  trace: ObserveRequest | undefined;
  metrics: MountMetrics;
  env: NodeJS.ProcessEnv;
}

/** Builds the VFS, mounts it, prints the ready line and serves until stopped. */
async function serve(ctx: Context, remote: Remote, mountpoint: string, cacheDir: string): Promise<void> {
  const { args, log, display, lifecycle } = ctx;
  const fs = await inContext(`cannot open the cache in ${cacheDir}`, () => createFileSystem(fileSystemOptions(args, remote, cacheDir, log)));
  let mounted: MountedFileSystem | undefined;
  let watching: Watching | undefined;
  try {
    lifecycle.checkpoint();
    // The control socket and metrics endpoint (daemon/control/watch.ts) come up first: a failure there mounts nothing.
    watching = await inContext(`cannot start the control socket of ${mountpoint}`, () => startWatching({
      fs, remote, mountpoint, display, cacheDir, readOnly: args.readOnly, metrics: ctx.metrics, metricsAddress: args.metricsAddress,
      fuseStats: () => mounted?.stats.snapshot() ?? {}, env: ctx.env, log,
    }));
    mounted = await inContext(`cannot mount ${display} on ${mountpoint}`, () =>
      mountFileSystem(fs, mountpoint, { source: display, allowOther: args.allowOther, readOnly: args.readOnly, log, observe: (o) => ctx.metrics.observeFuse(o) }));
  } catch (e) {
    await watching?.close().catch(() => undefined);
    await fs.close().catch(() => undefined);
    throw e;
  }
  const line = `mounted ${display} on ${mountpoint}`;
  log('info', line);
  ctx.hooks.ready?.({ mountpoint, display, cacheDir, line: `bucketfs: ${line}` });
  try {
    await lifecycle.serve(mounted, fs);
  } finally {
    await watching.close().catch(() => undefined);
  }
}

/** Opens the remote, claims the cache dir, serves; releases both however it ends. */
async function withRemote(ctx: Context, mountpoint: string, io: Io): Promise<void> {
  const remote = await openChecked(ctx.args, ctx.display, io, remoteHooks(ctx.metrics, ctx.trace));
  try {
    ctx.lifecycle.checkpoint();
    const cacheDir = ctx.args.cacheDir === undefined ? defaultCacheDir(ctx.args.remote, io.env) : resolve(ctx.args.cacheDir);
    const release = await claimCacheDir(cacheDir, { pid: process.pid, mountpoint, remote: ctx.display });
    try {
      await serve(ctx, remote, mountpoint, cacheDir);
    } finally {
      await release();
    }
  } finally {
    await remote.close().catch(() => undefined);
  }
}

export async function runMount(args: MountArgs, io: Io, hooks: MountHooks = {}): Promise<void> {
  const spec = parseRemote(args.remote);
  const logOptions = { ...(args.logLevel && { level: args.logLevel }), ...(args.logFormat && { format: args.logFormat }), ...(args.traceFile && { traceFile: args.traceFile }) };
  const { log, trace } = createDaemonLogger(io.stderr, io.env, logOptions);
  const ctx: Context = { args, log, display: displayKey(spec, spec.prefix), lifecycle: new Lifecycle(log, hooks), hooks, trace, metrics: new MountMetrics(), env: io.env };
  try {
    await checkFuseAvailable(io.env);
    const mountpoint = await prepareMountpoint(args.mountpoint, log);
    ctx.lifecycle.checkpoint();
    await withRemote(ctx, mountpoint, io);
  } finally {
    ctx.lifecycle.dispose();
  }
}
