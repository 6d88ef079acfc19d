/**
 * docs/SEMANTICS.md's examples, run on real mounts (local directory and Ceph
 * RGW; the memory target's bucket lives inside the daemon, out of reach of the
 * "given objects" and "objects in the bucket" blocks). Each example runs in a
 * fresh directory; an example naming mount options gets a mount of its own.
 * Also checks the document itself: every refused operation it lists has an
 * example showing the error.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mount, sh, type Mounted, type MountTarget } from './harness.js';
import { openBucket, type BucketView } from './scenario-bucket.js';
import { commandProblem, consoleScript, outputMatches, parseExamples, splitConsoleOutput, type DocBlock, type DocExample, type ObjectSpec } from './scenario-doc.js';
import { ROOT, bucketfsBinDir, forEachTarget, shellEnv } from './scenario-targets.js';
import { DIRECTORY_CONTENT_TYPE } from '../../vfs/object-format.js';
import { isStorageError } from '../../drivers/errors.js';

const DOC_PATH = join(ROOT, 'docs', 'SEMANTICS.md');
const doc = readFileSync(DOC_PATH, 'utf8');
const examples = parseExamples(doc);
const BLOCK_TIMEOUT_MS = 120_000;

t.test('the document is well formed and shows every refusal it lists', async (t) => {
  t.ok(examples.length >= 15, `${examples.length} examples`);
  const table = /## 2\. At a glance([\s\S]*?)\n## 3\./.exec(doc)?.[1] ?? '';
  const refused = new Set<string>();
  for (const row of table.split('\n').filter((line) => line.includes('refused:'))) {
    for (const m of row.split('|').at(-2)?.matchAll(/`(E[A-Z0-9]+)`/g) ?? []) refused.add(m[1]!);
  }
  t.ok(refused.size >= 8, `refusals listed: ${[...refused].join(' ')}`);
  const shown = new Set(examples.flatMap((e) => e.blocks.flatMap((b) => (b.kind === 'console' ? b.commands.map((c) => c.errno) : []))));
  for (const errno of refused) t.ok(shown.has(errno), `an example shows ${errno}`);
});

interface ExampleContext {
  target: MountTarget;
  bucket: BucketView;
  main: Mounted;
  binDir: string;
  name: string;
}

function exampleTitle(example: DocExample): string {
  const args = example.mountArgs.length > 0 ? ` (${example.mountArgs.join(' ')})` : '';
  return `line ${example.line}: ${example.section}${args}`;
}

/** Thrown when the target's store cannot hold the objects an example starts from (a local directory cannot hold `f` and `f/g`). */
class Unrepresentable extends Error {}

async function plant(ctx: ExampleContext, objects: Record<string, ObjectSpec>): Promise<void> {
  for (const [key, spec] of Object.entries(objects)) {
    const object = {
      body: spec.body ?? '',
      ...(spec.contentType !== undefined && { contentType: spec.contentType }),
      ...(spec.metadata !== undefined && { metadata: spec.metadata }),
    };
    await ctx.bucket.put(`${ctx.name}/${key}`, object).catch((e: unknown) => {
      if (isStorageError(e, 'AlreadyExists') && e.reason === 'KeyConflict') throw new Unrepresentable(e.message);
      throw e;
    });
  }
}

async function runConsole(t: Test, ctx: ExampleContext, mounted: Mounted, block: Extract<DocBlock, { kind: 'console' }>): Promise<void> {
  const env = shellEnv(ctx.target, { PATH: `${ctx.binDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, REMOTE: ctx.bucket.remoteUrl(`${ctx.name}/`) });
  const run = await sh(consoleScript(block.commands), { cwd: join(mounted.dir, ctx.name), env, timeoutMs: BLOCK_TIMEOUT_MS });
  const results = splitConsoleOutput(run.stdout, block.commands.length);
  block.commands.forEach((command, i) => {
    const problem = commandProblem(command, results[i]);
    const title = `line ${command.line}: $ ${command.command.slice(0, 120)}`;
    if (problem === undefined) t.pass(title);
    else t.fail(`${title}: ${problem.summary}`, { wanted: problem.expected, found: problem.actual, stderr: run.stderr, daemon: mounted.stderr().slice(-3000) });
  });
}

async function checkObjects(t: Test, ctx: ExampleContext, objects: Record<string, ObjectSpec>, line: number): Promise<void> {
  const stored = await ctx.bucket.objects(`${ctx.name}/`);
  stored.delete(''); // the example directory's own marker
  t.same([...stored.keys()].sort(), Object.keys(objects).sort(), `line ${line}: the keys in the bucket`);
  for (const [key, spec] of Object.entries(objects)) {
    const actual = stored.get(key);
    if (!actual) continue;
    if (spec.body !== undefined) t.equal(actual.body.toString('utf8'), spec.body, `line ${line}: body of ${key}`);
    if (spec.contentType !== undefined) t.equal(actual.contentType, spec.contentType, `line ${line}: content type of ${key}`);
    for (const [name, value] of Object.entries(spec.metadata ?? {})) {
      const got = actual.metadata[name];
      t.ok(got !== undefined && outputMatches([value], [got]), `line ${line}: metadata ${name} of ${key} is ${value} (got ${String(got)})`);
    }
  }
}

/** Makes the example's directory: through the mount when it can, else (a mount of its own, maybe read-only) as a marker. */
async function prepareDirectory(ctx: ExampleContext, example: DocExample): Promise<void> {
  if (example.blocks[0]?.kind === 'given') return;
  if (example.mountArgs.length === 0) {
    const made = await sh(`mkdir ${ctx.name}`, { cwd: ctx.main.dir });
    if (made.code !== 0) throw new Error(`mkdir ${ctx.name} on the mount failed: ${made.stderr}`);
  } else {
    await ctx.bucket.put(`${ctx.name}/`, { body: '', contentType: DIRECTORY_CONTENT_TYPE });
  }
}

async function runExample(t: Test, ctx: ExampleContext, example: DocExample): Promise<void> {
  await prepareDirectory(ctx, example);
  let own: Mounted | undefined;
  try {
    await runBlocks(t, ctx, example, async () => (own ??= await mount(ctx.target.remote, { env: ctx.target.env, args: example.mountArgs })));
  } catch (e) {
    if (!(e instanceof Unrepresentable)) throw e;
    t.comment(`not run on ${ctx.target.name}: ${e.message}`);
  } finally {
    await own?.unmount();
  }
}

async function runBlocks(t: Test, ctx: ExampleContext, example: DocExample, ownMount: () => Promise<Mounted>): Promise<void> {
  for (const block of example.blocks) {
    if (block.kind === 'given') await plant(ctx, block.objects);
    else if (block.kind === 'objects') await checkObjects(t, ctx, block.objects, block.line);
    else await runConsole(t, ctx, example.mountArgs.length > 0 ? await ownMount() : ctx.main, block);
  }
}


await forEachTarget(t, 'SEMANTICS.md examples', { exclude: { memory: 'its bucket lives inside the daemon; the examples plant and inspect objects directly' } }, async (t, target) => {
  const bucket = await openBucket(target);
  t.teardown(() => bucket.close());
  const binDir = await bucketfsBinDir(t);
  const main = await mount(target.remote, { env: target.env });
  t.teardown(() => main.unmount());
  for (const [index, example] of examples.entries()) {
    const ctx: ExampleContext = { target, bucket, main, binDir, name: `e${String(index).padStart(2, '0')}` };
    await t.test(exampleTitle(example), (t) => runExample(t, ctx, example));
  }
});
