/**
 * `bucketfs check MOUNTPOINT|REMOTE [--abort-orphans] [--min-age S] [--json]`:
 * what a mount of the bucket hides or leaves behind — keys that cannot be
 * shown as files, orphaned multipart uploads (aborted with --abort-orphans)
 * and, for a running mount (asked over its control socket, so its own
 * metadata cache is compared), cached entries the bucket no longer agrees
 * with. Exit 0 when nothing is found, 1 when something is (the report says
 * what), other codes when the check itself fails.
 */
import type { Argv } from 'yargs';
import { defineCommand, withJson, withLocation, type Io } from '../command.js';
import { DEFAULT_ORPHAN_AGE_SECONDS, runCheck } from '../control/check.js';
import { clientFor } from '../control/client.js';
import type { CheckOptions, CheckReport } from '../control/protocol.js';
import { EXIT, ReportedFailure, UsageError } from '../exit-codes.js';
import { inContext } from '../failure.js';
import { printable, writeJson, writeLines } from '../format.js';
import { isRemoteUrl, withTarget } from '../locations.js';

interface CheckArgs {
  target: string;
  abortOrphans: boolean;
  minAge: number;
  json: boolean;
}

/** A listing of a million keys takes minutes; the answer starts only when the check is done. */
const CHECK_TIMEOUT_MS = 60 * 60_000;

function problems(report: CheckReport): number {
  return report.hostileKeys.length + report.orphanUploads.filter((u) => u.aborted !== true).length + (report.cache?.disagreements.length ?? 0);
}

function text(report: CheckReport, target: string): string[] {
  const lines = [`checked ${printable(report.remote)}: ${report.keysScanned} keys${report.cache === undefined ? '' : `, ${report.cache.entriesChecked} cached entries`}`];
  if (report.hostileKeys.length > 0) lines.push(`keys that cannot be shown as files: ${report.hostileKeys.length}`);
  for (const k of report.hostileKeys) lines.push(`  ${JSON.stringify(k.key)}  ${k.reason}`);
  const aborted = report.orphanUploads.filter((u) => u.aborted === true).length;
  if (report.orphanUploads.length > 0) {
    lines.push(`orphaned multipart uploads: ${report.orphanUploads.length}${aborted > 0 ? `, ${aborted} aborted` : ' (--abort-orphans aborts them)'}`);
  }
  for (const u of report.orphanUploads) lines.push(`  ${printable(u.key)}  upload ${u.uploadId}${u.initiated === undefined ? '' : `, started ${u.initiated}`}${u.aborted === true ? ', aborted' : ''}`);
  const disagreements = report.cache?.disagreements ?? [];
  if (disagreements.length > 0) lines.push(`cached entries the bucket disagrees with: ${disagreements.length} (bucketfs invalidate ${target} refreshes them)`);
  for (const d of disagreements) lines.push(`  ${printable(d.path)}  ${d.problem}`);
  if (problems(report) === 0) lines.push(report.orphanUploads.length > 0 ? 'no problems left' : 'no problems found');
  return lines;
}

async function checkMount(mountpoint: string, options: CheckOptions, io: Io): Promise<CheckReport> {
  const client = await clientFor(mountpoint, io.env);
  return client.json<CheckReport>('POST', '/check', { body: options, timeoutMs: CHECK_TIMEOUT_MS, signal: io.signal });
}

function checkRemote(url: string, options: CheckOptions, io: Io): Promise<CheckReport> {
  return withTarget(url, io, (target) =>
    inContext(`cannot check ${target.display}`, () => runCheck(target.container, target.prefix, target.display, options), target.spec));
}

async function check(args: CheckArgs, io: Io): Promise<void> {
  if (!(args.minAge >= 0)) throw new UsageError('--min-age must be a number of seconds, 0 or more');
  const options: CheckOptions = { abortOrphans: args.abortOrphans, minAgeSeconds: args.minAge };
  const report = isRemoteUrl(args.target) ? await checkRemote(args.target, options, io) : await checkMount(args.target, options, io);
  if (args.json) writeJson(io, report);
  else writeLines(io, text(report, args.target));
  const found = problems(report);
  if (found > 0) {
    io.stderr.write(`bucketfs: check found ${found} problem${found === 1 ? '' : 's'} in ${printable(report.remote)}\n`);
    throw new ReportedFailure(EXIT.other);
  }
}

export const checkCommand = defineCommand<CheckArgs>({
  command: 'check <target>',
  describe: 'Report keys a mount cannot show, orphaned multipart uploads and stale cache entries',
  examples: [
    ['$0 check /mnt/photos', 'check a running mount, its cache included'],
    ['$0 check s3://photos/2024/', 'check a bucket (or a prefix) without mounting it'],
    ['$0 check s3://photos --abort-orphans --min-age 86400', 'abort multipart uploads older than a day'],
  ],
  options: (yargs) =>
    withJson(withLocation(yargs, 'target', 'A mountpoint, or a remote URL')
      .option('abort-orphans', { type: 'boolean', default: false, describe: 'Abort the orphaned multipart uploads found' })
      .option('min-age', { type: 'number', default: DEFAULT_ORPHAN_AGE_SECONDS, describe: 'Seconds a multipart upload must have been pending to count as orphaned' })) as unknown as Argv<CheckArgs>,
  run: check,
});
