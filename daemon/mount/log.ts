/**
 * The daemon's logs, through pino: levels, one line per event, secrets
 * scrubbed. Two streams that never mix:
 * - the execution log (`Log`): what the daemon does and what went wrong, to
 *   stderr; the VFS and the FUSE adapter get it as their `log` function and
 *   never write to stderr themselves;
 * - the request trace: one line per object-store request (operation,
 *   bucket/key, outcome, status, ms, bytes), on its own logger — to a file
 *   (`--trace-file`, JSON lines, mode 0600) or, with BUCKETFS_TRACE=1, to
 *   stderr marked `"trace":true` (text: `bucketfs: trace: …`), so grep and
 *   the destination both separate it.
 * Format: text lines on stderr by default —
 *   bucketfs: mounted s3://photos/ on /mnt/photos
 *   bucketfs: warning: skipped key 'a//b': not a valid file name (key=a//b)
 * — because the ready line and error lines are the command line's contract
 * (scripts, the background parent and tests read them); JSON lines (pino's
 * own) under journald (JOURNAL_STREAM) or with --log-format json.
 * Level: --log-level, else BUCKETFS_LOG_LEVEL, else debug with
 * BUCKETFS_DEBUG=1, else info.
 */
import { openSync } from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { ObservedRequest } from '../../drivers/decorators/observe.js';
import type { Log, LogLevel } from '../../vfs/fuse-adapter.js';
import { scrubSecrets } from '../failure.js';
import { oneLine } from '../format.js';

export type LogFormat = 'text' | 'json';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export interface LogOptions {
  level?: string;
  format?: string;
  /** Where the request trace goes (JSON lines); BUCKETFS_TRACE=1 sends it to stderr instead. */
  traceFile?: string;
}

export interface DaemonLogger {
  log: Log;
  /** Set when a trace was asked for: one line per object-store request. */
  trace: ((request: ObservedRequest) => void) | undefined;
}

const LABEL: Record<string, string> = { debug: 'debug: ', info: '', warn: 'warning: ', error: 'error: ' };

/** Signed-URL signatures and Authorization headers, whatever produced the text. */
const SIGNATURES = /((?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|OSSAccessKeyId|security-token)=)[^&\s"']+|(Authorization["']?\s*[:=]\s*["']?)[^"'\n]+/gi;

export function scrubLogText(text: string, env: NodeJS.ProcessEnv): string {
  return scrubSecrets(text, env).replace(SIGNATURES, (_, query: string | undefined, header: string | undefined) => `${query ?? header ?? ''}[redacted]`);
}

function formatValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[\w./:@+-]*$/.test(text ?? '') ? (text ?? '') : JSON.stringify(text);
}

/** pino's JSON line as the one-line text format. */
function textLine(json: string): string {
  const { level, msg, time: _time, trace, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const label = trace === true ? 'trace: ' : (LABEL[pino.levels.labels[level as number] ?? 'info'] ?? '');
  // A trace line's message already names the operation and the object.
  const shown = Object.entries(fields).filter(([k]) => trace !== true || !['op', 'bucket', 'key'].includes(k));
  const parts = shown.map(([k, v]) => `${k}=${formatValue(v)}`);
  return `bucketfs: ${label}${String(msg ?? '')}${parts.length === 0 ? '' : ` (${parts.join(', ')})`}`;
}

/** Writes pino's lines to `out`, scrubbed, as text or JSON. */
function destination(out: { write(line: string): unknown }, format: LogFormat, env: NodeJS.ProcessEnv): DestinationStream {
  return {
    write: (line: string) => {
      const shown = format === 'text' ? textLine(line) : line.trimEnd();
      out.write(`${scrubLogText(oneLine(shown), env)}\n`);
    },
  };
}

function pick<T extends string>(what: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`invalid ${what} '${value}' (expected ${allowed.join(', ')})`);
}

export function logLevel(options: LogOptions, env: NodeJS.ProcessEnv): LogLevel {
  return pick('log level', options.level, LOG_LEVELS) ?? pick('BUCKETFS_LOG_LEVEL', env['BUCKETFS_LOG_LEVEL'], LOG_LEVELS) ?? (env['BUCKETFS_DEBUG'] === '1' ? 'debug' : 'info');
}

export function logFormat(options: LogOptions, env: NodeJS.ProcessEnv): LogFormat {
  return pick('log format', options.format, LOG_FORMATS) ?? pick('BUCKETFS_LOG_FORMAT', env['BUCKETFS_LOG_FORMAT'], LOG_FORMATS) ?? (env['JOURNAL_STREAM'] !== undefined ? 'json' : 'text');
}

function pinoFor(out: NodeJS.WritableStream, level: string, format: LogFormat, env: NodeJS.ProcessEnv): Logger {
  const base = format === 'json' ? { pid: process.pid } : null;
  return pino({ level, base, timestamp: format === 'json' ? pino.stdTimeFunctions.isoTime : false }, destination(out, format, env));
}

function traceLogger(stderr: NodeJS.WritableStream, format: LogFormat, env: NodeJS.ProcessEnv, traceFile: string | undefined): Logger | undefined {
  if (traceFile !== undefined) {
    // Owner-only: keys and bucket names are the operator's business.
    const file = pino.destination({ fd: openSync(traceFile, 'a', 0o600), sync: true });
    return pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime }, destination(file, 'json', env));
  }
  return env['BUCKETFS_TRACE'] === '1' ? pinoFor(stderr, 'info', format, env) : undefined;
}

function traceFields(r: ObservedRequest): Record<string, unknown> {
  const fields: Record<string, unknown> = { trace: true, op: r.op, bucket: r.bucket, key: r.key, outcome: r.outcome, status: r.status, ms: Math.round(r.seconds * 1e6) / 1e3, bytesIn: r.bytesIn, bytesOut: r.bytesOut, error: r.error };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

export function createDaemonLogger(stderr: NodeJS.WritableStream, env: NodeJS.ProcessEnv, options: LogOptions = {}): DaemonLogger {
  const format = logFormat(options, env);
  const logger = pinoFor(stderr, logLevel(options, env), format, env);
  const log: Log = (level, message, fields) => logger[level](fields === undefined ? {} : withoutUndefined(fields), message);
  const tracer = traceLogger(stderr, format, env, options.traceFile);
  const trace = tracer === undefined ? undefined : (r: ObservedRequest) => tracer.info(traceFields(r), `${r.op} ${r.bucket ?? ''}/${r.key ?? ''}`);
  return { log, trace };
}

function withoutUndefined(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = v instanceof Error ? v.message : typeof v === 'bigint' ? v.toString() : v;
  }
  return out;
}
