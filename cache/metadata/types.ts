/**
 * What the metadata cache records about a mount path. Pure types: the store
 * (store.ts) persists them; the VFS decides what they mean.
 */
import type { Metadata } from '../../drivers/contract.js';

export type EntryKind = 'file' | 'dir' | 'symlink';

/**
 * Where an entry's attributes came from:
 * - 'list': a listing only (size, Last-Modified; mode/uid/gid are defaults);
 * - 'head': the object's metadata, read by a HEAD (exact);
 * - 'local': written by this mount (exact);
 * - 'implicit': a directory with no marker object (defaults).
 */
export type AttrSource = 'list' | 'head' | 'local' | 'implicit';

export interface EntryFields {
  kind: EntryKind;
  size: number;
  /** Full st_mode, type bits included. */
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  atimeNs: bigint;
  ctimeNs: bigint;
  etag: string | undefined;
  /** The object's Last-Modified in ms; undefined after this mount's own write (not known until listed or HEADed). */
  lastModifiedMs: number | undefined;
  source: AttrSource;
  /** Directories: a marker object (`dir/`) exists. */
  marker: boolean;
  symlinkTarget: string | undefined;
  /** The object's full user metadata, when known (exact sources only). */
  metadata: Metadata | undefined;
  contentType: string | undefined;
  /** Created by this mount and not uploaded yet: a listing must not drop it. */
  localOnly: boolean;
  /** When the attributes were last confirmed by the bucket (ms). */
  validatedAt: number;
}

export interface Entry extends EntryFields {
  path: string;
  /** Stable per path: kept across remounts and renames. */
  ino: number;
  /** Directories: when the last complete listing was applied (ms). */
  listedAt: number | undefined;
}

/** A child as a listing page shows it, ready to be merged into the store. */
export interface ListedChild {
  name: string;
  fields: EntryFields;
}

export type JournalState = 'collecting' | 'ready';

/** A directory rename in progress: every key under `fromKey` moves under `toKey`. */
export interface RenameJournal {
  id: number;
  state: JournalState;
  fromPath: string;
  toPath: string;
  /** Key prefixes, each ending in '/' (or '' for the root). */
  fromKey: string;
  toKey: string;
  startedAt: number;
}

/** Item states: 0 to copy, 1 copied (to delete); a done item is removed from the journal. */
export const ITEM_PENDING = 0;
export const ITEM_COPIED = 1;
export type ItemState = typeof ITEM_PENDING | typeof ITEM_COPIED;

export interface JournalItem {
  key: string;
  size: number;
}
