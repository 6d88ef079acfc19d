/**
 * Remotes as URLs, and opening them:
 *   s3://bucket/prefix?endpoint=http://host:port&region=r&pathStyle=true
 *   minio://host:port/bucket/prefix?ssl=true&region=r
 *   oss://bucket/prefix?region=oss-cn-hangzhou&endpoint=https://…
 *   file:///srv/photos          (the directory is the bucket; ?prefix=sub/)
 *   memory://name/prefix
 * Every query may carry `profile=` (a section of the credentials file).
 * URLs never carry secrets: a user:password part is refused.
 */
import { basename, dirname, resolve } from 'node:path';
import type { Backend, BackendKind, BandwidthLimits } from './contract.js';
import { OtherError } from './errors.js';
import { credentialsFromEnv, credentialsFromFile, defaultCredentialsFile, envHint, type KeyPair } from './credentials.js';
import { ObservingBackend, type ObserveRequest } from './decorators/observe.js';
import { RetryingBackend, type RetryPolicy } from './decorators/retry.js';
import { ThrottledBackend } from './decorators/throttle.js';
import { Driver, type Container } from './storage.js';

export interface RemoteSpec {
  kind: BackendKind;
  bucket: string;
  /** Key prefix inside the bucket: '' or ending in '/'. */
  prefix: string;
  /** Query options (endpoint, region, pathStyle, ssl, profile, …). */
  options: Record<string, string>;
  /** minio: host and port. */
  host?: string;
  port?: number;
  /** local: the directory that holds the bucket directory. */
  root?: string;
  /** The URL as given, safe to print. */
  display: string;
}

const SCHEMES: Record<string, BackendKind> = { 's3:': 's3', 'minio:': 'minio', 'oss:': 'oss', 'file:': 'local', 'memory:': 'memory' };

function bad(url: string, why: string): OtherError {
  return new OtherError(`invalid remote '${url}': ${why}`, { reason: 'InvalidRemote' });
}

function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

export function parseRemote(url: string): RemoteSpec {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad(url, 'not a URL (expected e.g. s3://bucket/prefix, minio://host:port/bucket, oss://bucket, file:///dir, memory://name)');
  }
  const kind = SCHEMES[parsed.protocol];
  if (!kind) throw bad(url, `unknown scheme '${parsed.protocol}' (known: ${Object.keys(SCHEMES).join(' ')})`);
  if (parsed.username || parsed.password) {
    throw bad(url.replace(/\/\/[^@/]*@/, '//***@'), 'credentials do not belong in a URL; use the environment or the credentials file');
  }
  const options = Object.fromEntries(parsed.searchParams.entries());
  const path = decodeURIComponent(parsed.pathname);
  const display = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  if (kind === 'local') {
    if (parsed.host !== '' && parsed.host !== 'localhost') throw bad(url, 'file:// URLs name a local directory: file:///path/to/dir');
    const dir = resolve(path);
    if (dir === '/') throw bad(url, 'the file system root cannot be a bucket');
    return { kind, bucket: basename(dir), root: dirname(dir), prefix: normalisePrefix(options['prefix'] ?? ''), options, display };
  }
  if (kind === 'minio') {
    const [bucket = '', ...rest] = path.replace(/^\/+/, '').split('/');
    if (!parsed.hostname) throw bad(url, 'expected minio://host:port/bucket');
    if (!bucket) throw bad(url, 'no bucket (expected minio://host:port/bucket/prefix)');
    return {
      kind, bucket, prefix: normalisePrefix(rest.join('/')), options, display,
      host: parsed.hostname, ...(parsed.port && { port: Number(parsed.port) }),
    };
  }
  const bucket = decodeURIComponent(parsed.hostname);
  if (!bucket) throw bad(url, `no bucket (expected ${parsed.protocol}//bucket/prefix)`);
  return { kind, bucket, prefix: normalisePrefix(path), options, display };
}

function flag(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  return !/^(0|false|no|off)$/i.test(value);
}

export interface OpenOptions {
  /** Explicit keys; otherwise the environment, then the credentials file (profile from the URL, BUCKETFS_PROFILE or 'default'). */
  credentials?: KeyPair;
  credentialsFile?: string;
  retry?: Partial<RetryPolicy>;
  bandwidth?: BandwidthLimits;
  /** Told about every request that reaches the backend (each retry attempt is one): the daemon's trace and metrics. */
  observe?: ObserveRequest;
  env?: NodeJS.ProcessEnv;
}

async function keysFor(spec: RemoteSpec, kind: 's3' | 'minio' | 'oss', options: OpenOptions): Promise<KeyPair | undefined> {
  if (options.credentials) return options.credentials;
  const env = options.env ?? process.env;
  const profile = spec.options['profile'] ?? env['BUCKETFS_PROFILE'];
  if (profile === undefined) {
    const fromEnv = credentialsFromEnv(kind, env);
    if (fromEnv) return fromEnv;
  }
  return credentialsFromFile(profile ?? 'default', options.credentialsFile ?? defaultCredentialsFile(env));
}

async function requireKeys(spec: RemoteSpec, kind: 'minio' | 'oss', options: OpenOptions): Promise<KeyPair> {
  const keys = await keysFor(spec, kind, options);
  if (!keys) {
    throw new OtherError(
      `no credentials for ${spec.display}: set ${envHint(kind)}, or add a profile to ${options.credentialsFile ?? defaultCredentialsFile(options.env)}`,
      { reason: 'NoCredentials' },
    );
  }
  return keys;
}

/**
 * Builds the raw backend a remote names. Each backend module is loaded only
 * when a remote needs it: the SDKs are large (all of them loaded cost a mount
 * about 50 MiB of resident memory), and a daemon uses one.
 */
export async function openBackend(spec: RemoteSpec, options: OpenOptions = {}): Promise<Backend> {
  const o = spec.options;
  switch (spec.kind) {
    case 's3': {
      const credentials = await keysFor(spec, 's3', options);
      const { S3Backend } = await import('./s3.js');
      return new S3Backend({
        ...(o['endpoint'] && { endpoint: o['endpoint'] }),
        ...(o['region'] && { region: o['region'] }),
        forcePathStyle: flag(o['pathStyle'] ?? o['path_style'], o['endpoint'] !== undefined),
        ...(credentials && { credentials }),
      });
    }
    case 'minio': {
      const credentials = await requireKeys(spec, 'minio', options);
      const { MinioBackend } = await import('./minio.js');
      return new MinioBackend({
        endPoint: spec.host ?? '',
        ...(spec.port !== undefined && { port: spec.port }),
        useSSL: flag(o['ssl'], false),
        ...(o['region'] && { region: o['region'] }),
        pathStyle: flag(o['pathStyle'] ?? o['path_style'], true),
        credentials,
      });
    }
    case 'oss': {
      const keys = await requireKeys(spec, 'oss', options);
      const { OssBackend } = await import('./oss.js');
      return new OssBackend({
        ...(o['region'] && { region: o['region'] }),
        ...(o['endpoint'] && { endpoint: o['endpoint'] }),
        secure: flag(o['ssl'], !(o['endpoint'] ?? '').startsWith('http://')),
        pathStyle: flag(o['pathStyle'] ?? o['path_style'], false),
        credentials: {
          accessKeyId: keys.accessKeyId,
          accessKeySecret: keys.secretAccessKey,
          ...(keys.sessionToken && { stsToken: keys.sessionToken }),
        },
      });
    }
    case 'local': {
      const { LocalBackend } = await import('./local.js');
      return new LocalBackend({ root: spec.root ?? '/' });
    }
    case 'memory':
      return (await import('./memory.js')).sharedMemoryBackend(spec.bucket);
  }
}

export interface Remote {
  spec: RemoteSpec;
  driver: Driver;
  container: Container;
  /** Key prefix inside the container: '' or ending in '/'. */
  prefix: string;
  close(): Promise<void>;
}

/** Opens a remote URL with bounded retries and bandwidth limits in place. */
export async function openRemote(url: string, options: OpenOptions = {}): Promise<Remote> {
  const spec = parseRemote(url);
  const opened = await openBackend(spec, options);
  const raw = options.observe === undefined ? opened : new ObservingBackend(opened, options.observe);
  const backend = new RetryingBackend(new ThrottledBackend(raw, options.bandwidth), options.retry);
  const driver = new Driver(backend);
  return { spec, driver, container: driver.container(spec.bucket), prefix: spec.prefix, close: () => driver.close() };
}
