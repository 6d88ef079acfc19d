/**
 * Running the model test: the command arbitraries (offsets and sizes biased
 * towards the interesting places — small, FUSE's 128 KiB write size, 1 MiB,
 * the chunk size — and sizes up to 3 MiB), one run per generated sequence in
 * its own directory on one long-lived mount, and the report of a failure:
 * the shrunk sequence, the seed and path to replay it (FC_SEED, FC_PATH), the
 * tail of the daemon's log.
 *
 * Shrinking re-runs sequences on the real mount, so it gets a time budget:
 * past it, candidates are no longer tried and the smallest failure found so
 * far is reported.
 */
import fc from 'fast-check';
import type { Test } from 'tap';
import { DEFAULT_CHUNK_SIZE } from '../../cache/chunks.js';
import {
  CloseCommand, DeleteOutOfBandCommand, FsyncCommand, FtruncateCommand, MAX_OPEN, MkdirCommand, OpenCommand, PutOutOfBandCommand,
  ReadCommand, RenameCommand, RmdirCommand, TruncatePathCommand, UnlinkCommand, WriteCommand, closeEverything, type ModelCommand,
} from './commands.js';
import { DIRS, PATHS, ReferenceModel, type AccessMode } from './reference.js';
import { KNOWN_BUGS } from './known-bugs.js';
import { verifyBucket } from './verify.js';
import { MountSession, type Target } from './world.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Writes straddle a chunk boundary; capped so files stay ~11 MiB even if the chunk size grows. */
const CHUNK_BOUNDARY = Math.min(DEFAULT_CHUNK_SIZE, 8 * MiB);
/** FUSE hands writes over in pieces of at most max_write (131072). */
const FUSE_WRITE = 128 * KiB;

/** The seed used unless FC_SEED says otherwise (FC_SEED=random picks one): the suite stays reproducible. */
const DEFAULT_SEED = 20_261_121;

const near = (point: number, spread: number) => fc.integer({ min: Math.max(0, point - spread), max: point + spread });
const rarely = fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const offset = fc.oneof(
  { weight: 4, arbitrary: fc.nat(8 * KiB) },
  { weight: 2, arbitrary: near(FUSE_WRITE, 512) },
  { weight: 1, arbitrary: near(MiB, 4 * KiB) },
  { weight: 1, arbitrary: near(CHUNK_BOUNDARY, 4 * KiB) },
);
const size = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 4 * KiB }) },
  { weight: 2, arbitrary: fc.integer({ min: 4 * KiB, max: 300 * KiB }) },
  { weight: 1, arbitrary: fc.integer({ min: 300 * KiB, max: 3 * MiB }) },
);
const path = fc.constantFrom(...PATHS);
const dir = fc.constantFrom(...DIRS);
const slot = fc.nat(MAX_OPEN - 1);
const seed = fc.integer({ min: 1, max: 0x7fff_ffff });

const openFlags = fc
  .record({
    mode: fc.constantFrom<AccessMode>('rw', 'rw', 'w', 'r'),
    create: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    exclusive: rarely,
    truncate: rarely,
    append: rarely,
  })
  .map((f) => ({ ...f, exclusive: f.create && f.exclusive, truncate: f.mode !== 'r' && f.truncate, append: f.mode !== 'r' && f.append }));

const weighted = (weight: number, arbitrary: fc.Arbitrary<ModelCommand>) => ({ weight, arbitrary });

/** Every command, weighted so a sequence mostly opens, writes, reads and closes. */
export const commandArbitrary: fc.Arbitrary<ModelCommand> = fc.oneof(
  weighted(6, fc.tuple(path, openFlags).map(([p, f]) => new OpenCommand(p, f))),
  weighted(10, fc.tuple(slot, offset, size, seed).map(([s, o, n, x]) => new WriteCommand(s, o, n, x))),
  weighted(5, fc.tuple(slot, offset, size).map(([s, o, n]) => new ReadCommand(s, o, n))),
  weighted(2, fc.tuple(slot, offset).map(([s, n]) => new FtruncateCommand(s, n))),
  weighted(1, fc.tuple(path, offset).map(([p, n]) => new TruncatePathCommand(p, n))),
  weighted(2, slot.map((s) => new FsyncCommand(s))),
  weighted(3, slot.map((s) => new CloseCommand(s))),
  weighted(1, path.map((p) => new UnlinkCommand(p))),
  weighted(2, fc.tuple(path, path).map(([a, b]) => new RenameCommand(a, b))),
  weighted(1, dir.map((d) => new MkdirCommand(d))),
  weighted(1, dir.map((d) => new RmdirCommand(d))),
  weighted(1, fc.tuple(path, fc.oneof(fc.nat(4 * KiB), fc.integer({ min: 4 * KiB, max: 2 * MiB })), seed).map(([p, n, x]) => new PutOutOfBandCommand(p, n, x))),
  weighted(1, path.map((p) => new DeleteOutOfBandCommand(p))),
);

/** Counts the commands that ran, by name, so a report shows what a passing run exercised. */
function counted(commands: Iterable<ModelCommand>, counts: Map<string, number>): ModelCommand[] {
  return [...commands].map((c) => ({
    check: (m) => c.check(m),
    run: (m, r) => {
      const name = c.toString().replace(/\(.*$/s, '');
      counts.set(name, (counts.get(name) ?? 0) + 1);
      if (process.env['FC_TRACE'] === '1') console.log(`${r.name}: ${c.toString()}`);
      return c.run(m, r);
    },
    toString: () => c.toString(),
  }));
}

/** One sequence in a fresh run directory: every step checked, then every descriptor closed and the bucket compared. */
export async function runSequence(
  session: MountSession, commands: Iterable<ModelCommand>, options: { stepAround?: ReadonlySet<string>; counts?: Map<string, number> } = {},
): Promise<void> {
  const model = new ReferenceModel(options.stepAround);
  const real = await session.newRun();
  try {
    await fc.asyncModelRun(() => ({ model, real }), counted(commands, options.counts ?? new Map()));
    await closeEverything(model, real);
    await verifyBucket(model, real);
  } catch (error) {
    const death = session.daemonDeath();
    if (death === undefined) throw error;
    throw new Error(`${death}\n(seen as: ${error instanceof Error ? error.message : String(error)})`, { cause: error });
  } finally {
    await real.closeAll();
  }
}

export interface ModelRunOptions {
  runs: number;
  maxCommands: number;
  /** Time shrinking may take before the smallest failure so far is reported. */
  shrinkBudgetMs: number;
}

function envInt(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value === '' || value === 'random' ? undefined : Number(value);
}

function chosenSeed(): number {
  if (process.env['FC_SEED'] === 'random') return Math.floor(Math.random() * 0x7fff_ffff);
  return envInt('FC_SEED') ?? DEFAULT_SEED;
}

/** Runs the model test against `target`; a failure fails `t` with the shrunk sequence and how to replay it. */
export async function runModelTest(t: Test, target: Target, options: ModelRunOptions): Promise<void> {
  const session = new MountSession(target);
  t.teardown(() => session.close());
  const seedValue = chosenSeed();
  const runs = envInt('FC_RUNS') ?? options.runs;
  let firstFailureAt: number | undefined;
  let shrinkStopped = false;
  const counts = new Map<string, number>();
  const stepAround = new Set(Object.keys(KNOWN_BUGS));
  const property = fc.asyncProperty(fc.commands([commandArbitrary], { maxCommands: options.maxCommands, size: 'max' }), async (commands) => {
    if (firstFailureAt !== undefined && Date.now() - firstFailureAt > options.shrinkBudgetMs) {
      shrinkStopped = true;
      return true;
    }
    try {
      await runSequence(session, commands, { counts, stepAround });
    } catch (error) {
      firstFailureAt ??= Date.now();
      throw error;
    }
    return true;
  });
  const path = process.env['FC_PATH'];
  const started = Date.now();
  const details = await fc.check(property, { seed: seedValue, numRuns: runs, ...(path !== undefined && { path }) });
  t.comment(`${target.name}: ${details.numRuns} runs of up to ${options.maxCommands} commands, seed ${seedValue}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (stepAround.size > 0) t.comment(`stepping around known bugs (see known-bugs.ts): ${[...stepAround].join(', ')}`);
  t.comment(`commands run: ${[...counts].sort().map(([name, n]) => `${name} ${n}`).join(', ')}`);
  if (!details.failed) {
    t.pass(`the mount agreed with the model in ${details.numRuns} runs (seed ${seedValue})`);
    return;
  }
  const report = fc.defaultReportMessage(details) ?? 'failed';
  const replay = `FC_SEED=${seedValue} FC_PATH=${details.counterexamplePath ?? ''} npx tap ${process.argv[1] ?? 'test/model/mount-model.test.ts'}`;
  const error = details.errorInstance;
  t.fail(`the mount disagreed with the model (seed ${seedValue})`, {
    diagnostic: true,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    report,
    replay,
    shrinking: shrinkStopped ? `stopped after ${options.shrinkBudgetMs} ms` : 'complete',
    daemonLog: session.daemonLog().slice(-4000),
  });
}
