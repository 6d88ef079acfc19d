/**
 * What `bucketfs mount` will do, from everything the user said: the remote
 * (a URL, or `NAME:`/`NAME:sub/prefix` naming a [remotes.NAME] of the config
 * file), the mountpoint, and every option, taken from the first source that
 * sets it:
 *   command line > -o strings > BUCKETFS_* environment > the remote's section > [defaults] > built in.
 * Nothing here touches the bucket or the mountpoint; a mistake is one UsageError.
 */
import { resolve } from 'node:path';
import { UsageError } from '../exit-codes.js';
import { loadConfig, RESERVED_NAMES, type ConfigFile, type RemoteEntry } from './file.js';
import { environmentOptions, parseMountStrings } from './mount-string.js';
import { builtinSettings, OPTIONS, parseOption, type MountSettings, type OptionSpec, type RawValue, type SettingKey } from './options.js';

export interface MountRequest {
  remote: string;
  mountpoint: string | undefined;
  /** Options given as flags. */
  flags: Map<OptionSpec, RawValue>;
  /** The -o strings, in order. */
  mountStrings: readonly string[];
}

export interface MountPlan {
  /** The remote URL to open (a named remote resolved to its URL). */
  remote: string;
  /** The config remote it came from, if any. */
  remoteName: string | undefined;
  /** Absolute. */
  mountpoint: string;
  settings: MountSettings;
  /** Where each setting that is not built in came from ("--cache-size", "-o ro", "BUCKETFS_WRITE_MODE", "<file> [defaults] uid"). */
  sources: Map<SettingKey, string>;
  configPath: string | undefined;
}

const NAMED_REMOTE = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(?!\/\/)(.*)$/s;

/** `photos:` or `photos:2024/` → ['photos', '2024/']; a URL (`s3://…`) → undefined. */
export function namedRemote(text: string): [name: string, sub: string] | undefined {
  const match = NAMED_REMOTE.exec(text);
  if (match === null || RESERVED_NAMES.has(match[1]!.toLowerCase())) return undefined;
  return [match[1]!, match[2]!];
}

/** The remote's URL with `sub` added to its prefix and its credentials profile, unless the URL names one. */
function remoteUrl(entry: RemoteEntry, sub: string): string {
  if (sub === '' && entry.profile === undefined) return entry.url;
  let url: URL;
  try {
    url = new URL(entry.url);
  } catch {
    return entry.url; // parseRemote reports the malformed URL, naming it
  }
  const cleanSub = sub.replace(/^\/+/, '');
  if (cleanSub !== '' && url.protocol === 'file:') {
    const prefix = url.searchParams.get('prefix') ?? '';
    url.searchParams.set('prefix', `${prefix}${prefix === '' || prefix.endsWith('/') ? '' : '/'}${cleanSub}`);
  } else if (cleanSub !== '') {
    url.pathname = `${url.pathname.replace(/\/?$/, '/')}${cleanSub}`;
  }
  if (entry.profile !== undefined && !url.searchParams.has('profile')) url.searchParams.set('profile', entry.profile);
  return url.toString();
}

function lookupRemote(config: ConfigFile, name: string, written: string): RemoteEntry {
  const entry = config.remotes.get(name);
  if (entry !== undefined) return entry;
  const where = config.path === undefined ? 'no config file was found' : `${config.path} has ${config.remotes.size === 0 ? 'no remotes' : `only ${[...config.remotes.keys()].join(', ')}`}`;
  throw new UsageError(`no remote named '${name}' (from '${written}'): ${where}; define [remotes.${name}] with url = "s3://…", or give a URL such as s3://bucket/prefix`);
}

/** Each option from the first source that sets it. */
function mergeSettings(sources: readonly Map<OptionSpec, RawValue>[]): { settings: MountSettings; from: Map<SettingKey, string> } {
  const settings = builtinSettings() as unknown as Record<SettingKey, unknown>;
  const from = new Map<SettingKey, string>();
  for (const spec of OPTIONS) {
    const raw = sources.map((s) => s.get(spec)).find((r) => r !== undefined);
    if (raw === undefined) continue;
    settings[spec.key] = parseOption(spec, raw);
    from.set(spec.key, raw.where);
  }
  return { settings: settings as unknown as MountSettings, from };
}

export async function resolveMount(request: MountRequest, env: NodeJS.ProcessEnv): Promise<MountPlan> {
  const config = await loadConfig(env);
  const named = namedRemote(request.remote);
  const entry = named === undefined ? undefined : lookupRemote(config, named[0], request.remote);
  const mountpoint = request.mountpoint ?? entry?.mountpoint;
  if (mountpoint === undefined) {
    const hint = entry === undefined ? '' : ` (or set mountpoint = "…" in [remotes.${entry.name}] of ${config.path})`;
    throw new UsageError(`name a MOUNTPOINT: bucketfs mount ${request.remote} /mnt/dir${hint}`);
  }
  const { settings, from } = mergeSettings([
    request.flags,
    parseMountStrings(request.mountStrings),
    environmentOptions(env),
    entry?.options ?? new Map(),
    config.defaults,
  ]);
  if (settings.cacheDir !== undefined) settings.cacheDir = resolve(settings.cacheDir);
  if (settings.logFile !== undefined) settings.logFile = resolve(settings.logFile);
  if (settings.traceFile !== undefined) settings.traceFile = resolve(settings.traceFile);
  return {
    remote: entry === undefined ? request.remote : remoteUrl(entry, named?.[1] ?? ''),
    remoteName: entry?.name,
    mountpoint: resolve(mountpoint),
    settings,
    sources: from,
    configPath: config.path,
  };
}
