/**
 * Progress bars: bytes for `cp`'s transfers, files for `flush`. Drawn on
 * stderr only when stderr is a terminal (and not under --json); otherwise
 * every call is a no-op, so scripts and logs see nothing. Transfers report
 * cumulative bytes per object; this turns them into one running total.
 */
import cliProgress from 'cli-progress';
import type { Params } from 'cli-progress';
import type { Io } from './command.js';
import { formatDuration, formatSize } from './format.js';

export interface Progress {
  /** A fresh `onProgress` for one object: it is called with that object's bytes so far. */
  track(): (bytesSoFar: number) => void;
  /** More bytes to transfer than first planned (e.g. a size learned late). */
  expect(bytes: number): void;
  fileDone(): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { track: () => () => undefined, expect: () => undefined, fileDone: () => undefined, stop: () => undefined };

/** Characters in the bar itself. */
const BAR_WIDTH = 24;

function bar(fraction: number): string {
  const done = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'#'.repeat(done)}${'.'.repeat(BAR_WIDTH - done)}]`;
}

interface Payload {
  files: number;
  filesDone: number;
  sizeKnown: boolean;
}

function render(params: Params, payload: Payload): string {
  const elapsed = Math.max(1, Date.now() - params.startTime);
  const speed = `${formatSize((params.value * 1000) / elapsed)}/s`;
  const files = payload.files > 1 ? ` | ${payload.filesDone}/${payload.files} files` : '';
  if (!payload.sizeKnown || params.total <= 0) return `${formatSize(params.value)} | ${speed}${files}`;
  const eta = params.value > 0 ? ` | ETA ${formatDuration(((params.total - params.value) * elapsed) / params.value)}` : '';
  return `${bar(params.value / params.total)} ${formatSize(params.value)}/${formatSize(params.total)} | ${speed}${files}${eta}`;
}

/** A bar for `files` objects of `bytes` in total (undefined: not known up front). */
export function startProgress(io: Io, plan: { files: number; bytes: number | undefined }, enabled: boolean): Progress {
  if (!enabled || io.stderr.isTTY !== true) return NO_PROGRESS;
  const payload: Payload = { files: plan.files, filesDone: 0, sizeKnown: plan.bytes !== undefined };
  const view = new cliProgress.SingleBar({
    stream: io.stderr,
    format: (_options, params, current: Payload) => render(params, current),
    clearOnComplete: true,
    hideCursor: true,
    fps: 5,
  });
  let total = plan.bytes ?? 0;
  let value = 0;
  view.start(total, 0, payload);
  return {
    track: () => {
      let seen = 0;
      return (bytesSoFar) => {
        value += bytesSoFar - seen;
        seen = bytesSoFar;
        view.update(value, payload);
      };
    },
    expect: (bytes) => {
      total += bytes;
      view.setTotal(total);
    },
    fileDone: () => {
      payload.filesDone++;
      view.update(value, payload);
    },
    stop: () => view.stop(),
  };
}

export interface CountProgress {
  update(done: number, total: number): void;
  stop(): void;
}

/** A bar counting files (`flush`, `check`): drawn only on a terminal, like the transfer bar. */
export function startCountProgress(io: Io, label: string, enabled: boolean): CountProgress {
  if (!enabled || io.stderr.isTTY !== true) return { update: () => undefined, stop: () => undefined };
  const view = new cliProgress.SingleBar({
    stream: io.stderr,
    format: (_options, params) => `${label} ${bar(params.total > 0 ? params.value / params.total : 0)} ${params.value}/${params.total} files`,
    clearOnComplete: true,
    hideCursor: true,
    fps: 5,
  });
  view.start(0, 0);
  return {
    update: (done, total) => {
      view.setTotal(total);
      view.update(done);
    },
    stop: () => view.stop(),
  };
}
