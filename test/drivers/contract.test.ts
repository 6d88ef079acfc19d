/**
 * The shared pieces of the contract every backend relies on: the half-open
 * byte ranges of drivers/range.ts and the error kinds of drivers/errors.ts
 * (S3 code/status mapping, network error detection, the error classes).
 */
import t from 'tap';
import {
  checkRange,
  formatRange,
  httpRangeHeader,
  isEmptyRange,
  parseContentRange,
  resolveRange,
  type ByteRange,
} from '../../drivers/range.js';
import {
  ERROR_KINDS,
  isNetworkError,
  isStorageError,
  kindFromS3Code,
  NotFoundError,
  OtherError,
  StorageError,
  storageError,
  unsupported,
  UnsupportedError,
  type ErrorKind,
} from '../../drivers/errors.js';

t.test('checkRange refuses malformed ranges', async (t) => {
  const bad: ByteRange[] = [{ start: -1 }, { start: 1.5 }, { start: Number.NaN }, { start: 5, end: 4 }, { start: 0, end: 2.5 }, { start: 2 ** 53 }];
  for (const range of bad) {
    t.throws(() => checkRange(range), { name: 'OtherError', reason: 'InvalidRange' }, `${JSON.stringify(range)} is refused`);
  }
  for (const range of [{ start: 0 }, { start: 0, end: 0 }, { start: 3, end: 10 }]) {
    t.doesNotThrow(() => checkRange(range), `${JSON.stringify(range)} is accepted`);
  }
});

t.test('resolveRange clamps to the size', async (t) => {
  const cases: [ByteRange | undefined, number, { start: number; end: number }][] = [
    [undefined, 10, { start: 0, end: 10 }],
    [{ start: 0 }, 10, { start: 0, end: 10 }],
    [{ start: 2, end: 5 }, 10, { start: 2, end: 5 }],
    [{ start: 2, end: 50 }, 10, { start: 2, end: 10 }],
    [{ start: 10 }, 10, { start: 10, end: 10 }],
    [{ start: 10, end: 20 }, 10, { start: 10, end: 10 }],
    [{ start: 4, end: 4 }, 10, { start: 4, end: 4 }],
    [{ start: 0 }, 0, { start: 0, end: 0 }],
  ];
  for (const [range, size, want] of cases) t.same(resolveRange(range, size), want, `${formatRange(range)} of ${size} bytes`);
  t.throws(() => resolveRange({ start: 11 }, 10, 's3://b/k'), { reason: 'InvalidRange', message: /s3:\/\/b\/k.*size 10/ },
    'a start beyond the size names the object and its size');
  t.throws(() => resolveRange({ start: -2 }, 10), { name: 'OtherError', reason: 'InvalidRange' }, 'a malformed range is refused first');
});

t.test('isEmptyRange, httpRangeHeader, parseContentRange, formatRange', async (t) => {
  t.ok(isEmptyRange({ start: 5, end: 5 }), '[5, 5) is empty');
  t.notOk(isEmptyRange({ start: 5 }), '[5, end) is not known to be empty');
  t.notOk(isEmptyRange({ start: 5, end: 6 }), '[5, 6) is not empty');
  t.equal(httpRangeHeader(undefined), undefined, 'no range: no header');
  t.equal(httpRangeHeader({ start: 0 }), undefined, '[0, end): no header');
  t.equal(httpRangeHeader({ start: 7 }), 'bytes=7-', '[7, end): open-ended');
  t.equal(httpRangeHeader({ start: 0, end: 1 }), 'bytes=0-0', '[0, 1): inclusive end');
  t.equal(httpRangeHeader({ start: 10, end: 20 }), 'bytes=10-19', '[10, 20)');
  t.throws(() => httpRangeHeader({ start: 3, end: 3 }), /empty range/, 'an empty range has no HTTP form');
  t.throws(() => httpRangeHeader({ start: 3, end: 1 }), { name: 'OtherError', reason: 'InvalidRange' }, 'a malformed range has none either');
  t.same(parseContentRange('bytes 10-19/100'), { start: 10, end: 20, total: 100 }, 'Content-Range to half-open');
  t.same(parseContentRange(' bytes 0-0/* '), { start: 0, end: 1, total: undefined }, 'unknown total');
  t.equal(parseContentRange(undefined), undefined, 'absent header');
  t.equal(parseContentRange('bytes */100'), undefined, 'an unsatisfied-range header is not a range');
  t.equal(formatRange(undefined), '[0, end)', 'whole object');
  t.equal(formatRange({ start: 2 }), '[2, end)', 'open end');
  t.equal(formatRange({ start: 2, end: 9 }), '[2, 9)', 'closed');
});

t.test('kindFromS3Code: codes win, then statuses', async (t) => {
  const codes: [string, ErrorKind][] = [
    ['NoSuchKey', 'NotFound'], ['NoSuchBucket', 'NotFound'], ['NoSuchUpload', 'NotFound'], ['NoSuchVersion', 'NotFound'],
    ['NoSuchTagSet', 'NotFound'], ['NotFound', 'NotFound'],
    ['BucketAlreadyExists', 'AlreadyExists'], ['BucketAlreadyOwnedByYou', 'AlreadyExists'], ['ObjectAlreadyExists', 'AlreadyExists'],
    ['FileAlreadyExists', 'AlreadyExists'], ['BucketNotEmpty', 'NotEmpty'],
    ['PreconditionFailed', 'PreconditionFailed'], ['ConditionalRequestConflict', 'PreconditionFailed'],
    ['AccessDenied', 'AccessDenied'], ['InvalidAccessKeyId', 'AccessDenied'], ['SignatureDoesNotMatch', 'AccessDenied'],
    ['AllAccessDisabled', 'AccessDenied'], ['AccountProblem', 'AccessDenied'], ['ExpiredToken', 'AccessDenied'],
    ['InvalidToken', 'AccessDenied'], ['Forbidden', 'AccessDenied'], ['NotImplemented', 'Unsupported'],
    ['SlowDown', 'Transient'], ['ServiceUnavailable', 'Transient'], ['InternalError', 'Transient'], ['RequestTimeout', 'Transient'],
    ['RequestTimeTooSkewed', 'Transient'], ['Throttling', 'Transient'], ['ThrottlingException', 'Transient'],
    ['TooManyRequests', 'Transient'],
  ];
  // Status 400 must not change the answer: the code decides.
  for (const [code, kind] of codes) t.equal(kindFromS3Code(code, 400), kind, `${code} → ${kind}`);
  const statuses: [number | undefined, ErrorKind][] = [
    [undefined, 'Other'], [404, 'NotFound'], [401, 'AccessDenied'], [403, 'AccessDenied'], [409, 'Other'],
    [412, 'PreconditionFailed'], [501, 'Unsupported'], [429, 'Transient'], [500, 'Transient'], [503, 'Transient'],
    [400, 'Other'], [416, 'Other'],
  ];
  for (const [status, kind] of statuses) t.equal(kindFromS3Code('SomethingNew', status), kind, `unknown code, status ${status} → ${kind}`);
  t.equal(kindFromS3Code(undefined, 404), 'NotFound', 'no code: the status decides');
  t.equal(kindFromS3Code('InvalidRange', 416), 'Other', 'an unknown code is never NotFound unless the status says 404');
});

t.test('isNetworkError finds network failures, also as a cause', async (t) => {
  const net = (code: string) => Object.assign(new Error(code), { code });
  for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET']) t.ok(isNetworkError(net(code)), code);
  t.ok(isNetworkError(Object.assign(new Error('t'), { name: 'TimeoutError' })), 'by name');
  t.ok(isNetworkError(new Error('fetch failed', { cause: net('ECONNREFUSED') })), 'through a cause');
  t.ok(isNetworkError(new Error('a', { cause: new Error('b', { cause: net('ECONNRESET') }) })), 'through two causes');
  t.notOk(isNetworkError(net('ENOENT')), 'ENOENT is not a network error');
  t.notOk(isNetworkError(new Error('plain')), 'a plain error is not');
  t.notOk(isNetworkError('ECONNRESET'), 'a string is not');
  t.notOk(isNetworkError(null), 'null is not');
  const loop = new Error('self') as Error & { cause?: unknown };
  loop.cause = loop;
  t.notOk(isNetworkError(loop), 'an error that is its own cause does not loop');
});

t.test('StorageError classes', async (t) => {
  const cause = new Error('sdk said no');
  const e = new NotFoundError('no such object: s3://b/k', { cause, reason: 'NoSuchKey', status: 404 });
  t.ok(e instanceof StorageError && e instanceof Error, 'a NotFoundError is a StorageError');
  t.same([e.kind, e.code, e.name, e.reason, e.status, e.cause], ['NotFound', 'NotFound', 'NotFoundError', 'NoSuchKey', 404, cause],
    'kind, code, name, reason, status and cause');
  t.notOk('cause' in new OtherError('x'), 'no cause property unless one is given');
  for (const kind of ERROR_KINDS) {
    const made = storageError(kind, 'm');
    t.ok(isStorageError(made, kind) && made.name === `${kind}Error`, `storageError makes a ${kind}Error`);
  }
  t.notOk(isStorageError(new Error('x')), 'a plain Error is not a StorageError');
  t.notOk(isStorageError(e, 'Other'), 'isStorageError checks the kind');
  const u = unsupported('oss', 'versioning', 'not on this endpoint');
  t.ok(u instanceof UnsupportedError, 'unsupported() makes an UnsupportedError');
  t.same([u.message, u.reason], ['versioning is not supported by oss: not on this endpoint', 'NotSupported'], 'its message names the backend');
});
