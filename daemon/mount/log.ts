/**
 * The daemon's log: one line per event on stderr (journald adds the time
 * when run as a service), secrets scrubbed, control characters escaped:
 *   bucketfs: mounted s3://photos/ on /mnt/photos
 *   bucketfs: warning: skipped key 'a//b': not a valid file name (key=a//b)
 * Debug lines only with BUCKETFS_DEBUG=1. The VFS and the FUSE adapter get
 * this as their `log` function; they never write to stderr themselves.
 */
import type { Log, LogLevel } from '../../vfs/fuse-adapter.js';
import { scrubSecrets } from '../failure.js';
import { oneLine } from '../format.js';

const LABEL: Record<LogLevel, string> = { debug: 'debug: ', info: '', warn: 'warning: ', error: 'error: ' };

function formatValue(value: unknown): string {
  const text = typeof value === 'string' ? value : value instanceof Error ? value.message : JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return /^[\w./:@+-]*$/.test(text ?? '') ? (text ?? '') : JSON.stringify(text);
}

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return '';
  const parts = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${formatValue(v)}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

export function stderrLog(stderr: NodeJS.WritableStream, env: NodeJS.ProcessEnv): Log {
  const debug = env['BUCKETFS_DEBUG'] === '1';
  return (level, message, fields) => {
    if (level === 'debug' && !debug) return;
    stderr.write(`bucketfs: ${LABEL[level]}${scrubSecrets(oneLine(message + formatFields(fields)), env)}\n`);
  };
}
