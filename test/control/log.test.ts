/**
 * The daemon's log streams, in process: text and JSON formats, levels from
 * the option and the environment, the request trace on its own destination
 * and marked so grep separates it, secrets never written.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { createDaemonLogger } from '../../daemon/mount/log.js';

const SECRET = 'wJalrXUtnFEMI-test-secret';
const env = { AWS_SECRET_ACCESS_KEY: SECRET };

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8').on('data', (d: string) => (text += d));
  return { stream, text: () => text };
}

t.test('text format: the familiar lines, info by default, debug hidden', async (t) => {
  const out = capture();
  const { log, trace } = createDaemonLogger(out.stream, env);
  log('info', 'mounted s3://b/ on /mnt/b');
  log('warn', "skipped key 'a//b': not a valid file name", { key: 'a//b' });
  log('debug', 'not shown');
  log('error', `upload failed: key ${SECRET} and https://h/k?X-Amz-Signature=0123abcd&x=1`, { cause: new Error('boom'), n: 3n });
  t.equal(trace, undefined, 'no trace unless asked for');
  t.same(out.text().split('\n'), [
    'bucketfs: mounted s3://b/ on /mnt/b',
    "bucketfs: warning: skipped key 'a//b': not a valid file name (key=a//b)",
    'bucketfs: error: upload failed: key [redacted] and https://h/k?X-Amz-Signature=[redacted]&x=1 (cause=boom, n=3)',
    '',
  ]);
});

t.test('JSON format under journald, level from the environment', async (t) => {
  const out = capture();
  const { log } = createDaemonLogger(out.stream, { ...env, JOURNAL_STREAM: '8:1234', BUCKETFS_LOG_LEVEL: 'debug' });
  log('debug', 'shown now', { path: '/a' });
  const line = JSON.parse(out.text()) as Record<string, unknown>;
  t.match(line, { level: 20, msg: 'shown now', path: '/a', pid: process.pid });
  t.type(line['time'], 'string');
  t.throws(() => createDaemonLogger(out.stream, env, { level: 'loud' }), /invalid log level 'loud' \(expected debug, info, warn, error\)/);
  const quiet = capture();
  createDaemonLogger(quiet.stream, { BUCKETFS_DEBUG: '1' }, { level: 'error' }).log('warn', 'dropped');
  t.equal(quiet.text(), '', '--log-level wins over BUCKETFS_DEBUG');
});

t.test('the trace: to stderr marked trace, or to its own file (0600)', async (t) => {
  const out = capture();
  const { log, trace } = createDaemonLogger(out.stream, { ...env, BUCKETFS_TRACE: '1' });
  log('info', 'an execution line');
  trace?.({ op: 'get', bucket: 'b', key: 'dir/k', outcome: 'ok', seconds: 0.0123, bytesIn: 4096 });
  const lines = out.text().trimEnd().split('\n');
  t.same(lines.filter((l) => l.startsWith('bucketfs: trace: ')), ['bucketfs: trace: get b/dir/k (outcome=ok, ms=12.3, bytesIn=4096)']);
  t.same(lines.filter((l) => !l.startsWith('bucketfs: trace: ')), ['bucketfs: an execution line']);

  const dir = await mkdtemp(join(tmpdir(), 'bucketfs-trace-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'trace.jsonl');
  const err = capture();
  const both = createDaemonLogger(err.stream, { ...env, BUCKETFS_LOG_FORMAT: 'json' }, { traceFile: file });
  both.trace?.({ op: 'put', bucket: 'b', key: 'k', outcome: 'Transient', status: 503, seconds: 0.5, bytesOut: 3, error: `slow down ${SECRET}` });
  both.log('info', 'execution');
  const traced = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(traced, [{ trace: true, op: 'put', bucket: 'b', key: 'k', outcome: 'Transient', status: 503, ms: 500, bytesOut: 3, error: 'slow down [redacted]' }]);
  t.equal((await stat(file)).mode & 0o777, 0o600);
  t.notMatch(err.text(), /"trace"/, 'the execution log has no trace lines');
  t.match(err.text(), /"msg":"execution"/);
});
