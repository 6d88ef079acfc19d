/**
 * The HTTP/1.1 response parser of drivers/wire/http-response.ts: every
 * framing (Content-Length, chunked, to the close, none), fed whole and one
 * byte at a time; interim responses skipped; keep-alive rules; and malformed
 * input refused with HttpProtocolError, never guessed at.
 */
import t from 'tap';
import { HttpProtocolError, MAX_HEAD_BYTES, ResponseParser, parseHead, type ResponseHead } from '../../drivers/wire/http-response.js';

interface Parsed {
  head?: ResponseHead;
  body: Buffer;
  ended: boolean;
  used: number;
}

/** Feeds `input` in pieces of `step` bytes (0: whole); the parse result and the bytes it took. */
function parse(input: string | Buffer, step = 0, noBody = false): Parsed & { parser: ResponseParser } {
  const data = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const out = { body: Buffer.alloc(0), ended: false, used: 0 } as Parsed & { parser: ResponseParser };
  const parser = new ResponseParser({
    head: (head) => (out.head = head),
    body: (piece) => (out.body = Buffer.concat([out.body, piece])),
    end: () => (out.ended = true),
  }, noBody);
  const size = step === 0 ? data.length : step;
  for (let at = 0; at < data.length && !parser.done; at += size) {
    const piece = data.subarray(at, Math.min(at + size, data.length));
    out.used += parser.feed(Buffer.from(piece)); // a fresh copy each time, as a socket read would give
  }
  out.parser = parser;
  return out;
}

const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/xml\r\n\r\n'
  + '5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n';

for (const step of [0, 1, 3, 7]) {
  t.test(`framings, fed ${step === 0 ? 'whole' : `${step} byte(s) at a time`}`, async (t) => {
    const length = parse('HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nETag: "x"\r\nX-Amz-Meta-A: 1\r\nX-Amz-Meta-A: 2\r\n\r\nabcde', step);
    t.equal(length.head?.statusCode, 206);
    t.equal(length.head?.reason, 'Partial Content');
    t.same(length.head?.headers, { 'content-length': '5', etag: '"x"', 'x-amz-meta-a': '1, 2' }, 'names in lower case, repeats joined');
    t.equal(length.body.toString(), 'abcde');
    t.ok(length.ended && length.head?.keepAlive);

    const chunks = parse(chunked, step);
    t.equal(chunks.body.toString(), 'hello, world', 'chunked, extensions and trailers skipped');
    t.ok(chunks.ended);

    const close = parse('HTTP/1.1 200 OK\r\n\r\nto the end', step);
    t.equal(close.body.toString(), 'to the end');
    t.notOk(close.ended, 'a body without length runs to the close');
    t.equal(close.head?.keepAlive, false);
    close.parser.finish();
    t.ok(close.ended, 'and ends with it');

    const interim = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnah', step);
    t.equal(interim.head?.statusCode, 404, '100 Continue is skipped');
    t.equal(interim.body.toString(), 'nah');

    const bareLf = parse('HTTP/1.1 200 OK\nContent-Length: 2\n\nok', step);
    t.equal(bareLf.body.toString(), 'ok', 'bare LF line ends');
  });
}

t.test('responses without a body', async (t) => {
  for (const status of [204, 304]) {
    const r = parse(`HTTP/1.1 ${status} X\r\nContent-Length: 10\r\n\r\n`);
    t.ok(r.ended, `${status} has no body`);
    t.equal(r.body.length, 0);
  }
  const head = parse('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 0, true);
  t.ok(head.ended, 'a response to HEAD has no body whatever its length says');
  const empty = parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  t.ok(empty.ended);
});

t.test('bytes after the response are not taken', async (t) => {
  const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
  t.equal(r.body.toString(), 'ok');
  t.equal(r.used, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'.length, 'feed says where this response ended');
});

t.test('keep-alive follows the version and Connection', async (t) => {
  t.equal(parseHead('HTTP/1.1 200 OK\r\nConnection: close').keepAlive, false);
  t.equal(parseHead('HTTP/1.1 200 OK\r\nConnection: Keep-Alive').keepAlive, true);
  t.equal(parseHead('HTTP/1.0 200 OK').keepAlive, false);
  t.equal(parseHead('HTTP/1.0 200 OK\r\nConnection: keep-alive').keepAlive, true);
  t.equal(parseHead('HTTP/1.1 200').reason, '', 'a status line without a reason');
});

t.test('malformed responses are refused', async (t) => {
  const bad: [string, string | Buffer][] = [
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n'],
    ['HTTP/2 status line', 'HTTP/2 200\r\n\r\n'],
    ['a status of two digits', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n'],
    ['an obsolete folded header', 'HTTP/1.1 200 OK\r\nA: 1\r\n  folded\r\n\r\n'],
    ['a header name with a space', 'HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n'],
    ['a negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['conflicting lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a chunk longer than declared', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n'],
    ['gzip, chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['a head over the limit', `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`],
    ['an endless head', Buffer.alloc(MAX_HEAD_BYTES + 10, 'a')],
  ];
  for (const [what, input] of bad) {
    for (const step of [0, 5]) {
      t.throws(() => parse(input, step), HttpProtocolError, `${what} (${step === 0 ? 'whole' : 'in pieces'})`);
    }
  }
});

t.test('a connection that ends early is an error, not a short body', async (t) => {
  const cut = parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
  t.throws(() => cut.parser.finish(), /in the middle of the response/);
  const nothing = parse('');
  t.throws(() => nothing.parser.finish(), /before responding/);
  const midChunk = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
  t.throws(() => midChunk.parser.finish(), HttpProtocolError);
  t.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc').parser.bodyLeft, 7, 'bodyLeft counts what is still to come');
});
