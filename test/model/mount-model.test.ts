/**
 * The model-based test of the mount: random sequences of open (O_CREAT,
 * O_EXCL, O_TRUNC, O_APPEND), writes and reads at offsets around FUSE's
 * write size and chunk boundaries, ftruncate/truncate, fsync, close, unlink
 * and rename (also of open and unlinked files), mkdir/rmdir, and objects
 * written or deleted in the bucket behind the mount's back — run against a
 * reference model (reference.ts), checked after every step, on a real
 * daemon over a local directory (many runs) and Ceph RGW (a shorter run).
 * Not over memory://: its objects live inside the daemon, out of reach.
 *
 * FC_SEED (a number, or `random`), FC_RUNS and FC_PATH override the run;
 * FC_TRACE=1 prints each command as it runs.
 */
import t from 'tap';
import { mountTargets } from '../mount/harness.js';
import { runModelTest, type ModelRunOptions } from './run.js';

const SIZES: Record<string, ModelRunOptions> = {
  local: { runs: 60, maxCommands: 40, shrinkBudgetMs: 60_000 },
  rgw: { runs: 12, maxCommands: 40, shrinkBudgetMs: 30_000 },
};

for (const target of await mountTargets(t)) {
  const sizes = SIZES[target.name];
  if (sizes === undefined) {
    t.comment(`model test not run over ${target.name}: the bucket lives inside the daemon, out of reach for out-of-band changes`);
    continue;
  }
  // A skipped target was reported loudly by the harness (and fails under CI).
  if ('skipped' in target) t.comment(`SKIPPED: model test on ${target.name}: ${target.skipped}`);
  else await t.test(`the mount agrees with the model over ${target.name}`, (t) => runModelTest(t, target, sizes));
}
