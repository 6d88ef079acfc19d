/**
 * Telling whoever started the daemon that the mount serves:
 * - a background parent (`bucketfs mount` without -f) waits on a pipe, the
 *   daemon's fd `--daemon-ready-fd`: until the mount serves, every log line
 *   goes there too (the parent prints it), then one line `READY`, and the
 *   pipe is closed; a start-up failure sends its one-line reason and the
 *   daemon exits with its exit code, which the parent takes over;
 * - systemd (Type=notify, NOTIFY_SOCKET set): `systemd-notify --ready`, and
 *   STOPPING=1 when the stop begins. Node has no datagram Unix sockets, so
 *   the systemd-notify program sends them, with the daemon's pid (the unit
 *   says NotifyAccess=all).
 */
import { execFile } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Io } from '../command.js';
import { failureLine } from '../failure.js';
import type { MountHooks } from './lifecycle.js';

export const READY_LINE = 'READY';

/** The daemon's side of the ready pipe. */
export class ReadyPipe {
  private open = true;

  constructor(private readonly fd: number) {}

  private send(text: string): void {
    if (!this.open) return;
    try {
      writeSync(this.fd, text);
    } catch {
      this.open = false; // the parent is gone: the daemon goes on, its log file has everything
    }
  }

  private close(): void {
    if (!this.open) return;
    this.open = false;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  /** An Io whose stderr also reaches the parent until the mount serves. */
  teeIo(io: Io): Io {
    const stderr = new Writable({
      write: (chunk: Buffer | string, _encoding, done) => {
        this.send(chunk.toString());
        io.stderr.write(chunk, () => done());
      },
    });
    return { ...io, stderr };
  }

  hooks(): MountHooks {
    return {
      ready: () => {
        this.send(`${READY_LINE}\n`);
        this.close();
      },
    };
  }

  /** A start-up failure: its line goes to the parent (the daemon's own log gets it from the command line). */
  failed(e: unknown, env: NodeJS.ProcessEnv): void {
    this.send(`${failureLine(e, env)}\n`);
    this.close();
  }
}

function systemdNotify(args: string[], io: Io): void {
  execFile('systemd-notify', [`--pid=${process.pid}`, ...args], { env: io.env }, (error) => {
    if (error !== null) io.stderr.write(`bucketfs: warning: systemd-notify ${args.join(' ')} failed: ${error.message.split('\n')[0] ?? ''}\n`);
  });
}

/** Type=notify: READY=1 once the mount serves, STOPPING=1 when it stops; nothing without NOTIFY_SOCKET. */
export function systemdHooks(io: Io): MountHooks {
  if (io.env['NOTIFY_SOCKET'] === undefined || io.env['NOTIFY_SOCKET'] === '') return {};
  return {
    ready: ({ display, mountpoint }) => systemdNotify(['--ready', `--status=serving ${display} on ${mountpoint}`], io),
    stopping: () => systemdNotify(['--status=stopping: flushing files to the bucket', 'STOPPING=1'], io),
  };
}
