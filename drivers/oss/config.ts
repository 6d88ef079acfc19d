/**
 * How an OssBackend is configured: its options, what it declares (capabilities
 * and OSS's published limits), and the checks on endpoint and region made
 * before any request.
 */
import type { Capabilities, Limits } from '../contract.js';
import { GiB, S3_LIMITS } from '../base-backend.js';
import { OtherError } from '../errors.js';
import { OSS_ACLS } from './features.js';
import { MAX_KEY_BYTES } from './headers.js';

export interface OssBackendOptions {
  /** e.g. 'oss-cn-hangzhou'; gives the endpoint when `endpoint` is omitted. */
  region?: string;
  /** e.g. 'https://oss-cn-hangzhou.aliyuncs.com', or 'http://localhost:PORT' with pathStyle. */
  endpoint?: string;
  credentials: { accessKeyId: string; accessKeySecret: string; stsToken?: string };
  secure?: boolean;
  /** Bucket in the path, not the host name (ali-oss sldEnable); needs a host name endpoint, not an IP. */
  pathStyle?: boolean;
  label?: string;
  /** Per-request time limit before body allowances; default 60 s. */
  timeoutMs?: number;
  /**
   * 'v4' (default): OSS4-HMAC-SHA256, which needs the region (from `region`,
   * or an *.aliyuncs.com endpoint). 'v1': the HMAC-SHA1 scheme OSS no longer
   * offers to new accounts and new buckets, for older deployments.
   */
  signatureVersion?: 'v1' | 'v4';
}

export const OSS_CAPABILITIES: Capabilities = {
  conditionalWrite: { ifMatch: false, ifNoneMatch: true },
  serverSideCopy: true,
  multipart: true,
  uploadPartCopy: true,
  tagging: true,
  versions: true,
  signedUrls: true,
  append: true,
  acls: OSS_ACLS,
  restore: true,
  bandwidthLimits: false,
  notifications: false,
};

/** OSS's published limits (object naming, CopyObject, multipart). */
export const OSS_LIMITS: Limits = {
  ...S3_LIMITS,
  maxKeyBytes: MAX_KEY_BYTES,
  maxCopySize: 1 * GiB,
  minPartSize: 100 * 1024,
  maxPartSize: 5 * GiB,
};

const IP_HOST = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;
/** oss-cn-hangzhou.aliyuncs.com, oss-cn-hangzhou-internal.aliyuncs.com, bucket.oss-cn-hangzhou.aliyuncs.com */
const ALIYUN_HOST = /(?:^|\.)(oss-[a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$/;

function endpointHost(endpoint: string): string {
  try {
    return new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`).hostname;
  } catch (e) {
    throw new OtherError(`oss: invalid endpoint '${endpoint}'`, { cause: e, reason: 'InvalidConfig' });
  }
}

/**
 * The region V4 signatures are scoped to: as given, or read from an Aliyun
 * endpoint. Checks the endpoint too: ali-oss rewrites Host to
 * <bucket>.<region>.aliyuncs.com for an IP endpoint, which path style cannot survive.
 */
export function regionFor(options: OssBackendOptions, version: 'v1' | 'v4'): string | undefined {
  const host = options.endpoint === undefined ? undefined : endpointHost(options.endpoint);
  if (host !== undefined && options.pathStyle === true && IP_HOST.test(host)) {
    throw new OtherError(
      `oss: pathStyle needs a host name endpoint, not the IP address ${host} (ali-oss would send Host: <bucket>.<region>.aliyuncs.com); use e.g. localhost`,
      { reason: 'InvalidConfig' },
    );
  }
  const region = options.region ?? (host === undefined ? undefined : ALIYUN_HOST.exec(host)?.[1]);
  if (region === undefined && version === 'v4') {
    throw new OtherError(`oss: V4 signatures need the bucket's region (e.g. region=oss-cn-hangzhou) for endpoint ${options.endpoint ?? '(none)'}`, {
      reason: 'InvalidConfig',
    });
  }
  return region;
}
