/**
 * What a command module is: its yargs shape (usage, options, examples) and a
 * `run` that does the work against an `Io`. cli.ts registers every module of
 * commands/index.ts the same way, so a new command is one file plus one line.
 * Commands throw on failure; cli.ts alone turns errors into the one stderr
 * line and the exit code.
 */
import type { Argv } from 'yargs';

/** Where a command reads and writes; the real process, or buffers in tests. */
export interface Io {
  stdout: NodeJS.WritableStream;
  /** Progress bars are drawn here when it is a TTY. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT: commands stop starting work and clean up what is in flight. */
  signal: AbortSignal;
}

export interface CommandDefinition<A> {
  /** yargs command string, e.g. `ls <remote>`. */
  command: string;
  describe: string;
  /** Shown under `--help`: [command line, what it does]. */
  examples: readonly (readonly [string, string])[];
  /** Declares the options and positionals (method syntax: modules of any argument type fit one list). */
  options(yargs: Argv): Argv<A>;
  run(args: A, io: Io): Promise<void>;
}

/** A command with its argument type erased, as cli.ts registers it. */
export interface RegisteredCommand {
  command: string;
  describe: string;
  examples: readonly (readonly [string, string])[];
  options(yargs: Argv): Argv;
  run(args: unknown, io: Io): Promise<void>;
}

/**
 * Checks a command against its own argument type, then erases that type for
 * the common list: yargs hands `run` exactly what `options` declared.
 */
export function defineCommand<A>(definition: CommandDefinition<A>): RegisteredCommand {
  return definition as unknown as RegisteredCommand;
}

/** The `--json` flag of reporting commands. */
export function withJson<T>(yargs: Argv<T>): Argv<T & { json: boolean }> {
  return yargs.option('json', { type: 'boolean', default: false, describe: 'Print one JSON document instead of text' });
}

/** A positional that stays a string (yargs would turn "123" into a number). */
export function withLocation<T, N extends string>(yargs: Argv<T>, name: N, describe: string): Argv<T & { [K in N]: string }> {
  return yargs.positional(name, { type: 'string', demandOption: true, describe }) as Argv<T & { [K in N]: string }>;
}

export function withRecursive<T>(yargs: Argv<T>, describe: string): Argv<T & { recursive: boolean }> {
  return yargs.option('recursive', { alias: 'r', type: 'boolean', default: false, describe });
}
