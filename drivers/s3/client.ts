/**
 * Builds the one S3Client an S3Backend uses: keep-alive sockets, no SDK
 * retries, no optional checksums. Owns the connection settings and nothing
 * else; it never logs and never exposes credentials (the label names the
 * endpoint only).
 */
import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { GetHandler, type InnerHandler } from './get-handler.js';
import { LeanS3, leanEndpoint, type Credentials } from './lean.js';

export interface S3BackendOptions {
  /** Any S3-compatible endpoint, e.g. `http://127.0.0.1:7480`; omitted: AWS. */
  endpoint?: string;
  /** Default 'us-east-1'. */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`); default true when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Omitted: the SDK's default chain (environment, ~/.aws, instance metadata…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Display name; default `s3 <endpoint>` or `s3 aws:<region>`. */
  label?: string;
  /**
   * Small PUTs, copies and deletes signed and sent without the SDK's
   * middleware where the endpoint allows it (lean.ts); default true.
   */
  lean?: boolean;
}

export const DEFAULT_REGION = 'us-east-1';

/**
 * Enough parallel sockets for part uploads and read-ahead of several files at
 * once; more only queues inside the server.
 */
const MAX_SOCKETS = 64;
/** Connecting takes milliseconds on a LAN and well under a second over the internet. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * A socket silent this long (no byte either way) belongs to a hung server.
 * No whole-request timeout: a multi-GiB PUT may legitimately take minutes.
 */
const IDLE_SOCKET_TIMEOUT_MS = 120_000;

const SILENT_LOGGER = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export function defaultLabel(options: S3BackendOptions): string {
  if (options.label !== undefined) return options.label;
  if (options.endpoint === undefined) return `s3 aws:${options.region ?? DEFAULT_REGION}`;
  return `s3 ${withoutUserInfo(options.endpoint)}`;
}

/** An endpoint URL may carry `user:password@`; a label never does. */
function withoutUserInfo(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return endpoint.replace(/\/\/[^/@]*@/, '//');
  }
}

export function createS3Client(options: S3BackendOptions): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
  const client = new S3Client({
    region: options.region ?? DEFAULT_REGION,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    // Bounded retries happen once, in the retry decorator; SDK retries would multiply them.
    maxAttempts: 1,
    // Without a logger of its own the SDK warns on the console about failed stream uploads.
    logger: SILENT_LOGGER,
    // Optional CRC checksums cost CPU on every byte and some S3-compatible servers reject them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Not cacheMiddleware: a cached stack shares one handler context between concurrent sends of a
    // command class, and the endpoint middleware writes the request's endpoint into it after an
    // await, so one request could be serialized with another's endpoint (its bucket).
    requestHandler: {
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
      connectionTimeout: CONNECT_TIMEOUT_MS,
      socketTimeout: IDLE_SOCKET_TIMEOUT_MS,
      // The handler otherwise warns on the console when many requests queue for a socket.
      logger: SILENT_LOGGER,
    },
  });
  // GETs to plain-HTTP endpoints read the socket in large pieces (get-handler.ts); the SDK's handler does the rest.
  const config = client.config as { requestHandler: unknown };
  config.requestHandler = new GetHandler(config.requestHandler as InnerHandler, {
    maxSockets: MAX_SOCKETS,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    idleTimeoutMs: IDLE_SOCKET_TIMEOUT_MS,
  });
  return client;
}

/** The lean request path of `client` (lean.ts), or undefined where it does not apply. */
export function createLeanS3(client: S3Client, options: S3BackendOptions): LeanS3 | undefined {
  if (options.lean === false) return undefined;
  const endpoint = leanEndpoint(options.endpoint, options.forcePathStyle);
  const config = client.config as { requestHandler: unknown; credentials?: unknown };
  const handler = config.requestHandler;
  const credentials = config.credentials;
  if (endpoint === undefined || !(handler instanceof GetHandler) || typeof credentials !== 'function') return undefined;
  return new LeanS3(endpoint, options.region ?? DEFAULT_REGION, credentials as () => Promise<Credentials>, handler);
}
