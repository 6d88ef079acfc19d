/**
 * Programs that lean hard on a file system, on a real mount over every
 * target: git (objects written through temp files and renames, hard links
 * refused so it falls back, packs by gc, fsck) and SQLite in rollback-journal
 * and WAL modes (fsync at every commit, journal files created and deleted,
 * shared memory map, POSIX locks). On persistent targets the results are
 * checked again from a mount with an empty cache directory.
 */
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mount, type Mounted, type MountTarget } from './harness.js';
import { forEachTarget } from './scenario-targets.js';
import { run } from './scenario-tree.js';

const GIT_ENV = 'GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=test@example.com GIT_COMMITTER_NAME=Test GIT_COMMITTER_EMAIL=test@example.com GIT_AUTHOR_DATE=1700000000 GIT_COMMITTER_DATE=1700000000';

const GIT_SCRIPT = String.raw`
set -e
export ${GIT_ENV}
git init -q repo
cd repo
git config core.fsync all 2>/dev/null || true
for i in 1 2 3; do
  mkdir -p "dir$i"
  seq 1 2000 | sed "s/^/line $i /" > "dir$i/file.txt"
  head -c 200000 /dev/urandom | base64 > "dir$i/blob.b64"
  git add -A
  git commit -q -m "commit $i"
done
git mv dir1 renamed
git commit -q -m 'rename a directory'
git gc -q
git fsck --full --strict
git log --oneline | wc -l
`;

const ROWS_PER_TRANSACTION = 1000;
const TRANSACTIONS = 10;

function sqliteScript(db: string, journalMode: 'DELETE' | 'WAL'): string {
  const insert = `BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${ROWS_PER_TRANSACTION}) INSERT INTO t(v) SELECT hex(randomblob(32)) FROM c; COMMIT;`;
  return [
    `PRAGMA journal_mode=${journalMode};`,
    'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);',
    'CREATE INDEX t_v ON t(v);',
    ...Array.from({ length: TRANSACTIONS }, () => insert),
  ]
    .map((sql) => `sqlite3 '${db}' "${sql}" >/dev/null`)
    .join(' && ');
}

const CHECK_SQL = (db: string) => `sqlite3 '${db}' 'PRAGMA integrity_check; SELECT count(*), count(DISTINCT v) FROM t; PRAGMA journal_mode;'`;

async function localDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketfs-apps-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function withMount<T>(t: Test, target: MountTarget, body: (m: Mounted) => Promise<T>): Promise<T> {
  const m = await mount(target.remote, { env: target.env, cacheDir: await localDir(t) });
  try {
    return await body(m);
  } finally {
    await m.unmount();
  }
}

async function gitChecks(t: Test, dir: string): Promise<void> {
  t.equal(await run(`git -C repo fsck --full --strict && git -C repo log --format=%s | head -1 && git -C repo status --porcelain | wc -l`, dir), 'rename a directory\n0\n', 'fsck clean, history intact, worktree clean');
  t.equal(await run('sha256sum repo/dir2/file.txt | cut -c1-64 && seq 1 2000 | sed "s/^/line 2 /" | sha256sum | cut -c1-64', dir).then((s) => new Set(s.trim().split('\n')).size), 1, 'a tracked file has its content');
}

await forEachTarget(t, 'git and sqlite', {}, async (t, target) => {
  await withMount(t, target, async (m) => {
    await run('mkdir apps', m.dir);
    const dir = join(m.dir, 'apps');
    await t.test('git init, add, commit, mv, gc, fsck', async (t) => {
      t.equal(await run(GIT_SCRIPT, dir, 180_000), '4\n', 'four commits');
      await gitChecks(t, dir);
    });
    for (const mode of ['DELETE', 'WAL'] as const) {
      await t.test(`sqlite3 in ${mode} journal mode: 10 transactions of 1000 rows`, async (t) => {
        await run(sqliteScript(`${mode}.db`, mode), dir, 180_000);
        t.equal(await run(CHECK_SQL(`${mode}.db`), dir), `ok\n10000|10000\n${mode.toLowerCase()}\n`, 'integrity_check ok, every row, journal mode kept');
        t.notMatch(await run('ls -A', dir), new RegExp(`${mode}\\.db-journal`), 'no hot journal left behind');
      });
    }
  });
  if (!target.persistent) return void t.comment(`${target.name}: not persistent, no remount check`);
  await t.test('from a mount with an empty cache: git fsck and sqlite integrity_check pass', async (t) => {
    await withMount(t, target, async (m) => {
      const dir = join(m.dir, 'apps');
      await gitChecks(t, dir);
      for (const mode of ['DELETE', 'WAL'] as const) {
        t.equal(await run(CHECK_SQL(`${mode}.db`), dir), `ok\n10000|10000\n${mode.toLowerCase()}\n`, `${mode}: integrity_check ok, every row`);
      }
    });
  });
});
