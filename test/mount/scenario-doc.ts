/**
 * The executable examples of docs/SEMANTICS.md: parsing them, running a
 * console block as one bash script, and matching output. No mount knowledge
 * here (semantics-doc.test.ts runs the examples on real mounts).
 *
 * Block kinds (the fence's info string; words after the first are flags):
 *   ```console            commands (`$ ` lines) and their expected output
 *   ```json given-objects objects to write into the bucket first (key → body or {body, contentType, metadata})
 *   ```json objects       every object under the example's directory afterwards (key → body or
 *                         {body?, contentType?, metadata? (a subset)})
 * A block starts a new example unless it has the flag `continued` or is an
 * `objects` block. Flags starting with `--` are mount options: the example
 * gets a mount of its own with them.
 */

export interface ConsoleCommand {
  /** 1-based line of the `$ ` line in the document. */
  line: number;
  command: string;
  expected: string[];
  /** `# errno: NAME`: the command must fail, and its output name the error. */
  errno?: string;
}

export interface ObjectSpec {
  body?: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

export type DocBlock =
  | { kind: 'console'; line: number; commands: ConsoleCommand[] }
  | { kind: 'given'; line: number; objects: Record<string, ObjectSpec> }
  | { kind: 'objects'; line: number; objects: Record<string, ObjectSpec> };

export interface DocExample {
  line: number;
  /** The nearest heading above the example, for test names. */
  section: string;
  mountArgs: string[];
  blocks: DocBlock[];
}

interface Fence {
  line: number;
  words: string[];
  body: string[];
  section: string;
}

function fences(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const out: Fence[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#')) section = line.replace(/^#+\s*/, '');
    const open = /^```(\S.*)?$/.exec(line);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') body.push(lines[j++]!);
    if (j === lines.length) throw new Error(`line ${i + 1}: unclosed code fence`);
    out.push({ line: i + 1, words: (open[1] ?? '').trim().split(/\s+/).filter(Boolean), body, section });
    i = j;
  }
  return out;
}

function parseConsole(fence: Fence): DocBlock {
  const commands: ConsoleCommand[] = [];
  fence.body.forEach((text, index) => {
    const line = fence.line + 1 + index;
    if (text.startsWith('$ ')) return void commands.push({ line, command: text.slice(2), expected: [] });
    const current = commands.at(-1);
    if (!current) throw new Error(`line ${line}: output before the first command`);
    const errno = /^# errno: ([A-Z0-9]+)$/.exec(text);
    if (errno) current.errno = errno[1]!;
    else current.expected.push(text);
  });
  return { kind: 'console', line: fence.line, commands };
}

function parseObjects(fence: Fence, kind: 'given' | 'objects'): DocBlock {
  const parsed = JSON.parse(fence.body.join('\n')) as Record<string, string | ObjectSpec>;
  const objects: Record<string, ObjectSpec> = {};
  for (const [key, value] of Object.entries(parsed)) objects[key] = typeof value === 'string' ? { body: value } : value;
  return { kind, line: fence.line, objects };
}

function blockOf(fence: Fence): DocBlock | undefined {
  const [lang, role] = fence.words;
  if (lang === 'console') return parseConsole(fence);
  if (lang === 'json' && role === 'given-objects') return parseObjects(fence, 'given');
  if (lang === 'json' && role === 'objects') return parseObjects(fence, 'objects');
  return undefined;
}

export function parseExamples(markdown: string): DocExample[] {
  const examples: DocExample[] = [];
  for (const fence of fences(markdown)) {
    const block = blockOf(fence);
    if (!block) continue;
    const continues = block.kind === 'objects' || fence.words.includes('continued');
    const mountArgs = fence.words.filter((w) => w.startsWith('--'));
    if (!continues) examples.push({ line: fence.line, section: fence.section, mountArgs: [], blocks: [] });
    const example = examples.at(-1);
    if (!example) throw new Error(`line ${fence.line}: a continued block with no example before it`);
    example.mountArgs.push(...mountArgs);
    example.blocks.push(block);
  }
  return examples;
}

/** glibc's messages for the errors the document names (tools print these; getfattr has its own for ENODATA). */
export const ERRNO_MESSAGES: Readonly<Record<string, readonly string[]>> = {
  EPERM: ['Operation not permitted'],
  ENOENT: ['No such file or directory'],
  EIO: ['Input/output error'],
  E2BIG: ['Argument list too long'],
  EACCES: ['Permission denied'],
  EEXIST: ['File exists'],
  ENOTDIR: ['Not a directory'],
  EISDIR: ['Is a directory'],
  EINVAL: ['Invalid argument'],
  EFBIG: ['File too large'],
  EROFS: ['Read-only file system'],
  ENAMETOOLONG: ['File name too long'],
  ENOTEMPTY: ['Directory not empty'],
  ENODATA: ['No data available', 'No such attribute'],
  ENOTSUP: ['Operation not supported'],
  EOPNOTSUPP: ['Operation not supported'],
  ESTALE: ['Stale file handle'],
};

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function lineMatches(pattern: string, actual: string): boolean {
  if (!pattern.includes('...')) return pattern === actual;
  return new RegExp(`^${pattern.split('...').map(escapeRegex).join('.*')}$`, 's').test(actual);
}

/** Expected lines (`...` alone: any lines; `...` inside a line: any text) against actual lines. */
export function outputMatches(expected: readonly string[], actual: readonly string[]): boolean {
  const match = (e: number, a: number): boolean => {
    if (e === expected.length) return a === actual.length;
    if (expected[e] === '...') {
      for (let k = a; k <= actual.length; k++) if (match(e + 1, k)) return true;
      return false;
    }
    return a < actual.length && lineMatches(expected[e]!, actual[a]!) && match(e + 1, a + 1);
  };
  return match(0, 0);
}

/** Lines of a command's output, trailing empty lines dropped. */
export function outputLines(text: string): string[] {
  const lines = text.split('\n');
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  return lines;
}

const MARK = '<<<bucketfs-doc-command';

/**
 * One bash script running every command of a console block in order, in one
 * shell (variables and `cd` carry over), each with stderr merged into stdout
 * and followed by a marker line carrying its index and exit status.
 */
export function consoleScript(commands: readonly ConsoleCommand[]): string {
  const parts = ['set -o pipefail', 'umask 022'];
  commands.forEach((c, i) => parts.push(`{ ${c.command}\n} </dev/null 2>&1; printf '\\n${MARK} ${i} %d>>>\\n' $?`));
  return `${parts.join('\n')}\n`;
}

export interface CommandResult {
  output: string;
  status: number;
}

/** Splits a console script's stdout into each command's output and exit status. */
export function splitConsoleOutput(stdout: string, count: number): (CommandResult | undefined)[] {
  const results: (CommandResult | undefined)[] = Array.from({ length: count }, () => undefined);
  const marker = new RegExp(`\\n?${escapeRegex(MARK)} (\\d+) (\\d+)>>>\\n`, 'g');
  let from = 0;
  for (const m of stdout.matchAll(marker)) {
    results[Number(m[1])] = { output: stdout.slice(from, m.index), status: Number(m[2]) };
    from = m.index + m[0].length;
  }
  return results;
}

export interface CommandProblem {
  summary: string;
  expected: string;
  actual: string;
}

/** What is wrong with one command's result, or undefined when it is as documented. */
export function commandProblem(command: ConsoleCommand, result: CommandResult | undefined): CommandProblem | undefined {
  const expected = command.expected.join('\n');
  if (!result) return { summary: 'did not run to its end (the script stopped before it)', expected, actual: '' };
  const actual = outputLines(result.output);
  const problems: string[] = [];
  if (command.errno === undefined && result.status !== 0) problems.push(`exit status ${result.status}, expected 0`);
  if (command.errno !== undefined) {
    if (result.status === 0) problems.push(`succeeded, expected ${command.errno}`);
    const messages = ERRNO_MESSAGES[command.errno] ?? [command.errno];
    if (!messages.some((m) => result.output.includes(m))) problems.push(`output does not name ${command.errno} (${messages.join(' / ')})`);
  }
  if (!outputMatches(command.expected, actual)) problems.push('output differs');
  return problems.length === 0 ? undefined : { summary: problems.join('; '), expected, actual: actual.join('\n') };
}
