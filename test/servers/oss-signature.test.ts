/**
 * The OSS V1 and V4 signers of the test server, on their own: published
 * example vectors, the canonicalization rules, agreement with ali-oss's own
 * signer on hostile requests, and the server refusing requests whose
 * signature, key id, region, date, expiry or Content-MD5 is wrong. The oss backend's tests lean on this
 * server to catch signing bugs; this file makes sure the server would.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import t from 'tap';
import { OssBackend } from '../../drivers/oss.js';
import { canonicalizedOssHeaders, canonicalizedResource, sign, stringToSign } from './oss/signature.js';
import { canonicalRequestV4, signV4, stringToSignV4, uriEncode } from './oss/signature-v4.js';
import { startOssServer, type OssServer } from './oss-server.js';

/** OSS's documentation example credentials (also used by the other OSS SDKs' tests). */
const DOC_ID = '44CF9590006BF252F707';
const DOC_SECRET = 'OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV';

t.test("OSS's published header example", async (t) => {
  const headers = { 'X-OSS-Magic': 'abracadabra', 'X-OSS-Meta-Author': 'foo@bar.com', Host: 'oss-example.oss-cn-hangzhou.aliyuncs.com' };
  t.equal(canonicalizedOssHeaders(headers), 'x-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n',
    'x-oss-* headers only, lower-cased, sorted, one per line');
  const toSign = stringToSign({
    method: 'PUT',
    contentMd5: 'ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=',
    contentType: 'text/html',
    date: 'Thu, 17 Nov 2005 18:49:58 GMT',
    headers,
    bucket: 'oss-example',
    key: 'nelson',
    query: new Map(),
  });
  t.equal(toSign, 'PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\nx-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson');
  t.equal(sign(DOC_SECRET, toSign), '26NBxoKdsyly4EDv6inkoDft/yA=', 'the documented signature');
});

t.test('the query form: Expires takes the place of Date', async (t) => {
  // The published example of the V1 query-string signature OSS shares with S3's original scheme.
  const toSign = stringToSign({ method: 'GET', contentMd5: '', contentType: '', date: '1141889120', headers: {}, bucket: 'quotes', key: 'nelson', query: new Map() });
  t.equal(toSign, 'GET\n\n\n1141889120\n/quotes/nelson');
  t.equal(sign(DOC_SECRET, toSign), 'vjbyPxybdZaNmGa+yT272YEAiv4=', 'the published signature');
});

t.test('canonicalized resource: only signed sub-resources, sorted, bare names for empty values', async (t) => {
  const query = new Map([['prefix', 'a'], ['uploadId', 'U1'], ['max-keys', '5'], ['partNumber', '3'], ['acl', ''], ['list-type', '2']]);
  t.equal(canonicalizedResource('b', 'dir/k', query), '/b/dir/k?acl&partNumber=3&uploadId=U1');
  t.equal(canonicalizedResource('b', undefined, new Map([['continuation-token', 'x/y=']])), '/b/?continuation-token=x/y=', 'values as decoded text');
  t.equal(canonicalizedResource(undefined, undefined, new Map()), '/', 'the service');
  t.equal(canonicalizedResource('b', 'k', new Map([['OSSAccessKeyId', 'id'], ['Expires', '1'], ['Signature', 's']])), '/b/k',
    "a signed URL's own parameters are not signed");
});

t.test("agrees with ali-oss's own signer on hostile requests", async (t) => {
  const signUtils = createRequire(import.meta.url)('ali-oss/lib/common/signUtils.js') as {
    buildCanonicalString(method: string, resource: string, request: { headers: Record<string, string>; parameters?: Record<string, string> }, expires?: string): string;
  };
  const cases: { key: string; headers: Record<string, string>; subres?: Record<string, string> }[] = [
    { key: 'plain', headers: {} },
    { key: 'spaces and ünïcode/😀 ?#%+', headers: { 'x-oss-meta-Name': '  padded value ', 'X-Oss-Date': 'Sat, 21 Nov 2026 10:00:00 GMT' } },
    { key: 'ctrl\x01\nkey', headers: { 'x-oss-forbid-overwrite': 'true', 'content-type': 'text/plain' }, subres: { uploadId: 'ABC', partNumber: '7' } },
    { key: 'append', headers: { 'Content-MD5': 'abc==' }, subres: { append: '', position: '0' } },
  ];
  for (const c of cases) {
    const lower = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const theirs = signUtils.buildCanonicalString('PUT', `/bkt/${c.key}`, { headers: c.headers, ...(c.subres && { parameters: c.subres }) });
    const ours = stringToSign({
      method: 'PUT',
      contentMd5: lower['content-md5'] ?? '',
      contentType: lower['content-type'] ?? '',
      date: lower['x-oss-date'] ?? '',
      headers: c.headers,
      bucket: 'bkt',
      key: c.key,
      query: new Map(Object.entries(c.subres ?? {})),
    });
    t.equal(ours, theirs, `same string to sign for key ${JSON.stringify(c.key)}`);
  }
});

interface Raw {
  method: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

function send(server: OssServer, raw: Raw): Promise<{ status: number; body: string }> {
  const url = new URL(server.endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: raw.method, path: raw.path + (raw.query ? `?${raw.query}` : ''), headers: raw.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(raw.body);
  });
}

/** A request signed with our signer; `tamper` changes it after signing. */
function signed(server: OssServer, raw: Raw & { bucket?: string; key?: string }, options: { id?: string; secret?: string; date?: Date } = {}): Raw {
  const headers: Record<string, string> = { 'x-oss-date': (options.date ?? new Date()).toUTCString(), ...raw.headers };
  const query = new Map((raw.query ?? '').split('&').filter(Boolean).map((p) => {
    const [k = '', v = ''] = p.split('=');
    return [decodeURIComponent(k), decodeURIComponent(v)] as [string, string];
  }));
  const toSign = stringToSign({
    method: raw.method,
    contentMd5: headers['content-md5'] ?? '',
    contentType: headers['content-type'] ?? '',
    date: headers['x-oss-date'] ?? '',
    headers,
    ...(raw.bucket !== undefined && { bucket: raw.bucket }),
    ...(raw.key !== undefined && { key: raw.key }),
    query,
  });
  headers['authorization'] = `OSS ${options.id ?? server.accessKeyId}:${sign(options.secret ?? server.accessKeySecret, toSign)}`;
  return { ...raw, headers };
}

t.test('the server refuses what OSS refuses', async (t) => {
  const server = await startOssServer({ accessKeyId: DOC_ID, accessKeySecret: DOC_SECRET });
  t.teardown(() => server.close());
  const bucket = { method: 'PUT', path: '/sig-bucket/', bucket: 'sig-bucket' };
  t.equal((await send(server, signed(server, bucket))).status, 200, 'a correctly signed PutBucket is accepted');

  const body = Buffer.from('payload');
  const md5 = createHash('md5').update(body).digest('base64');
  const put = { method: 'PUT', path: '/sig-bucket/a%20key', bucket: 'sig-bucket', key: 'a key', body,
    headers: { 'content-md5': md5, 'content-type': 'text/plain', 'x-oss-meta-who': 'me' } };
  t.equal((await send(server, signed(server, put))).status, 200, 'a signed PutObject with metadata is accepted');

  const wrongSecret = await send(server, signed(server, put, { secret: 'not the secret' }));
  t.same([wrongSecret.status, /<Code>SignatureDoesNotMatch<\/Code>/.test(wrongSecret.body)], [403, true], 'a wrong secret: 403 SignatureDoesNotMatch');
  t.match(wrongSecret.body, /<StringToSign>PUT\n/, 'the error shows the string the server signed');

  const tampered = signed(server, put);
  tampered.headers = { ...tampered.headers, 'x-oss-meta-who': 'someone else' };
  t.equal((await send(server, tampered)).status, 403, 'an x-oss-meta header changed after signing');

  const moved = signed(server, put);
  t.equal((await send(server, { ...moved, path: '/sig-bucket/another%20key' })).status, 403, 'another key under the same signature');

  const list = { method: 'GET', path: '/sig-bucket/', bucket: 'sig-bucket' };
  t.equal((await send(server, { ...signed(server, list), query: 'prefix=a&max-keys=5' })).status, 200,
    'unsigned query parameters may be added (they are not sub-resources)');
  t.equal((await send(server, { ...signed(server, list), query: 'acl' })).status, 403, 'a sub-resource added after signing is refused');

  const unknown = await send(server, signed(server, list, { id: 'LTAIunknown' }));
  t.same([unknown.status, /InvalidAccessKeyId/.test(unknown.body)], [403, true], 'an unknown key id: 403 InvalidAccessKeyId');
  const anonymous = await send(server, list);
  t.same([anonymous.status, /AccessDenied/.test(anonymous.body)], [403, true], 'no signature: 403 AccessDenied');
  const stale = await send(server, signed(server, list, { date: new Date(Date.now() - 20 * 60 * 1000) }));
  t.same([stale.status, /RequestTimeTooSkewed/.test(stale.body)], [403, true], 'a date 20 minutes old: 403 RequestTimeTooSkewed');
  const badMd5 = await send(server, signed(server, { ...put, headers: { ...put.headers, 'content-md5': md5.replace(/^./, 'A') } }));
  t.same([badMd5.status, /InvalidDigest/.test(badMd5.body)], [400, true], 'a body that does not match its Content-MD5: 400 InvalidDigest');

  const expires = String(Math.floor(Date.now() / 1000) + 60);
  const urlSig = sign(DOC_SECRET, `GET\n\n\n${expires}\n/sig-bucket/a key`);
  const query = `OSSAccessKeyId=${DOC_ID}&Expires=${expires}&Signature=${encodeURIComponent(urlSig)}`;
  const viaUrl = await send(server, { method: 'GET', path: '/sig-bucket/a%20key', query });
  t.same([viaUrl.status, viaUrl.body], [200, 'payload'], 'a query-signed GET is served');
  const past = String(Math.floor(Date.now() / 1000) - 1);
  const pastSig = sign(DOC_SECRET, `GET\n\n\n${past}\n/sig-bucket/a key`);
  const expired = await send(server, { method: 'GET', path: '/sig-bucket/a%20key', query: `OSSAccessKeyId=${DOC_ID}&Expires=${past}&Signature=${encodeURIComponent(pastSig)}` });
  t.same([expired.status, /expired/.test(expired.body)], [403, true], 'an expired signed URL: 403');
});

t.test("the backend's signed URLs carry the signature these signers compute", async (t) => {
  const server = await startOssServer({ accessKeyId: DOC_ID, accessKeySecret: DOC_SECRET });
  const options = { endpoint: server.endpoint, region: server.region, pathStyle: true, credentials: { accessKeyId: DOC_ID, accessKeySecret: DOC_SECRET } };
  const v1 = new OssBackend({ ...options, signatureVersion: 'v1' });
  const v4 = new OssBackend(options);
  t.teardown(async () => {
    await Promise.all([v1.close(), v4.close()]);
    await server.close();
  });
  const region = server.region.replace(/^oss-/, '');
  for (const [method, key, contentType] of [['GET', 'dir/a b+c?.txt', undefined], ['PUT', 'ünï/😀', 'text/plain']] as const) {
    const request = { method, expiresIn: 300, ...(contentType && { contentType }) };
    const url1 = new URL(await v1.signedUrl('bkt', key, request));
    const expected1 = sign(DOC_SECRET, `${method}\n\n${contentType ?? ''}\n${url1.searchParams.get('Expires') ?? ''}\n/bkt/${key}`);
    t.same([url1.searchParams.get('OSSAccessKeyId'), url1.searchParams.get('Signature')], [DOC_ID, expected1], `V1 ${method} ${JSON.stringify(key)}`);
    t.equal(decodeURIComponent(url1.pathname), `/bkt/${key}`, 'the URL names the key, path style');

    const url4 = new URL(await v4.signedUrl('bkt', key, request));
    const query = new Map([...url4.searchParams].filter(([k]) => k !== 'x-oss-signature'));
    const stamp = url4.searchParams.get('x-oss-date') ?? '';
    const canonical = canonicalRequestV4({ method, bucket: 'bkt', key, query, headers: contentType ? { 'content-type': contentType } : {}, additionalHeaders: [] });
    const expected4 = signV4(DOC_SECRET, stamp.slice(0, 8), region, stringToSignV4(stamp, region, canonical));
    t.equal(url4.searchParams.get('x-oss-signature'), expected4, `V4 ${method} ${JSON.stringify(key)}`);
  }
});

/** OSS's V4 documentation example: key pair accesskeyid/accesskeysecret, 2023-12-03 12:12:12 UTC, cn-hangzhou. */
const V4_HEADERS = {
  'content-md5': 'eB5eJF1ptWaXm4bijSPyxw',
  'content-type': 'text/html',
  host: 'examplebucket.oss-cn-hangzhou.aliyuncs.com',
  'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
  'x-oss-date': '20231203T121212Z',
  'x-oss-meta-author': 'alice',
  'x-oss-meta-magic': 'abracadabra',
};

t.test("OSS's published V4 examples (header and URL)", async (t) => {
  const header = canonicalRequestV4({ method: 'PUT', bucket: 'examplebucket', key: 'exampleobject', query: new Map(), headers: V4_HEADERS, additionalHeaders: ['host'] });
  t.equal(header.split('\n').slice(0, 3).join('|'), 'PUT|/examplebucket/exampleobject|', 'verb, canonical URI, empty query');
  const toSign = stringToSignV4('20231203T121212Z', 'cn-hangzhou', header);
  t.match(toSign, /^OSS4-HMAC-SHA256\n20231203T121212Z\n20231203\/cn-hangzhou\/oss\/aliyun_v4_request\n[0-9a-f]{64}$/, 'the string to sign');
  t.equal(signV4('accesskeysecret', '20231203', 'cn-hangzhou', toSign), '4b663e424d2db9967401ff6ce1c86f8c83cabd77d9908475239d9110642c63fa',
    'the documented header signature');
  const query = new Map([
    ['x-oss-additional-headers', 'host'],
    ['x-oss-credential', 'accesskeyid/20231203/cn-hangzhou/oss/aliyun_v4_request'],
    ['x-oss-date', '20231203T121212Z'],
    ['x-oss-expires', '86400'],
    ['x-oss-signature-version', 'OSS4-HMAC-SHA256'],
  ]);
  const urlHeaders = { host: V4_HEADERS.host, 'x-oss-meta-author': 'alice', 'x-oss-meta-magic': 'abracadabra' };
  const url = canonicalRequestV4({ method: 'PUT', bucket: 'examplebucket', key: 'exampleobject', query, headers: urlHeaders, additionalHeaders: ['host'] });
  t.equal(signV4('accesskeysecret', '20231203', 'cn-hangzhou', stringToSignV4('20231203T121212Z', 'cn-hangzhou', url)),
    '2c6c9f10d8950fb150290ef6f42570e33cd45d6a57ec7887de75fa2ec45b4c72', 'the documented URL signature');
  t.equal(uriEncode("/a b/ü!'()*~._-", true), '/a%20b/%C3%BC%21%27%28%29%2A~._-', 'RFC 3986 encoding, slashes kept in the URI');
  t.equal(uriEncode('x/y+z', false), 'x%2Fy%2Bz', 'slashes encoded in the query');
});

t.test("V4 canonical requests agree with ali-oss's own signer on hostile requests", async (t) => {
  const signUtils = createRequire(import.meta.url)('ali-oss/lib/common/signUtils.js') as {
    getCanonicalRequest(method: string, request: { headers: Record<string, string>; queries: Record<string, string | null> }, bucket?: string, key?: string, additional?: string[]): string;
  };
  const cases: { key?: string; headers: Record<string, string>; queries: Record<string, string | null> }[] = [
    { key: 'spaces and ünïcode/😀 ?#%+', headers: { 'x-oss-meta-Name': '  padded value ', 'Content-Type': 'text/plain' }, queries: {} },
    { key: 'k', headers: {}, queries: { uploadId: 'A/B+C', partNumber: '7' } },
    { headers: { 'x-oss-date': '20261121T100000Z' }, queries: { 'list-type': '2', prefix: 'dir/sub dir/', 'continuation-token': 'x/y=', uploads: null } },
  ];
  for (const c of cases) {
    const theirs = signUtils.getCanonicalRequest('GET', { headers: c.headers, queries: c.queries }, 'bkt', c.key, []);
    const query = new Map(Object.entries(c.queries).map(([k, v]) => [k, v ?? ''] as [string, string]));
    const ours = canonicalRequestV4({ method: 'GET', bucket: 'bkt', ...(c.key !== undefined && { key: c.key }), query, headers: c.headers, additionalHeaders: [] });
    t.equal(ours, theirs, `same canonical request for ${JSON.stringify(c.key ?? '(bucket)')} ${JSON.stringify(c.queries)}`);
  }
});

t.test('the server refuses bad V4 signatures', async (t) => {
  const server = await startOssServer();
  t.teardown(() => server.close());
  const region = server.region.replace(/^oss-/, '');
  const v4 = (raw: Raw & { bucket: string; key?: string }, o: { secret?: string; region?: string; date?: Date } = {}): Raw => {
    const stamp = (o.date ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const headers: Record<string, string> = { 'x-oss-date': stamp, 'x-oss-content-sha256': 'UNSIGNED-PAYLOAD', ...raw.headers };
    const query = new Map((raw.query ?? '').split('&').filter(Boolean).map((p) => {
      const [k = '', v = ''] = p.split('=');
      return [decodeURIComponent(k), decodeURIComponent(v)] as [string, string];
    }));
    const canonical = canonicalRequestV4({ method: raw.method, bucket: raw.bucket, ...(raw.key !== undefined && { key: raw.key }), query, headers, additionalHeaders: [] });
    const signRegion = o.region ?? region;
    const signature = signV4(o.secret ?? server.accessKeySecret, stamp.slice(0, 8), signRegion, stringToSignV4(stamp, signRegion, canonical));
    headers['authorization'] = `OSS4-HMAC-SHA256 Credential=${server.accessKeyId}/${stamp.slice(0, 8)}/${signRegion}/oss/aliyun_v4_request,Signature=${signature}`;
    return { ...raw, headers };
  };
  const bucket = { method: 'PUT', path: '/v4-bucket/', bucket: 'v4-bucket' };
  t.equal((await send(server, v4(bucket))).status, 200, 'a correctly signed V4 PutBucket is accepted');
  const list = { method: 'GET', path: '/v4-bucket/', bucket: 'v4-bucket', query: 'list-type=2&prefix=a' };
  t.equal((await send(server, v4(list))).status, 200, 'a V4 listing with its query is accepted');
  t.equal((await send(server, { ...v4(list), query: 'list-type=2&prefix=b' })).status, 403,
    'V4 signs every query parameter: changing prefix after signing is refused');
  const wrong = await send(server, v4(list, { secret: 'nope' }));
  t.same([wrong.status, /SignatureDoesNotMatch/.test(wrong.body)], [403, true], 'a wrong secret: 403 SignatureDoesNotMatch');
  t.equal((await send(server, v4(list, { region: 'cn-elsewhere' }))).status, 400, 'a scope for another region is refused');
  t.equal((await send(server, v4(list, { date: new Date(Date.now() - 20 * 60 * 1000) }))).status, 403, 'a stale x-oss-date is refused');
});
