/**
 * The config file (TOML): named remotes and mount defaults.
 *
 *   [defaults]                 # any mount option, for every mount
 *   cache_size = "4G"
 *
 *   [remotes.photos]           # `bucketfs mount photos:` (or photos:2024/)
 *   url = "s3://photos/?endpoint=http://127.0.0.1:7480&region=us-east-1"
 *   profile = "backup"         # a section of the credentials file
 *   mountpoint = "/mnt/photos" # lets `bucketfs mount photos:` omit it
 *   read_only = true           # any mount option, for this remote
 *
 * Found at $BUCKETFS_CONFIG, else $XDG_CONFIG_HOME/bucketfs/config.toml
 * (~/.config/…), else /etc/bucketfs/config.toml; none is fine. It holds no
 * secrets: keys that look like one are refused, credentials stay in the
 * environment or the mode-600 credentials file. Every mistake is one
 * UsageError naming the file, the line and the known keys.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { defaultCredentialsFile } from '../../drivers/credentials.js';
import { UsageError } from '../exit-codes.js';
import { OPTIONS, optionNamed, snakeName, type OptionSpec, type RawValue } from './options.js';

export interface RemoteEntry {
  name: string;
  url: string;
  profile?: string;
  mountpoint?: string;
  options: Map<OptionSpec, RawValue>;
}

export interface ConfigFile {
  /** undefined: no config file was found. */
  path: string | undefined;
  defaults: Map<OptionSpec, RawValue>;
  remotes: Map<string, RemoteEntry>;
}

/** Names a remote may have: no ':' or '/', and not a URL scheme (`s3:` must stay a URL). */
const REMOTE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const RESERVED_NAMES = new Set(['s3', 'minio', 'oss', 'file', 'memory', 'http', 'https']);
const REMOTE_KEYS = ['url', 'profile', 'mountpoint'];
const SECRET_KEY = /secret|password|passwd|token|access_?key|credential/i;

/** Where the config file is looked for, in order. */
export function configCandidates(env: NodeJS.ProcessEnv): string[] {
  const explicit = env['BUCKETFS_CONFIG'];
  if (explicit !== undefined && explicit !== '') return [explicit];
  const xdg = env['XDG_CONFIG_HOME'];
  const userDir = xdg !== undefined && xdg.startsWith('/') ? xdg : join(env['HOME'] ?? homedir(), '.config');
  return [join(userDir, 'bucketfs', 'config.toml'), '/etc/bucketfs/config.toml'];
}

/**
 * The 1-based line where `key` is set in `section` (for messages), else the
 * section's header line, else 0. A header like [remotes.x] also matches key x of [remotes].
 */
function lineOf(text: string, section: string | undefined, key: string): number {
  const lines = text.split('\n');
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const header = section === undefined ? -1 : lines.findIndex((l) => l.replace(/\s+/g, '').startsWith(`[${section}]`));
  for (let i = header + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (new RegExp(`^\\s*["']?${escaped}["']?\\s*[=.]`).test(line)) return i + 1;
    if (line.replace(/\s+/g, '').startsWith(`[${section === undefined ? '' : `${section}.`}${key}]`)) return i + 1;
    if (header >= 0 && /^\s*\[/.test(line)) break;
  }
  return header + 1;
}

class Reader {
  constructor(private readonly path: string, private readonly text: string) {}

  fail(section: string | undefined, key: string, why: string): never {
    const line = lineOf(this.text, section, key);
    const where = `${this.path}${line > 0 ? `:${line}` : ''}`;
    throw new UsageError(`${where}: ${section === undefined ? '' : `[${section}] `}${key}: ${why}`);
  }

  table(section: string | undefined, key: string, value: unknown): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
      this.fail(section, key, 'expected a table');
    }
    return value as Record<string, unknown>;
  }

  /** The mount options of one section; other keys are `allowed` or a mistake. */
  options(section: string, values: Record<string, unknown>, allowed: string[]): Map<OptionSpec, RawValue> {
    const out = new Map<OptionSpec, RawValue>();
    for (const [key, value] of Object.entries(values)) {
      if (allowed.includes(key)) continue;
      if (SECRET_KEY.test(key)) {
        this.fail(section, key, `secrets do not belong in the config file; put them in ${defaultCredentialsFile()} (mode 600) and name its profile with profile = "…", or use the environment`);
      }
      const spec = optionNamed(key);
      if (spec === undefined) {
        const known = [...allowed, ...OPTIONS.map(snakeName)];
        this.fail(section, key, `unknown key; known keys: ${known.join(', ')}`);
      }
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') this.fail(section, key, 'expected a string, number or boolean');
      out.set(spec, { value, where: `${this.path} [${section}] ${key}` });
    }
    return out;
  }

  remote(name: string, value: unknown): RemoteEntry {
    const section = `remotes.${name}`;
    if (!REMOTE_NAME.test(name) || RESERVED_NAMES.has(name.toLowerCase())) {
      this.fail('remotes', name, `invalid remote name (letters, digits, '.', '_', '-'; not a URL scheme such as s3)`);
    }
    const values = this.table('remotes', name, value);
    const text = (key: string): string | undefined => {
      const v = values[key];
      if (v !== undefined && (typeof v !== 'string' || v === '')) this.fail(section, key, 'expected a non-empty string');
      return v as string | undefined;
    };
    const url = text('url');
    if (url === undefined) this.fail(section, 'url', 'missing: every remote needs url = "s3://bucket/prefix?endpoint=…" (or minio://, oss://, file:///dir)');
    const profile = text('profile');
    const mountpoint = text('mountpoint');
    return {
      name, url, options: this.options(section, values, REMOTE_KEYS),
      ...(profile !== undefined && { profile }),
      ...(mountpoint !== undefined && { mountpoint }),
    };
  }

  read(): ConfigFile {
    let doc: Record<string, unknown>;
    try {
      doc = parse(this.text) as Record<string, unknown>;
    } catch (e) {
      if (!(e instanceof TomlError)) throw e;
      const what = e.message.replace(/^Invalid TOML document: /, '').split('\n')[0] ?? 'invalid TOML';
      throw new UsageError(`${this.path}:${e.line}: not valid TOML: ${what}`);
    }
    const remotes = new Map<string, RemoteEntry>();
    let defaults = new Map<OptionSpec, RawValue>();
    for (const [key, value] of Object.entries(doc)) {
      if (key === 'defaults') defaults = this.options('defaults', this.table(undefined, key, value), []);
      else if (key === 'remotes') {
        for (const [name, entry] of Object.entries(this.table(undefined, key, value))) remotes.set(name, this.remote(name, entry));
      } else this.fail(undefined, key, 'unknown section; known: [defaults], [remotes.NAME]');
    }
    return { path: this.path, defaults, remotes };
  }
}

/** Parses config text; `path` names it in messages. */
export function parseConfig(text: string, path: string): ConfigFile {
  return new Reader(path, text).read();
}

/** Loads the first config file found; an explicit $BUCKETFS_CONFIG must exist. */
export async function loadConfig(env: NodeJS.ProcessEnv): Promise<ConfigFile> {
  const explicit = env['BUCKETFS_CONFIG'] !== undefined && env['BUCKETFS_CONFIG'] !== '';
  for (const path of configCandidates(env)) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !explicit) continue;
      const why = code === 'ENOENT' ? 'no such file (BUCKETFS_CONFIG names it)' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
      throw Object.assign(new Error(`config file ${path}: ${why}`), { code });
    }
    return parseConfig(text, path);
  }
  return { path: undefined, defaults: new Map(), remotes: new Map() };
}
