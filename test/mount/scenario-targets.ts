/**
 * Running one body of real-mount checks over every mount target, the way the
 * scenario, document and interoperability tests all do: a target that cannot
 * run here prints a loud `SKIPPED:` line (and fails under CI=true), a target
 * a test cannot use says why. Also puts a `bucketfs` command on PATH for
 * shell commands that look at the bucket directly.
 */
import type { Test } from 'tap';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mountTargets, type MountTarget } from './harness.js';
import { plainEnv } from './scenario-tree.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function reportSkipped(t: Test, what: string, why: string): void {
  console.log(`SKIPPED: ${what}: ${why}`);
  if (process.env['CI'] === 'true') t.fail(`${what} cannot run under CI: ${why}`);
  else t.comment(`SKIPPED: ${what}: ${why}`);
}

export interface TargetFilter {
  /** Target names to leave out, with the reason (e.g. the memory bucket lives inside the daemon). */
  exclude?: Record<string, string>;
}

/** Runs `body` as one subtest per mount target; skipped targets are reported, never silently passed. */
export async function forEachTarget(t: Test, label: string, filter: TargetFilter, body: (t: Test, target: MountTarget) => Promise<void>): Promise<void> {
  for (const target of await mountTargets(t)) {
    if ('skipped' in target) {
      // The harness already printed the SKIPPED line (and failed under CI).
      t.comment(`SKIPPED: ${label} on ${target.name}: ${target.skipped}`);
      continue;
    }
    const excluded = filter.exclude?.[target.name];
    if (excluded !== undefined) {
      t.comment(`${label}: not run on ${target.name}: ${excluded}`);
      continue;
    }
    await t.test(`${label} on ${target.name}`, (t) => body(t, target));
  }
}

/** A directory holding a `bucketfs` executable that runs this checkout's CLI; removed at teardown. */
export async function bucketfsBinDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketfs-bin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'bucketfs');
  await writeFile(script, `#!/bin/sh\nexec '${process.execPath}' '${join(ROOT, 'bin', 'bucketfs.js')}' "$@"\n`);
  await chmod(script, 0o755);
  return dir;
}

/** The environment shell commands on a mount get: deterministic locale and zone, the target's credentials. */
export function shellEnv(target: MountTarget, extra: Record<string, string> = {}): Record<string, string> {
  return plainEnv({ ...target.env, ...extra });
}
