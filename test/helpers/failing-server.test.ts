/**
 * The failing server used for Transient error mapping: it must fail every
 * request the way a broken S3 endpoint does, and close cleanly.
 */
import t from 'tap';
import { isNetworkError } from '../../drivers/errors.js';
import { startFailingServer } from './failing-server.js';

t.test("mode '500' answers every request with an S3 InternalError", async (t) => {
  const server = await startFailingServer();
  t.teardown(() => server.close());
  t.equal(server.url, `http://127.0.0.1:${server.port}`, 'the url names the loopback port');
  for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
    const response = await fetch(`${server.url}/bucket/key`, method === 'PUT' ? { method, body: Buffer.alloc(100_000) } : { method });
    const text = await response.text();
    t.equal(response.status, 500, `${method} gets 500`);
    if (method !== 'HEAD') t.match(text, /<Error><Code>InternalError<\/Code>/, `${method} gets the XML error body`);
  }
});

t.test("mode 'reset' resets the connection", async (t) => {
  const server = await startFailingServer('reset');
  t.teardown(() => server.close());
  const error = await fetch(`${server.url}/bucket/key`).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error !== undefined, 'the request fails');
  t.ok(isNetworkError(error), 'as a network error (connection reset)');
});

t.test('close is idempotent and frees the port', async (t) => {
  const server = await startFailingServer();
  await fetch(server.url).then((r) => r.text());
  await server.close();
  await server.close();
  const error = await fetch(server.url).then(() => undefined, (e: unknown) => e);
  t.ok(isNetworkError(error), 'nothing listens after close');
});
