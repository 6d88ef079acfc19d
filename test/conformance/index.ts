/**
 * The one conformance suite every backend passes. A backend's test file
 * builds a ConformanceTarget (or says why it cannot) and calls
 * `runConformance`; the topics below are written once for all backends.
 * Optional features are tested where the backend's capabilities claim them,
 * and checked to be refused as Unsupported where they do not.
 *
 * A target that cannot run prints a loud `SKIPPED: <name>: <reason>` line;
 * under CI (CI=true) that fails the run, since nothing may be skipped there.
 * The suite leaves the target's backend open and its bucket in place: the
 * test file that made them tears them down.
 */
import type { ConformanceTarget } from './target.js';
import { makeContext, type Ctx, type Tap } from './helpers.js';
import { bucketTests } from './buckets.js';
import { errorTests } from './errors.js';
import { featureTests } from './features.js';
import { historyTests } from './history.js';
import { keyTests } from './keys.js';
import { libraryTests } from './library.js';
import { listingTests } from './listing.js';
import { multipartTests } from './multipart.js';
import { objectTests } from './objects.js';
import { rangeTests } from './ranges.js';

const TOPICS: [string, (t: Tap, ctx: Ctx) => Promise<void>][] = [
  ['error mapping', errorTests],
  ['buckets', bucketTests],
  ['hostile keys', keyTests],
  ['objects', objectTests],
  ['ranges and empty objects', rangeTests],
  ['listing', listingTests],
  ['multipart', multipartTests],
  ['optional features', featureTests],
  ['versions, notifications, signed URLs', historyTests],
];

/** The libcloud-style layer over the same target (it needs the target itself, not the context). */
const LIBRARY = 'Driver / Container / StoredObject';

/**
 * `makeTarget` is given the conformance run's own test: teardowns registered
 * on it run when the run ends, so its servers and bucket do not outlive it.
 */
export function runConformance(
  t: Tap,
  name: string,
  makeTarget: (run: Tap) => Promise<ConformanceTarget | { skipped: string }>,
): Promise<void> {
  return t.test(`conformance: ${name}`, async (t) => {
    const target = await makeTarget(t);
    if ('skipped' in target) {
      const line = `SKIPPED: ${name}: ${target.skipped}`;
      console.log(line);
      if (process.env['CI'] === 'true') t.fail(`${line} (under CI every backend must run)`);
      else {
        t.comment(line);
        t.pass(`${name} skipped`);
      }
      return;
    }
    const ctx = makeContext(target);
    for (const [topic, run] of TOPICS) await t.test(topic, (t) => run(t, ctx));
    await t.test(LIBRARY, (t) => libraryTests(t, target));
  }).then(() => undefined);
}
