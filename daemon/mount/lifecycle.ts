/**
 * A mount's life once it serves, and its signals from the start:
 * - SIGINT/SIGTERM/SIGHUP, or the mount vanishing (`bucketfs unmount`, `umount` by
 *   hand), start the stop: new opens and changes are refused, the mount goes
 *   away, requests in flight finish, then fs.close() flushes every dirty
 *   file to the bucket (see stop());
 * - a signal during that flush is logged loudly and otherwise ignored:
 *   stopping halfway would lose data the bucket does not have yet (kill -9
 *   is the user's way to give up on it);
 * - a signal before the mount serves stops the start-up (exit 130), a
 *   second one at once (nothing is mounted, nothing to lose).
 * The command line's own SIGINT handling (exit at the second Ctrl-C) is set
 * aside while a mount runs, and restored after.
 */
import type { FileSystem } from '../../vfs/types.js';
import { fuseMountAt, type Log, type MountedFileSystem } from '../../vfs/fuse-adapter.js';
import { EXIT, InterruptedError } from '../exit-codes.js';

/** How often the mount table is checked for an unmount done from outside: the delay before such a daemon exits. */
const UNMOUNT_POLL_MS = 500;

/** Told about the mount's life: a background parent waiting on a pipe, systemd (Type=notify). */
export interface MountHooks {
  /** The mount serves; `line` is the ready line the log printed. */
  ready?(info: { mountpoint: string; display: string; cacheDir: string; line: string }): void;
  /** The mount stops: flushing, then unmounting. */
  stopping?(): void;
}

/** SIGHUP too: a closed terminal should not cost the files still to be flushed. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export class Lifecycle {
  private stopReason: string | undefined;
  private wake: (() => void) | undefined;
  private serving = false;
  private stopping = false;
  private readonly saved = new Map<NodeJS.Signals, NodeJS.SignalsListener[]>();
  private readonly onSignal = (signal: NodeJS.Signals) => this.signalled(signal);

  constructor(private readonly log: Log, private readonly hooks: MountHooks = {}) {
    for (const signal of STOP_SIGNALS) {
      this.saved.set(signal, process.listeners(signal));
      process.removeAllListeners(signal);
      process.on(signal, this.onSignal);
    }
  }

  private signalled(signal: NodeJS.Signals): void {
    // Before the mount serves nothing can be lost: a second signal ends a start-up stuck on an unreachable remote.
    if (!this.serving && this.stopReason !== undefined) process.exit(EXIT.interrupted);
    if (this.stopping) {
      this.log('warn', `${signal} received while flushing files to the bucket: still flushing, stopping now would lose data (kill -9 abandons it)`);
      return;
    }
    this.requestStop(signal);
  }

  private requestStop(reason: string): void {
    this.stopReason ??= reason;
    this.wake?.();
  }

  /** Start-up checkpoint: throws when a signal arrived before the mount served. */
  checkpoint(): void {
    if (this.stopReason !== undefined) throw new InterruptedError(`mount stopped by ${this.stopReason} before it served`);
  }

  /** Serves until a signal or an outside unmount, then drains, flushes (fs.close) and unmounts. */
  async serve(mounted: MountedFileSystem, fs: FileSystem): Promise<void> {
    this.serving = true;
    const watch = await this.watchUnmount(mounted.mountpoint);
    try {
      if (this.stopReason === undefined) await new Promise<void>((resolve) => (this.wake = resolve));
    } finally {
      clearInterval(watch);
    }
    await this.stop(mounted, fs, this.stopReason ?? 'stop');
  }

  /**
   * The order matters: no new changes (drain), the kernel cut off (unmount:
   * later requests, a release that races the signal included, get EIO), every
   * request already handed to the VFS answered (drained), and only then the
   * VFS closed, flushing what is dirty. Closing first let a late release run
   * on a closed cache ("database connection is not open").
   */
  private async stop(mounted: MountedFileSystem, fs: FileSystem, reason: string): Promise<void> {
    this.stopping = true;
    this.log('info', `stopping (${reason}): flushing open files to the bucket`);
    this.hooks.stopping?.();
    mounted.drain();
    await mounted.unmount();
    this.log('info', `unmounted ${mounted.mountpoint}`);
    await mounted.drained();
    let failure: unknown;
    try {
      await fs.close();
    } catch (e) {
      failure = e;
      this.log('error', `flushing files on stop failed: ${(e as Error).message}`);
    }
    const served = Object.entries(mounted.stats.snapshot()).map(([op, c]) => [op, `${c.count}/${c.errors} err/${c.maxMs.toFixed(1)}ms max`]);
    this.log('debug', 'operations served', Object.fromEntries(served));
    if (failure !== undefined) throw failure;
  }

  /** Notices the mount going away from outside (bucketfs unmount = fusermount -u). */
  private async watchUnmount(mountpoint: string): Promise<NodeJS.Timeout> {
    const ours = (await fuseMountAt(mountpoint))?.mountId;
    return setInterval(() => {
      fuseMountAt(mountpoint).then(
        (now) => (now?.mountId !== ours ? this.requestStop(`${mountpoint} was unmounted`) : undefined),
        () => undefined,
      );
    }, UNMOUNT_POLL_MS);
  }

  /** Gives the signals back to whoever had them before. */
  dispose(): void {
    for (const [signal, listeners] of this.saved) {
      process.off(signal, this.onSignal);
      for (const listener of listeners) process.on(signal, listener);
    }
    this.saved.clear();
  }
}
