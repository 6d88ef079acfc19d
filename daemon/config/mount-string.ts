/**
 * `-o` mount-option strings, as fstab and mount(8) write them:
 *   -o ro,allow_other,uid=1000,cache_dir=/var/cache/photos,_netdev
 * Every bucketfs option is accepted under its snake_case name (cache_size=4G,
 * read_only, write_mode=async); `ro` means read_only. `rw` is ignored: mount(8)
 * adds it to every line that does not say ro, so it cannot mean "override a
 * read_only = true of the config file" (read_only=false does). The generic
 * options that are mount(8)'s or systemd's business (_netdev, nofail, noauto,
 * user, x-systemd.*, …) are accepted and ignored. Values cannot hold commas.
 */
import { UsageError } from '../exit-codes.js';
import { OPTIONS, envName, optionNamed, snakeName, type OptionSpec, type RawValue } from './options.js';

/** Handled by mount(8), systemd or the kernel's generic flags; nothing for the daemon to do. */
const GENERIC = new Set([
  'defaults', 'auto', 'noauto', 'user', 'nouser', 'users', 'owner', 'group', '_netdev', 'nofail', 'netdev',
  'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'atime', 'noatime', 'relatime', 'norelatime',
  'strictatime', 'nostrictatime', 'diratime', 'nodiratime', 'lazytime', 'nolazytime', 'async', 'silent', 'loud',
  'default_permissions', 'rw',
]);

/** Option names with a mount(8) spelling of their own. */
const SYNONYMS: Record<string, [OptionSpec['key'], boolean]> = { ro: ['readOnly', true] };

function isGeneric(name: string): boolean {
  return GENERIC.has(name) || name.startsWith('x-') || name.startsWith('comment=') || name === 'comment';
}

/** Parses one or more -o strings into raw option values (later ones win); unknown names are a UsageError. */
export function parseMountStrings(strings: readonly string[]): Map<OptionSpec, RawValue> {
  const out = new Map<OptionSpec, RawValue>();
  for (const item of strings.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const name = (eq < 0 ? item : item.slice(0, eq)).toLowerCase();
    if (isGeneric(name) || isGeneric(item)) continue;
    const synonym = SYNONYMS[name];
    if (synonym !== undefined && eq < 0) {
      out.set(OPTIONS.find((o) => o.key === synonym[0])!, { value: synonym[1], where: `-o ${name}` });
      continue;
    }
    const spec = optionNamed(name);
    if (spec === undefined) {
      const known = ['ro', 'rw', ...OPTIONS.map(snakeName)];
      throw new UsageError(`-o ${name}: unknown mount option; known: ${known.join(', ')} (and mount(8)'s generic ones such as _netdev, nofail)`);
    }
    if (eq < 0 && spec.type !== 'boolean') throw new UsageError(`-o ${name}: needs a value (${name}=…)`);
    out.set(spec, { value: eq < 0 ? true : item.slice(eq + 1), where: `-o ${name}` });
  }
  return out;
}

/** The option values set by BUCKETFS_* environment variables. */
export function environmentOptions(env: NodeJS.ProcessEnv): Map<OptionSpec, RawValue> {
  const out = new Map<OptionSpec, RawValue>();
  for (const spec of OPTIONS) {
    const name = envName(spec);
    const value = env[name];
    if (value !== undefined && value !== '') out.set(spec, { value, where: name });
  }
  return out;
}
