/**
 * What every part of the namespace shares: the container, the metadata
 * store, the path ↔ key map, the options, the clock and the log. Owns no
 * state of its own besides the set of keys already warned about.
 */
import type { Container } from '../../drivers/storage.js';
import type { LogFn } from '../../cache/metadata/store.js';
import type { MetadataStore } from '../../cache/metadata/store.js';
import type { Entry } from '../../cache/metadata/types.js';
import type { AttrDefaultsOptions } from './attrs.js';
import { msToNs } from './attrs.js';
import { KeyMap } from './keys.js';

export interface NamespaceOptions extends AttrDefaultsOptions {
  /** How long cached attributes are trusted before a lookup asks the bucket again. */
  attrTtlMs: number;
  /** How long a directory listing is trusted. */
  dirTtlMs: number;
  /** How long a cached "does not exist" is trusted. */
  negativeTtlMs: number;
  /** readdir also HEADs children whose attributes came only from the listing. */
  exactAttrs: boolean;
  readOnly: boolean;
}

export class NamespaceContext {
  readonly keys: KeyMap;
  private readonly warned = new Set<string>();

  constructor(
    readonly container: Container,
    prefix: string,
    readonly store: MetadataStore,
    readonly options: NamespaceOptions,
    readonly log: LogFn,
    readonly now: () => number,
  ) {
    this.keys = new KeyMap(prefix);
  }

  nowNs(): bigint {
    return msToNs(this.now());
  }

  /** The default owner of what this mount creates. */
  get owner(): { uid: number; gid: number } {
    return { uid: this.options.uid, gid: this.options.gid };
  }

  /** Logs a warning about `key` once per mount (a bad key is listed again and again). */
  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log('warn', message, { key });
  }

  /** Attributes still within --attr-ttl (files created here and not uploaded yet are always current). */
  isFresh(entry: Entry): boolean {
    return entry.localOnly || this.now() - entry.validatedAt < this.options.attrTtlMs;
  }

  /** A complete listing of the directory is within --dir-ttl. */
  isListed(entry: Entry | undefined): boolean {
    return entry?.listedAt !== undefined && this.now() - entry.listedAt < this.options.dirTtlMs;
  }

  isNegativeFresh(at: number | undefined): boolean {
    return at !== undefined && this.now() - at < this.options.negativeTtlMs;
  }
}
