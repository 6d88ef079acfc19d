/**
 * The bucketfs command line: yargs setup, the command modules of
 * commands/index.ts, and the one place where failures become a single stderr
 * line and an exit code (exit-codes.ts). `main` never throws and never calls
 * process.exit, so tests can run it in-process; bin/bucketfs.js sets
 * process.exitCode from it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import type { Io, RegisteredCommand } from './command.js';
import { COMMANDS } from './commands/index.js';
import { EXIT, InterruptedError, UsageError } from './exit-codes.js';
import { reportFailure, scrubSecrets } from './failure.js';
import { oneLine } from './format.js';
import { watchInterrupts } from './interrupt.js';

/** The package version, from the nearest package.json above this module (daemon/ or dist/daemon/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      const parent = dirname(dir);
      if (parent === dir) return 'unknown';
      dir = parent;
    }
  }
}

const REMOTE_FORMS = [
  'Remotes are URLs: s3://bucket/prefix?endpoint=http://host:port&region=r, minio://host:port/bucket/prefix,'
    + ' oss://bucket/prefix?region=oss-cn-hangzhou, file:///dir?prefix=p (the directory is the bucket), memory://name/prefix.',
  'Credentials come from the environment or the credentials file ($BUCKETFS_CREDENTIALS, else'
    + ' ~/.config/bucketfs/credentials, mode 600), never from the command line.',
  'Exit codes: 0 ok, 1 other, 2 usage, 3 not found, 4 access denied, 5 conflict, 6 unsupported,'
    + ' 7 unreachable or transient, 130 interrupted. BUCKETFS_DEBUG=1 adds the error chain.',
].join('\n\n');

type Outcome = { code: number };

/** yargs names an unknown --cache-sise twice ("cache-sise, cacheSise"); the user typed one. */
function withoutCamelTwins(message: string): string {
  const match = /^Unknown arguments?: (.*)$/.exec(message);
  if (match === null) return message;
  const names = match[1]!.split(', ');
  const typed = names.filter((n) => !names.some((other) => other !== n && other.includes('-') && other.replace(/-(.)/g, (_, c: string) => c.toUpperCase()) === n));
  return `Unknown argument${typed.length === 1 ? '' : 's'}: ${typed.join(', ')}`;
}

function register(parser: Argv, command: RegisteredCommand, io: Io, outcome: Outcome): Argv {
  return parser.command({
    command: command.command,
    describe: command.describe,
    builder: (y: Argv) => command.examples.reduce((built, [line, what]) => built.example(line, what), command.options(y)),
    handler: async (args: unknown) => {
      try {
        await command.run(args, io);
      } catch (e) {
        const name = command.command.split(' ')[0] ?? 'command';
        outcome.code = reportFailure(io.signal.aborted ? new InterruptedError(`${name} stopped and cleaned up`) : e, io);
      }
    },
  });
}

function buildParser(argv: string[], io: Io, outcome: Outcome): Argv {
  let parser = yargs(argv)
    .scriptName('bucketfs')
    .usage('$0 <command> [options]\n\nMount and manage object-storage buckets.')
    .strict()
    .exitProcess(false)
    .version(packageVersion())
    .help()
    .alias('help', 'h')
    .demandCommand(1, 'name a command (see bucketfs --help)')
    .recommendCommands()
    .epilogue(REMOTE_FORMS)
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((message, error) => {
      throw new UsageError(withoutCamelTwins(message ?? error?.message ?? 'invalid arguments'));
    });
  for (const command of COMMANDS) parser = register(parser, command, io, outcome);
  return parser;
}

/** Help and --version text (yargs hands it back instead of printing). */
function parse(parser: Argv, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    parser
      .parseAsync(argv, {}, (error: Error | undefined, _args: unknown, output: string) => (error ? reject(error) : resolve(output)))
      .catch(reject);
  });
}

/** Runs the command line `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], overrides: Partial<Io> = {}): Promise<number> {
  const interrupts = overrides.signal === undefined ? watchInterrupts() : undefined;
  const io: Io = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: interrupts?.signal ?? new AbortController().signal,
    ...overrides,
  };
  const outcome: Outcome = { code: EXIT.ok };
  try {
    const output = await parse(buildParser(argv, io, outcome), argv);
    if (output !== '') io.stdout.write(`${output}\n`);
    return outcome.code;
  } catch (e) {
    if (!(e instanceof UsageError)) return reportFailure(e, io);
    io.stderr.write(`bucketfs: ${scrubSecrets(oneLine(e.message), io.env)} (see bucketfs --help)\n`);
    return EXIT.usage;
  } finally {
    interrupts?.dispose();
  }
}
