/**
 * Where secrets come from: explicit options, the environment, or a
 * credentials file that must not be readable by group or others. Never argv.
 * Secrets are held in objects whose inspection and JSON form are redacted,
 * so a log line or an error that prints one shows `[redacted]`.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { AccessDeniedError, OtherError } from './errors.js';

export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Wraps a key pair so that util.inspect, console.log and JSON.stringify never show the secret. */
export function redacted(keys: KeyPair): KeyPair {
  const hidden = { ...keys };
  Object.defineProperties(hidden, {
    toJSON: { value: () => ({ accessKeyId: keys.accessKeyId, secretAccessKey: '[redacted]' }), enumerable: false },
    [inspect.custom]: { value: () => `KeyPair(${keys.accessKeyId}, [redacted])`, enumerable: false },
  });
  return hidden;
}

/** The environment variables each backend reads, first match wins. */
const ENV_NAMES: Record<'s3' | 'minio' | 'oss', [id: string, secret: string, token?: string][]> = {
  s3: [['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']],
  minio: [
    ['MINIO_ACCESS_KEY', 'MINIO_SECRET_KEY'],
    ['MINIO_ROOT_USER', 'MINIO_ROOT_PASSWORD'],
    ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'],
  ],
  oss: [
    ['OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET', 'OSS_STS_TOKEN'],
    ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN'],
  ],
};

export function credentialsFromEnv(kind: 's3' | 'minio' | 'oss', env: NodeJS.ProcessEnv = process.env): KeyPair | undefined {
  for (const [idName, secretName, tokenName] of ENV_NAMES[kind]) {
    const accessKeyId = env[idName];
    const secretAccessKey = env[secretName];
    if (accessKeyId && secretAccessKey) {
      const token = tokenName ? env[tokenName] : undefined;
      return redacted({ accessKeyId, secretAccessKey, ...(token && { sessionToken: token }) });
    }
  }
  return undefined;
}

export function envHint(kind: 's3' | 'minio' | 'oss'): string {
  return ENV_NAMES[kind].map(([id, secret]) => `${id} and ${secret}`).join(', or ');
}

export function defaultCredentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env['BUCKETFS_CREDENTIALS'] ?? join(env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'bucketfs', 'credentials');
}

/** Refuses a secrets file that group or others may read (or write). */
export async function checkPrivateFile(path: string): Promise<void> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new AccessDeniedError(
      `${path} holds secrets but is readable by group or others (mode ${mode}); run: chmod 600 ${path}`,
      { reason: 'InsecureCredentialsFile' },
    );
  }
}

/**
 * Parses an INI credentials file:
 *   [profile]
 *   access_key_id = …
 *   secret_access_key = …
 *   session_token = …   (optional)
 * Errors name the file and line, never a value.
 */
export function parseCredentialsFile(text: string, path: string): Map<string, KeyPair> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = {};
      sections.set(header[1]!.trim(), current);
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || current === undefined) {
      throw new OtherError(`${path}:${i + 1}: expected "[profile]" or "name = value"`, { reason: 'BadCredentialsFile' });
    }
    current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  });
  const profiles = new Map<string, KeyPair>();
  for (const [name, fields] of sections) {
    const accessKeyId = fields['access_key_id'] ?? fields['aws_access_key_id'];
    const secretAccessKey = fields['secret_access_key'] ?? fields['aws_secret_access_key'] ?? fields['access_key_secret'];
    if (!accessKeyId || !secretAccessKey) {
      throw new OtherError(`${path}: profile [${name}] needs access_key_id and secret_access_key`, { reason: 'BadCredentialsFile' });
    }
    const token = fields['session_token'] ?? fields['aws_session_token'];
    profiles.set(name, redacted({ accessKeyId, secretAccessKey, ...(token && { sessionToken: token }) }));
  }
  return profiles;
}

/** The key pair of `profile` from the credentials file, or undefined when the file does not exist. */
export async function credentialsFromFile(profile: string, path = defaultCredentialsFile()): Promise<KeyPair | undefined> {
  let text: string;
  try {
    await checkPrivateFile(path);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const pair = parseCredentialsFile(text, path).get(profile);
  if (!pair && profile !== 'default') {
    throw new OtherError(`${path}: no profile [${profile}]`, { reason: 'NoSuchProfile' });
  }
  return pair;
}
