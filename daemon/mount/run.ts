/**
 * `bucketfs mount` once its arguments are parsed: the checks that must fail
 * before anything is mounted (remote, bucket, FUSE, mountpoint, cache dir),
 * then the VFS, the FUSE mount, the ready line, and the lifecycle until the
 * mount stops. Runs in the foreground; returns when the mount is gone.
 */
import { resolve } from 'node:path';
import type { Remote } from '../../drivers/remote.js';
import { openRemote, parseRemote } from '../../drivers/remote.js';
import { createFileSystem } from '../../vfs/vfs.js';
import { mountFileSystem, type Log } from '../../vfs/fuse-adapter.js';
import type { Io } from '../command.js';
import { inContext } from '../failure.js';
import { displayKey } from '../locations.js';
import { claimCacheDir, defaultCacheDir } from './daemon-file.js';
import { Lifecycle } from './lifecycle.js';
import { stderrLog } from './log.js';
import { checkFuseAvailable, prepareMountpoint } from './mountpoint.js';

export interface MountArgs {
  remote: string;
  mountpoint: string;
  cacheDir?: string;
  attrTtl: number;
  dirTtl: number;
  negativeTtl: number;
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
  exactAttrs: boolean;
  allowOther: boolean;
  readOnly: boolean;
}

/** Opens the remote and checks the bucket is there and readable (one LIST of at most one key). */
async function openChecked(args: MountArgs, display: string, io: Io): Promise<Remote> {
  const spec = parseRemote(args.remote);
  const remote = await inContext(`cannot open ${display}`, () => openRemote(args.remote, { env: io.env }), spec);
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
  };
}

/** What the start-up has established so far. */
interface Context {
  args: MountArgs;
  log: Log;
  display: string;
  lifecycle: Lifecycle;
}

/** Builds the VFS, mounts it, prints the ready line and serves until stopped. */
async function serve(ctx: Context, remote: Remote, mountpoint: string, cacheDir: string): Promise<void> {
  const { args, log, display, lifecycle } = ctx;
  const fs = await inContext(`cannot open the cache in ${cacheDir}`, () => createFileSystem(fileSystemOptions(args, remote, cacheDir, log)));
  let mounted;
  try {
    lifecycle.checkpoint();
    mounted = await inContext(`cannot mount ${display} on ${mountpoint}`, () =>
      mountFileSystem(fs, mountpoint, { source: display, allowOther: args.allowOther, readOnly: args.readOnly, log }));
  } catch (e) {
    await fs.close().catch(() => undefined);
    throw e;
  }
  log('info', `mounted ${display} on ${mountpoint}`);
  await lifecycle.serve(mounted, fs);
}

/** Opens the remote, claims the cache dir, serves; releases both however it ends. */
async function withRemote(ctx: Context, mountpoint: string, io: Io): Promise<void> {
  const remote = await openChecked(ctx.args, ctx.display, io);
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

export async function runMount(args: MountArgs, io: Io): Promise<void> {
  const spec = parseRemote(args.remote);
  const log = stderrLog(io.stderr, io.env);
  const ctx: Context = { args, log, display: displayKey(spec, spec.prefix), lifecycle: new Lifecycle(log) };
  try {
    await checkFuseAvailable(io.env);
    const mountpoint = await prepareMountpoint(args.mountpoint, log);
    ctx.lifecycle.checkpoint();
    await withRemote(ctx, mountpoint, io);
  } finally {
    ctx.lifecycle.dispose();
  }
}
