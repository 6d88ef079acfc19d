/**
 * Authentication on the OSS test server, as OSS does it: a V1 signature
 * (`Authorization: OSS id:sig`, or OSSAccessKeyId/Expires/Signature in a
 * URL) or a V4 one (`Authorization: OSS4-HMAC-SHA256 …`, or
 * x-oss-signature-version/x-oss-credential/… in a URL), checked against the
 * server's one key pair, with OSS's error codes for each way it can fail.
 */
import { OssFailure, header, type OssRequest } from './http.js';
import { sameSignature, sign, stringToSign } from './signature.js';
import { V4_ALGORITHM, canonicalRequestV4, parseV4Authorization, signV4, stringToSignV4 } from './signature-v4.js';

/** How far a request's date may be from the server's clock, as OSS allows. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** OSS's longest V4 signed URL. */
const MAX_V4_EXPIRES_S = 7 * 24 * 3600;

function mismatch(toSign: string, id: string): OssFailure {
  return new OssFailure(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
    StringToSign: toSign,
    OSSAccessKeyId: id,
  });
}

/** yyyymmddTHHMMssZ, as V4 dates are written. */
function parseV4Date(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m === null ? NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function checkSkew(time: number): void {
  if (Number.isNaN(time) || Math.abs(time - Date.now()) > MAX_CLOCK_SKEW_MS) {
    throw new OssFailure(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  }
}

export class Authenticator {
  /** `region` as OSS names it in V4 scopes: without the "oss-" prefix. */
  constructor(
    private readonly id: string,
    private readonly secret: string,
    private readonly region: string,
  ) {}

  /** Throws the OSS error a request with a missing, unknown, stale or wrong signature gets. */
  check(req: OssRequest): void {
    const auth = header(req, 'authorization');
    if (auth?.startsWith(`${V4_ALGORITHM} `)) return this.checkV4Header(req, auth);
    if (auth !== undefined) return this.checkV1Header(req, auth);
    if (req.query.get('x-oss-signature-version') === V4_ALGORITHM) return this.checkV4Url(req);
    if (req.query.has('OSSAccessKeyId')) return this.checkV1Url(req);
    throw new OssFailure(403, 'AccessDenied', 'You have no right to access this object because of bucket acl.');
  }

  private v1Parts(req: OssRequest, date: string): Parameters<typeof stringToSign>[0] {
    return {
      method: req.method,
      contentMd5: header(req, 'content-md5') ?? '',
      contentType: header(req, 'content-type') ?? '',
      date,
      headers: req.headers,
      ...(req.bucket !== undefined && { bucket: req.bucket }),
      ...(req.key !== undefined && { key: req.key }),
      query: req.query,
    };
  }

  private checkV1Header(req: OssRequest, auth: string): void {
    const m = /^OSS ([^:]+):(.+)$/.exec(auth);
    if (m === null) throw new OssFailure(400, 'InvalidArgument', 'Authorization header is invalid.');
    const date = header(req, 'x-oss-date') ?? header(req, 'date');
    if (date === undefined) throw new OssFailure(403, 'AccessDenied', 'Missing Date Header.');
    checkSkew(Date.parse(date));
    this.verifyV1(m[1] ?? '', m[2] ?? '', this.v1Parts(req, date));
  }

  private checkV1Url(req: OssRequest): void {
    const expires = req.query.get('Expires') ?? '';
    if (!/^\d+$/.test(expires)) throw new OssFailure(403, 'AccessDenied', 'Expires must be a number of seconds since the epoch.');
    if (Number(expires) * 1000 < Date.now()) throw new OssFailure(403, 'AccessDenied', 'Request has expired.');
    this.verifyV1(req.query.get('OSSAccessKeyId') ?? '', req.query.get('Signature') ?? '', this.v1Parts(req, expires));
  }

  private verifyV1(id: string, signature: string, parts: Parameters<typeof stringToSign>[0]): void {
    this.checkId(id);
    const toSign = stringToSign(parts);
    if (!sameSignature(sign(this.secret, toSign), signature)) throw mismatch(toSign, id);
  }

  private checkId(id: string): void {
    if (id !== this.id) {
      throw new OssFailure(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: id });
    }
  }

  private checkV4Header(req: OssRequest, auth: string): void {
    const parsed = parseV4Authorization(auth);
    if (parsed === undefined) throw new OssFailure(400, 'InvalidArgument', 'Authorization header is invalid.');
    const timestamp = header(req, 'x-oss-date') ?? '';
    checkSkew(parseV4Date(timestamp));
    this.verifyV4(req, parsed.credential, timestamp, parsed.signature, parsed.additionalHeaders, req.query);
  }

  private checkV4Url(req: OssRequest): void {
    const timestamp = req.query.get('x-oss-date') ?? '';
    const expires = Number(req.query.get('x-oss-expires') ?? NaN);
    const issued = parseV4Date(timestamp);
    if (Number.isNaN(issued) || !Number.isSafeInteger(expires) || expires < 1 || expires > MAX_V4_EXPIRES_S) {
      throw new OssFailure(400, 'InvalidArgument', `x-oss-date and x-oss-expires (1 to ${MAX_V4_EXPIRES_S} seconds) are required.`);
    }
    if (issued + expires * 1000 < Date.now()) throw new OssFailure(403, 'AccessDenied', 'Request has expired.');
    const query = new Map([...req.query].filter(([k]) => k !== 'x-oss-signature'));
    const additional = (req.query.get('x-oss-additional-headers') ?? '').toLowerCase().split(';').filter(Boolean);
    this.verifyV4(req, req.query.get('x-oss-credential') ?? '', timestamp, req.query.get('x-oss-signature') ?? '', additional, query);
  }

  private verifyV4(
    req: OssRequest,
    credential: string,
    timestamp: string,
    signature: string,
    additionalHeaders: string[],
    query: ReadonlyMap<string, string>,
  ): void {
    const [id = '', date = '', region = '', product = '', terminator = ''] = credential.split('/');
    this.checkId(id);
    if (date !== timestamp.slice(0, 8) || product !== 'oss' || terminator !== 'aliyun_v4_request') {
      throw new OssFailure(400, 'InvalidArgument', 'Invalid credential in Authorization header.');
    }
    if (region !== this.region) throw new OssFailure(400, 'InvalidArgument', `Invalid signing region in Authorization header: ${region}.`);
    const canonical = canonicalRequestV4({
      method: req.method,
      ...(req.bucket !== undefined && { bucket: req.bucket }),
      ...(req.key !== undefined && { key: req.key }),
      query,
      headers: req.headers,
      additionalHeaders,
    });
    const toSign = stringToSignV4(timestamp, region, canonical);
    if (!sameSignature(signV4(this.secret, date, region, toSign), signature)) throw mismatch(`${toSign}\n--\n${canonical}`, id);
  }
}
