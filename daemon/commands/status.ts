/**
 * `bucketfs status [MOUNTPOINT] [--json]`: what a running mount is doing —
 * pending uploads, cache use, errors, uptime, request counts — asked of its
 * daemon over the control socket. Without a mountpoint: one line per mount
 * of this user (the record and socket of a daemon that died are reported and removed).
 */
import { rm } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { defineCommand, withJson, type Io } from '../command.js';
import { clientFor, ControlClient } from '../control/client.js';
import { listRecords, recordPath, runtimeDir, type MountRecord } from '../control/paths.js';
import type { StatusDocument } from '../control/protocol.js';
import { fieldLines, formatDate, formatDuration, formatSize, printable, tableRow, writeJson, writeLines } from '../format.js';

interface StatusArgs {
  mountpoint?: string;
  json: boolean;
}

/** A mount in the list answers quickly or is shown as not answering. */
const LIST_TIMEOUT_MS = 3_000;

function uptime(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const [d, h, m] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)];
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

function details(doc: StatusDocument): string[] {
  const { cache, uploads, requests } = doc;
  const pendingBytes = uploads.pending.reduce((n, p) => n + p.bytes, 0);
  const lines = fieldLines([
    ['Mountpoint', printable(doc.mountpoint)],
    ['Remote', printable(doc.remote)],
    ['Daemon', `pid ${doc.pid}, up ${uptime(doc.uptimeSeconds)}, ${doc.writeMode} writes${doc.readOnly ? ', read-only' : ''}`],
    ['Cache', `${formatSize(cache.bytes)} of ${formatSize(cache.limitBytes)} (${formatSize(cache.dirtyBytes)} dirty, ${cache.chunks} chunks) in ${printable(doc.cacheDir)}`],
    ['Cache reads', `${cache.hits} hits, ${cache.misses} misses, ${cache.evictions} evictions`],
    ['Memory', `${formatSize(doc.memory.rssBytes)} resident, ${formatSize(doc.memory.bufferedBytes)} of ${formatSize(doc.memory.limitBytes)} in data buffers`],
    ['Uploads', `${uploads.pending.length} pending (${formatSize(pendingBytes)}), ${uploads.inFlight} in flight, ${uploads.completed} done, ${uploads.failed} failed, ${uploads.retries} retried`],
    ['Transferred', `${formatSize(doc.bytesDownloaded)} down, ${formatSize(doc.bytesUploaded)} up`],
    ['Requests', `${requests.total} to the object store, ${requests.failed} failed, ${requests.retries} retried`],
    ['Operations', `${doc.fuse.operations} FUSE requests, ${doc.fuse.errors} errors, ${doc.openFiles} open files`],
    ...(doc.metricsAddress === undefined ? [] : [['Metrics', `http://${doc.metricsAddress}/metrics`] as const]),
  ]);
  if (uploads.pending.length > 0) lines.push('Pending uploads:');
  for (const p of uploads.pending) {
    const error = p.lastError === undefined ? '' : `  last error: ${p.lastError}`;
    lines.push(`  ${printable(p.path)}  ${formatSize(p.bytes)}  ${p.attempts} attempts, waiting ${formatDuration(Date.now() - p.since)}${error}`);
  }
  if (doc.errors.length > 0) lines.push('Recent errors:');
  for (const e of doc.errors) lines.push(`  ${formatDate(new Date(e.at))}  ${e.path === undefined ? '' : `${printable(e.path)}: `}${e.message}`);
  return lines;
}

async function one(mountpoint: string, args: StatusArgs, io: Io): Promise<void> {
  const doc = await (await clientFor(mountpoint, io.env)).json<StatusDocument>('GET', '/status');
  if (args.json) writeJson(io, doc);
  else writeLines(io, details(doc));
}

type Listed = { record: MountRecord; status?: StatusDocument; problem?: string };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function probe(record: MountRecord, env: NodeJS.ProcessEnv): Promise<Listed> {
  try {
    return { record, status: await new ControlClient(record).json<StatusDocument>('GET', '/status', { timeoutMs: LIST_TIMEOUT_MS }) };
  } catch (e) {
    if (!isAlive(record.pid)) {
      await Promise.all([rm(recordPath(runtimeDir(env), record.mountpoint), { force: true }), rm(record.socket, { force: true })]);
      return { record, problem: 'daemon died (record removed)' };
    }
    return { record, problem: (e as Error).message };
  }
}

function row(l: Listed): string[] {
  const s = l.status;
  if (s === undefined) return [printable(l.record.mountpoint), printable(l.record.remote), String(l.record.pid), '-', '-', '-', l.problem ?? ''];
  const state = s.uploads.failed > 0 || s.errors.length > 0 ? `${s.errors.length} errors` : 'ok';
  return [printable(s.mountpoint), printable(s.remote), String(s.pid), uptime(s.uptimeSeconds), String(s.uploads.pending.length), formatSize(s.cache.bytes), state];
}

async function all(args: StatusArgs, io: Io): Promise<void> {
  const listed = await Promise.all((await listRecords(io.env)).map((r) => probe(r, io.env)));
  if (args.json) return writeJson(io, listed.map((l) => l.status ?? { mountpoint: l.record.mountpoint, remote: l.record.remote, pid: l.record.pid, problem: l.problem }));
  if (listed.length === 0) return writeLines(io, ['no bucketfs mounts (bucketfs mount REMOTE MOUNTPOINT starts one)']);
  const rows = [['MOUNTPOINT', 'REMOTE', 'PID', 'UP', 'PENDING', 'CACHE', 'STATE'], ...listed.map(row)];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  writeLines(io, rows.map((r) => tableRow(r, widths)));
}

export const status = defineCommand<StatusArgs>({
  command: 'status [mountpoint]',
  describe: 'Show what a mount is doing: pending uploads, cache use, errors, uptime (all mounts without MOUNTPOINT)',
  examples: [
    ['$0 status', 'one line per mount of this user'],
    ['$0 status /mnt/photos', 'pending uploads, cache, errors and request counts of one mount'],
    ['$0 status /mnt/photos --json', 'the same as one JSON document'],
  ],
  options: (yargs) => withJson(yargs.positional('mountpoint', { type: 'string', describe: 'Where the bucket is mounted' })) as Argv<StatusArgs>,
  run: (args, io) => (args.mountpoint === undefined ? all(args, io) : one(args.mountpoint, args, io)),
});
