/**
 * The s3 backend's GET handler (drivers/s3/get-handler.ts) against a
 * scripted HTTP server on loopback: what it sends, keep-alive reuse, bodies
 * read as streams and filled in place, a pooled connection the server had
 * closed, failures in the middle of a body, aborts, the idle timeout, the
 * socket bound, and everything else handed to the SDK's handler.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { GetHandler, ResponseBody, type GetRequest, type GetResponse, type InnerHandler } from '../../drivers/s3/get-handler.js';
import { isNetworkError } from '../../drivers/errors.js';

interface Served {
  /** Request heads, in arrival order. */
  requests: string[];
  /** Connections accepted so far. */
  connections: number;
  /** Most connections open at once. */
  maxOpen: number;
  port: number;
}

type Reply = (socket: net.Socket, request: string, served: Served) => void;

/** A server that answers every request head with `reply`. */
async function server(t: Test, reply: Reply): Promise<Served> {
  const sockets = new Set<net.Socket>();
  const served: Served = { requests: [], connections: 0, maxOpen: 0, port: 0 };
  const srv = net.createServer((socket) => {
    served.connections++;
    sockets.add(socket);
    served.maxOpen = Math.max(served.maxOpen, sockets.size);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const request = pending.slice(0, end);
        pending = pending.slice(end + 4);
        served.requests.push(request);
        reply(socket, request, served);
      }
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  served.port = (srv.address() as net.AddressInfo).port;
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  return served;
}

const ok = (body: Buffer | string, extra = ''): string | Buffer =>
  Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n`), Buffer.from(body)]);

/** An inner handler that records what reaches it. */
class Inner implements InnerHandler {
  calls: GetRequest[] = [];
  destroyed = false;
  handle(request: never): Promise<{ response: unknown }> {
    this.calls.push(request as GetRequest);
    return Promise.resolve({ response: { statusCode: 299, headers: {} } });
  }
  destroy(): void {
    this.destroyed = true;
  }
}

function handler(t: Test, options: Partial<ConstructorParameters<typeof GetHandler>[1]> = {}): { h: GetHandler; inner: Inner } {
  const inner = new Inner();
  const h = new GetHandler(inner, { maxSockets: 8, connectTimeoutMs: 2000, idleTimeoutMs: 5000, ...options });
  t.teardown(() => h.destroy());
  return { h, inner };
}

const get = (port: number, path = '/bucket/key', extra: Partial<GetRequest> = {}): GetRequest =>
  ({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, 'x-amz-date': '20260101T000000Z' }, ...extra });

async function send(h: GetHandler, request: GetRequest, options = {}): Promise<GetResponse> {
  return (await h.handle(request, options)).response as GetResponse;
}

async function drain(body: Readable): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of body) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}

t.test('a GET is sent as the SDK built it; responses come back with their headers; one connection serves them all', async (t) => {
  const served = await server(t, (socket, request) => socket.write(ok(`you asked ${request.split(' ')[1]}`, 'ETag: "e"\r\n')));
  const { h, inner } = handler(t);
  for (let i = 0; i < 5; i++) {
    const res = await send(h, get(served.port, '/bucket/a%20b', { query: { 'list-type': '2', prefix: 'x y/é', uploads: null } }));
    t.equal(res.statusCode, 200);
    t.equal(res.headers['etag'], '"e"');
    t.equal((await drain(res.body)).toString(), 'you asked /bucket/a%20b?list-type=2&prefix=x%20y%2F%C3%A9&uploads');
  }
  t.equal(served.connections, 1, 'kept alive and reused');
  t.match(served.requests[0], /^GET \/bucket\/a%20b\?list-type=2&prefix=x%20y%2F%C3%A9&uploads HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\nx-amz-date: 20260101T000000Z$/);
  t.equal(inner.calls.length, 0);
});

t.test('fill reads a body into the caller\'s buffers; the last fill says where it ends', async (t) => {
  const body = randomBytes(3 * 1024 * 1024 + 123);
  const served = await server(t, (socket) => {
    socket.write(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n\r\n`);
    // In uneven pieces, with pauses, so reads land at odd offsets.
    let at = 0;
    const step = () => {
      if (at >= body.length) return;
      const n = 100_000 + Math.floor(Math.random() * 400_000);
      socket.write(body.subarray(at, at + n));
      at += n;
      setTimeout(step, 1);
    };
    step();
  });
  const { h } = handler(t);
  for (let round = 0; round < 2; round++) {
    const res = await send(h, get(served.port));
    t.ok(res.body instanceof ResponseBody);
    const into = Buffer.alloc(body.length + 10);
    const sizes = [1024 * 1024, 1024 * 1024, 1024 * 1024, 1024 * 1024];
    let at = 0;
    const got: number[] = [];
    for (const size of sizes) {
      const n = await (res.body as ResponseBody).fill(into.subarray(at, at + size));
      got.push(n);
      at += n;
    }
    t.same(got, [1024 * 1024, 1024 * 1024, 1024 * 1024, 123], 'full fills, then the rest');
    t.ok(into.subarray(0, body.length).equals(body), 'the bytes are the body');
    t.equal(await (res.body as ResponseBody).fill(Buffer.alloc(1)), 0, 'nothing after the end');
  }
  t.equal(served.connections, 1, 'the connection went back to the pool after each body');
});

t.test('a pooled connection the server closed is replaced without the caller noticing', async (t) => {
  const served = await server(t, (socket) => {
    socket.write(ok('hello'));
    setTimeout(() => socket.end(), 20); // the server's own idle timeout
  });
  const { h } = handler(t);
  t.equal((await drain((await send(h, get(served.port))).body)).toString(), 'hello');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal((await drain((await send(h, get(served.port))).body)).toString(), 'hello', 'answered on a new connection');
  t.equal(served.connections, 2);
});

t.test('a request the server drops on a reused connection is sent again once', async (t) => {
  let n = 0;
  const served = await server(t, (socket) => {
    if (n++ === 1) socket.destroy(); // the race: closed as the request arrived
    else socket.write(ok('fine'));
  });
  const { h } = handler(t);
  t.equal((await drain((await send(h, get(served.port))).body)).toString(), 'fine');
  t.equal((await drain((await send(h, get(served.port))).body)).toString(), 'fine', 'retried on a fresh connection');
  t.equal(served.requests.length, 3);
});

t.test('a response cut off in its head is an error, never sent again', async (t) => {
  let n = 0;
  const served = await server(t, (socket) => {
    if (n++ === 0) socket.write(ok('first'));
    else socket.end('HTTP/1.1 200 OK\r\nContent-Len');
  });
  const { h } = handler(t);
  t.equal((await drain((await send(h, get(served.port))).body)).toString(), 'first');
  const error = await send(h, get(served.port)).then(() => undefined, (e: unknown) => e);
  t.ok(isNetworkError(error), `a network error (${String(error)})`);
  t.equal(served.requests.length, 2, 'not retried: the server had begun to answer');
});

t.test('a connection lost in the middle of a body fails the stream and the fill, and is not reused', async (t) => {
  const served = await server(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n');
    socket.write(Buffer.alloc(300_000, 7), () => setTimeout(() => socket.destroy(), 20));
  });
  const { h } = handler(t);
  const streamError = await drain((await send(h, get(served.port))).body).then(() => undefined, (e: unknown) => e);
  t.ok(isNetworkError(streamError), `the stream fails with a network error (${String(streamError)})`);
  const filling = (await send(h, get(served.port))).body as ResponseBody;
  await t.rejects(filling.fill(Buffer.alloc(1_000_000)), /closed|ECONNRESET/);
  t.equal(served.connections, 2, 'each on a connection of its own');
});

t.test('an error status passes through with its body', async (t) => {
  const served = await server(t, (socket) => {
    const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
    socket.write('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nContent-Type: application/xml\r\n\r\n'
      + `${chunk('<Error><Code>NoSuchKey</Code>')}${chunk('</Error>')}0\r\n\r\n`);
  });
  const { h } = handler(t);
  const res = await send(h, get(served.port));
  t.equal(res.statusCode, 404);
  t.equal((await drain(res.body)).toString(), '<Error><Code>NoSuchKey</Code></Error>');
});

t.test('aborts: before the response, and in the middle of a body', async (t) => {
  const served = await server(t, (socket, request) => {
    if (request.includes('/slow')) return; // never answers
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc');
  });
  const { h } = handler(t);
  const early = new AbortController();
  const pending = send(h, get(served.port, '/slow'), { abortSignal: early.signal });
  setTimeout(() => early.abort(), 20);
  await t.rejects(pending, { name: 'AbortError' });
  const late = new AbortController();
  const res = await send(h, get(served.port), { abortSignal: late.signal });
  const reading = drain(res.body);
  late.abort();
  await t.rejects(reading, { name: 'AbortError' });
  const already = new AbortController();
  already.abort();
  await t.rejects(send(h, get(served.port), { abortSignal: already.signal }), { name: 'AbortError' });
});

t.test('a server that goes silent is given up after the idle timeout', async (t) => {
  const served = await server(t, (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab'));
  const { h } = handler(t, { idleTimeoutMs: 150 });
  const res = await send(h, get(served.port));
  const started = Date.now();
  await t.rejects(drain(res.body), { code: 'ETIMEDOUT' });
  t.ok(Date.now() - started < 3000, 'promptly');
});

t.test('no more connections than maxSockets; queued requests go on as they free up', async (t) => {
  const served = await server(t, (socket) => setTimeout(() => socket.write(ok('x')), 20));
  const { h } = handler(t, { maxSockets: 2 });
  const bodies = await Promise.all(Array.from({ length: 7 }, async () => drain((await send(h, get(served.port))).body)));
  t.same(bodies.map(String), Array(7).fill('x'));
  t.ok(served.maxOpen <= 2, `at most 2 open (${served.maxOpen})`);
});

t.test('a refused connection is a network error; a head that would split the request is never sent', async (t) => {
  const closed = await server(t, () => undefined);
  const { h } = handler(t);
  const free = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const refused = await send(h, get(free)).then(() => undefined, (e: unknown) => e);
  t.ok(isNetworkError(refused), `a network error (${String(refused)})`);
  const injected = get(closed.port, '/k', { headers: { host: 'h', 'x-amz-meta-a': 'v\r\nx-evil: 1' } });
  await t.rejects(send(h, injected), /malformed request header/);
  await t.rejects(send(h, get(closed.port, '/k k')), /spaces or control characters/);
  t.equal(closed.requests.length, 0, 'nothing reached the server');
});

t.test('send: a PUT goes with its body whole, its length given; a request the pool cannot frame is refused, never sent', async (t) => {
  // A server that reads each request's body by its content-length before it answers.
  const bodies: string[] = [];
  const served: Served = { requests: [], connections: 0, maxOpen: 0, port: 0 };
  const srv = net.createServer((socket) => {
    served.connections++;
    let pending = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.subarray(0, end).toString('latin1');
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        served.requests.push(head);
        if (length > 0) bodies.push(pending.subarray(end + 4, end + 4 + length).toString());
        pending = pending.subarray(end + 4 + length);
        socket.write(ok('', 'ETag: "p"\r\n'));
      }
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  served.port = (srv.address() as net.AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  const { h, inner } = handler(t);
  const put = (body: Buffer | undefined, headers: Record<string, string> = {}): GetRequest =>
    get(served.port, '/bucket/key', { method: 'PUT', headers: { host: 'h', ...headers }, ...(body === undefined ? {} : { body }) });
  const res = await h.send(put(Buffer.from('hello, pool'), { 'content-length': '11' }));
  t.same([res.statusCode, res.headers['etag'], (await drain(res.body)).length], [200, '"p"', 0]);
  await drain((await h.send(put(Buffer.from('no length header')))).body);
  await drain((await h.send(put(undefined))).body);
  await drain((await h.send(get(served.port, '/bucket/key', { method: 'DELETE', headers: { host: 'h' } }))).body);
  t.same(bodies, ['hello, pool', 'no length header'], 'each body arrived whole after its head');
  t.match(served.requests[1], /\r\ncontent-length: 16$/, 'a missing length is added');
  t.match(served.requests[2], /^PUT [^]*\r\ncontent-length: 0$/, 'a PUT without a body says so');
  t.notMatch(served.requests[3], /content-length/i, 'a DELETE without a body sends no length');
  t.equal(served.connections, 1, 'one kept-alive connection carried them all');

  const before = served.requests.length;
  await t.rejects(h.send(put(Buffer.from('abc'), { 'content-length': '2' })), /content-length of 2 for a body of 3 bytes/);
  await t.rejects(h.send(put(Buffer.from('abc'), { 'Transfer-Encoding': 'chunked' })), /transfer coding/);
  await t.rejects(h.send(put(Readable.from([Buffer.from('x')]) as unknown as Buffer)), /cannot send a PUT/, 'a stream body');
  await t.rejects(h.send(get(served.port, '/b/k', { method: 'POST', headers: { host: 'h' }, body: Buffer.from('x') })), /cannot send a POST/);
  await t.rejects(h.send({ ...put(Buffer.from('x')), protocol: 'https:' }), /cannot send a PUT to https:/);
  t.equal(served.requests.length, before, 'nothing of them reached the server');
  t.equal(inner.calls.length, 0, 'and nothing went to the SDK\'s handler');
});

t.test('a HEAD reads no body, whatever its Content-Length says, and leaves the connection ready for the next request', async (t) => {
  const served = await server(t, (socket, request) => {
    if (request.startsWith('HEAD ')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nETag: "h"\r\n\r\n');
    else socket.write(ok('after the head'));
  });
  const { h, inner } = handler(t);
  const head = await send(h, get(served.port, '/bucket/big', { method: 'HEAD' }));
  t.equal(head.statusCode, 200);
  t.equal(head.headers['content-length'], '1048576');
  t.equal(head.headers['etag'], '"h"');
  t.equal((await drain(head.body)).length, 0, 'an empty body');
  t.equal((await drain((await send(h, get(served.port))).body)).toString(), 'after the head', 'the GET after it is read right');
  t.equal(served.connections, 1, 'on the same connection');
  t.match(served.requests[0], /^HEAD \/bucket\/big HTTP\/1\.1\r\n/);
  t.equal(inner.calls.length, 0);
});

t.test('a PUT or DELETE the SDK\'s handler lost to a socket hang up is sent once more when its body can be', async (t) => {
  const hangUp = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const inner = new Inner();
  let failures = 0;
  inner.handle = (request: never) => {
    inner.calls.push(request as GetRequest);
    if (failures > 0) {
      failures--;
      return Promise.reject(hangUp());
    }
    return Promise.resolve({ response: { statusCode: 200, headers: {} } });
  };
  const h = new GetHandler(inner, { maxSockets: 8, connectTimeoutMs: 2000, idleTimeoutMs: 5000 });
  t.teardown(() => h.destroy());
  const base = get(1);
  const cases: [string, GetRequest, number][] = [
    ['a PUT with a buffer body', { ...base, method: 'PUT', body: Buffer.from('x') }, 2],
    ['a copy (PUT without a body)', { ...base, method: 'PUT' }, 2],
    ['a DELETE', { ...base, method: 'DELETE' }, 2],
    ['a POST', { ...base, method: 'POST' }, 1],
    ['a PUT with a stream body', { ...base, method: 'PUT', body: Readable.from([Buffer.from('x')]) }, 1],
  ];
  for (const [label, request, tries] of cases) {
    inner.calls = [];
    failures = 1;
    const outcome = await h.handle(request).then(() => 'ok', (e: Error) => e.message);
    t.equal(inner.calls.length, tries, `${label}: ${tries === 2 ? 'sent again' : 'not sent again'}`);
    t.equal(outcome, tries === 2 ? 'ok' : 'socket hang up');
  }
  inner.calls = [];
  failures = 2;
  t.equal(await h.handle({ ...base, method: 'PUT' }).then(() => 'ok', (e: Error) => e.message), 'socket hang up', 'only once');
  t.equal(inner.calls.length, 2);
  inner.calls = [];
  failures = 1;
  inner.handle = (request: never) => {
    inner.calls.push(request as GetRequest);
    return Promise.reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  };
  await t.rejects(h.handle({ ...base, method: 'PUT' }), { message: 'aborted' });
  t.equal(inner.calls.length, 1, 'a connection lost after the response began: not sent again');
});

t.test('everything but plain-HTTP GETs and HEADs goes to the SDK\'s handler', async (t) => {
  const { h, inner } = handler(t);
  const base = get(1);
  const others = [{ ...base, method: 'PUT', body: 'x' }, { ...base, method: 'DELETE' }, { ...base, method: 'POST' }, { ...base, protocol: 'https:' }, { ...base, body: 'x' }];
  for (const request of others) {
    t.equal(((await h.handle(request)).response as { statusCode: number }).statusCode, 299);
  }
  t.equal(inner.calls.length, others.length);
  h.destroy();
  t.ok(inner.destroyed, 'destroy reaches it too');
});
