/**
 * The write-back journal (cache/writeback/journal.ts) on its own: rows and
 * their barrier sequence, superseding in place, inline content kept out of
 * rows read into memory, multipart records, and a journal written by a
 * newer schema refused rather than wiped.
 */
import Database from 'better-sqlite3';
import t from 'tap';
import { JOURNAL_FILE, WritebackJournal, type NewUpload } from '../../cache/writeback/journal.js';

const upload = (path: string, more: Partial<NewUpload> = {}): NewUpload => ({
  path, key: path.slice(1), staging: `s-${path.slice(1)}`, size: 3, metadata: { mode: '33188' },
  contentType: undefined, baseEtag: undefined, obsoleteKeys: [], acknowledgedAt: 1, ...more,
});

t.test('rows, sequences, supersede and the barrier count', async (t) => {
  const dir = t.testdir();
  const journal = WritebackJournal.open(dir);
  t.teardown(() => journal.close());
  const a = journal.insert(upload('/a', { content: Buffer.from('abc') }));
  const b = journal.insert(upload('/b'));
  t.equal(a.ackSeq, a.id, 'a new row gets its own sequence');
  t.ok(b.ackSeq > a.ackSeq, 'sequences grow');
  t.equal(a.inline, true, 'inline content is flagged');
  t.equal(journal.content(a.id)?.toString(), 'abc', 'and read on demand');
  t.equal(b.inline, false);
  const seq = journal.lastSeq();
  const newer = journal.supersede(a.id, { ...upload('/a', { size: 5 }), ackSeq: a.ackSeq });
  t.equal(newer?.ackSeq, a.ackSeq, 'a superseding version keeps the sequence the barrier waits for');
  t.equal(newer?.size, 5);
  t.equal(journal.countUpTo(seq), 2, 'both rows are owed to a barrier taken before');
  journal.recordAttempt(b.id, { state: 'failed', attempts: 2, lastError: 'AccessDenied', nextAttemptAt: 99 });
  t.match(journal.get(b.id), { state: 'failed', attempts: 2, lastError: 'AccessDenied', nextAttemptAt: 99 });
  t.same([...journal.stagingNames()].sort(), ['s-a', 's-b']);
  journal.drop([a.id]);
  journal.remove(b.id);
  t.equal(journal.countUpTo(seq), 0);
  t.ok(journal.insert(upload('/c')).ackSeq > seq, 'sequences never repeat');
  journal.addMultipart('k', 'u1', 5);
  t.same(journal.multiparts(), [{ key: 'k', uploadId: 'u1' }]);
  journal.removeMultipart('k', 'u1');
  t.same(journal.multiparts(), []);
});

t.test('rows survive reopening; a newer schema is refused, not wiped', async (t) => {
  const dir = t.testdir();
  const first = WritebackJournal.open(dir);
  first.insert(upload('/kept'));
  first.close();
  const again = WritebackJournal.open(dir);
  t.same(again.all().map((r) => r.path), ['/kept']);
  again.close();
  const db = new Database(`${dir}/${JOURNAL_FILE}`);
  db.pragma('user_version = 99');
  db.close();
  t.throws(() => WritebackJournal.open(dir), /newer than this bucketfs knows/);
  const raw = new Database(`${dir}/${JOURNAL_FILE}`);
  t.equal((raw.prepare('SELECT count(*) AS n FROM uploads').get() as { n: number }).n, 1, 'the row is still there');
  raw.close();
});
