/**
 * The mount options, written once. Each row gives the flag (`--cache-size`),
 * its type, help text and built-in default; the command-line flags, the
 * `-o cache_size=4G` mount strings, the `BUCKETFS_CACHE_SIZE` environment
 * variable and the `cache_size = "4G"` config key are all derived from this
 * table, so the four always mean the same thing. Parsing a value names where
 * it came from, so a bad one is reported where the user wrote it.
 */
import type { WriteMode } from '../../vfs/control.js';
import { parseSize } from '../format.js';
import { UsageError } from '../exit-codes.js';

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

/** Every mount setting once resolved (built-in defaults filled in). */
export interface MountSettings {
  cacheDir: string | undefined;
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
  writeMode: WriteMode;
  cacheSize: number | undefined;
  memoryLimit: number | undefined;
  /** undefined: the logger decides (BUCKETFS_DEBUG=1 means debug, else info). */
  logLevel: LogLevelName | undefined;
  /** undefined: text, or JSON lines under journald. */
  logFormat: 'text' | 'json' | undefined;
  logFile: string | undefined;
  traceFile: string | undefined;
  /** [HOST:]PORT for Prometheus over TCP (loopback unless a host is named); undefined: only the control socket. */
  metricsAddress: string | undefined;
}

export type SettingKey = keyof MountSettings;

type ValueType = 'boolean' | 'path' | 'seconds' | 'id' | 'mode' | 'size' | 'choice';

export interface OptionSpec {
  /** The flag without dashes; -o and config keys are its snake_case form, the variable BUCKETFS_ + upper snake. */
  flag: string;
  key: SettingKey;
  type: ValueType;
  describe: string;
  choices?: readonly string[];
  /** How the built-in default is shown in --help. */
  shownDefault?: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { flag: 'cache-dir', key: 'cacheDir', type: 'path', describe: 'Cache directory', shownDefault: '$XDG_CACHE_HOME/bucketfs/<hash of REMOTE>' },
  { flag: 'cache-size', key: 'cacheSize', type: 'size', describe: 'Bound on the disk cache, e.g. 512M, 4G, 1.5GiB', shownDefault: '4G' },
  { flag: 'memory-limit', key: 'memoryLimit', type: 'size', describe: 'Bound on data buffered in memory (upload parts and chunk buffers, half each), e.g. 256M', shownDefault: '128M' },
  { flag: 'write-mode', key: 'writeMode', type: 'choice', choices: ['sync', 'async'], describe: 'sync: close/fsync return once the file is in the bucket; async: once it is journaled locally' },
  { flag: 'attr-ttl', key: 'attrTtl', type: 'seconds', describe: 'Seconds cached attributes are trusted before a lookup asks the bucket again' },
  { flag: 'dir-ttl', key: 'dirTtl', type: 'seconds', describe: 'Seconds a directory listing stays fresh' },
  { flag: 'negative-ttl', key: 'negativeTtl', type: 'seconds', describe: 'Seconds a "does not exist" answer is cached' },
  { flag: 'uid', key: 'uid', type: 'id', describe: 'Owner of files without stored attributes', shownDefault: 'the daemon\'s' },
  { flag: 'gid', key: 'gid', type: 'id', describe: 'Group of files without stored attributes', shownDefault: 'the daemon\'s' },
  { flag: 'file-mode', key: 'fileMode', type: 'mode', describe: 'Mode (octal) of files without stored attributes' },
  { flag: 'dir-mode', key: 'dirMode', type: 'mode', describe: 'Mode (octal) of directories without stored attributes' },
  { flag: 'exact-attrs', key: 'exactAttrs', type: 'boolean', describe: 'Listings also read each object\'s stored attributes (trees written by s3fs, rclone…; one HEAD per entry)' },
  { flag: 'allow-other', key: 'allowOther', type: 'boolean', describe: 'Let other users use the mount (non-root needs user_allow_other in /etc/fuse.conf)' },
  { flag: 'read-only', key: 'readOnly', type: 'boolean', describe: 'Mount read-only (-o ro)' },
  { flag: 'log-level', key: 'logLevel', type: 'choice', choices: ['debug', 'info', 'warn', 'error'], describe: 'Least severe log lines written', shownDefault: 'info (debug with BUCKETFS_DEBUG=1)' },
  { flag: 'log-format', key: 'logFormat', type: 'choice', choices: ['text', 'json'], describe: 'Log lines as text or JSON', shownDefault: 'text; json under journald' },
  { flag: 'log-file', key: 'logFile', type: 'path', describe: 'Where a background mount logs', shownDefault: '$XDG_STATE_HOME/bucketfs/<mountpoint>.log' },
  { flag: 'trace-file', key: 'traceFile', type: 'path', describe: 'Log every object-store request to this file (JSON lines, mode 600)', shownDefault: 'off' },
  { flag: 'metrics-address', key: 'metricsAddress', type: 'path', describe: 'Also serve Prometheus metrics over TCP at [HOST:]PORT (loopback unless a host is named), e.g. 127.0.0.1:9100', shownDefault: 'off (the control socket serves /metrics)' },
];

/** The defaults of every option; `bucketfs demo` mounts with them too. */
export function builtinSettings(): MountSettings {
  return {
    cacheDir: undefined,
    attrTtl: 30,
    dirTtl: 30,
    negativeTtl: 5,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    fileMode: 0o644,
    dirMode: 0o755,
    exactAttrs: false,
    allowOther: false,
    readOnly: false,
    writeMode: 'sync',
    cacheSize: undefined,
    memoryLimit: undefined,
    logLevel: undefined,
    logFormat: undefined,
    logFile: undefined,
    traceFile: undefined,
    metricsAddress: undefined,
  };
}

/** cache-size → cache_size (-o and config files). */
export function snakeName(spec: OptionSpec): string {
  return spec.flag.replaceAll('-', '_');
}

/** cache-size → BUCKETFS_CACHE_SIZE. */
export function envName(spec: OptionSpec): string {
  return `BUCKETFS_${snakeName(spec).toUpperCase()}`;
}

/** An option by its -o / config name; dashes and underscores are the same. */
export function optionNamed(name: string): OptionSpec | undefined {
  const wanted = name.trim().toLowerCase().replaceAll('-', '_');
  return OPTIONS.find((spec) => snakeName(spec) === wanted);
}

export function optionFor(key: SettingKey): OptionSpec {
  const spec = OPTIONS.find((s) => s.key === key);
  if (spec === undefined) throw new Error(`no option for ${key}`);
  return spec;
}

/** A value as written somewhere, and where: "--cache-size", "-o cache_size", "BUCKETFS_CACHE_SIZE", "config.toml [defaults] cache_size". */
export interface RawValue {
  value: string | number | boolean;
  where: string;
}

const BOOLEAN_TEXT: Record<string, boolean> = { true: true, yes: true, on: true, '1': true, false: false, no: false, off: false, '0': false };

function parseBoolean(value: string | number | boolean): boolean {
  const parsed = typeof value === 'boolean' ? value : BOOLEAN_TEXT[String(value).trim().toLowerCase()];
  if (parsed === undefined) throw new Error(`invalid value '${value}' (expected true or false)`);
  return parsed;
}

function parseSeconds(value: string | number | boolean): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim().replace(/s$/, ''));
  if (typeof value === 'boolean' || String(value).trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new Error(`invalid value '${value}' (expected a number of seconds, 0 or more)`);
  }
  return n;
}

function parseId(value: string | number | boolean): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_fffe) throw new Error(`invalid value '${value}' (expected a numeric id, e.g. 1000)`);
  return n;
}

/** "644", "0644", "0o644" → 0o644; only permission bits. */
export function parseMode(value: string | number | boolean): number {
  const match = /^(?:0o?)?([0-7]{1,4})$/i.exec(String(value).trim());
  if (match === null || typeof value === 'boolean') throw new Error(`invalid mode '${value}' (expected octal permission bits, e.g. 644)`);
  return parseInt(match[1]!, 8);
}

function parseChoice(spec: OptionSpec, value: string | number | boolean): string {
  const text = String(value).trim().toLowerCase();
  if (!(spec.choices ?? []).includes(text)) throw new Error(`invalid value '${value}' (expected one of: ${(spec.choices ?? []).join(', ')})`);
  return text;
}

function parsePath(value: string | number | boolean): string {
  const text = String(value);
  if (typeof value !== 'string' || text.trim() === '') throw new Error(`invalid value '${value}' (expected a path)`);
  return text;
}

function convert(spec: OptionSpec, value: string | number | boolean): MountSettings[SettingKey] {
  switch (spec.type) {
    case 'boolean':
      return parseBoolean(value);
    case 'seconds':
      return parseSeconds(value);
    case 'id':
      return parseId(value);
    case 'mode':
      return parseMode(value);
    case 'size':
      if (typeof value === 'boolean') throw new Error(`invalid size '${value}'`);
      return parseSize(value);
    case 'choice':
      return parseChoice(spec, value) as MountSettings['writeMode' | 'logLevel' | 'logFormat'];
    case 'path':
      return parsePath(value);
    default: {
      const unknown: never = spec.type;
      return unknown;
    }
  }
}

/** The typed value of `raw`; a bad one is a UsageError naming where it was written. */
export function parseOption(spec: OptionSpec, raw: RawValue): MountSettings[SettingKey] {
  try {
    return convert(spec, raw.value);
  } catch (e) {
    const why = (e as Error).message.replace(/ \(expected e\.g\. 8MiB, 16M or a number of bytes\)$/, ' (expected e.g. 512M, 4G, 1.5GiB or a number of bytes)');
    throw new UsageError(`${raw.where}: ${why}`);
  }
}
