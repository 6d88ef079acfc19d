/**
 * How a listing's view of a child merges with what the store already knows.
 * A listing carries only size, etag and Last-Modified, so exact attributes
 * (from a HEAD or from this mount's own writes) are worth keeping whenever
 * the listing shows the very same object version. Pure: no I/O.
 */
import { fieldsOf } from './rows.js';
import type { EntryFields } from './types.js';

/**
 * The same object version: equal etags and equal Last-Modified. A stored
 * Last-Modified is unknown right after this mount's own write (PUT and COPY
 * answers carry no date); the first listing with the same etag adopts its date.
 * Both matter: a metadata-only change (a self-copy by another mount) keeps
 * the etag and moves Last-Modified.
 */
export function sameVersion(stored: EntryFields, listed: EntryFields): boolean {
  if (stored.etag === undefined || stored.etag !== listed.etag) return false;
  if (stored.lastModifiedMs === undefined || listed.lastModifiedMs === undefined) return true;
  // Compared to the second: HEAD answers Last-Modified as an HTTP date (whole
  // seconds) while a listing gives milliseconds (RGW: 21:59:40.000 vs 21:59:40.957).
  return Math.floor(stored.lastModifiedMs / 1000) === Math.floor(listed.lastModifiedMs / 1000);
}

/** The fields to store for a child a listing shows, given what was stored before (if anything). */
export function mergeListed(stored: EntryFields | undefined, listed: EntryFields): EntryFields {
  if (stored === undefined) return listed;
  // A file created here and not uploaded yet: this mount is the only one that knows it.
  if (stored.localOnly) return stored;
  if (stored.kind === 'dir' && listed.kind === 'dir') {
    // A listing says only that the directory exists. Exact attributes come from its marker;
    // default ones follow the current options, with the time first seen kept (stable mtimes).
    if (stored.source === 'implicit') {
      return withFields(listed, { mtimeNs: stored.mtimeNs, atimeNs: stored.atimeNs, ctimeNs: stored.ctimeNs, marker: stored.marker });
    }
    return withFields(stored, { validatedAt: listed.validatedAt });
  }
  // Default attributes are never worth keeping: the listing's follow the current options.
  if (stored.kind !== 'dir' && listed.kind !== 'dir' && stored.source !== 'list' && sameVersion(stored, listed)) {
    return withFields(stored, { size: listed.size, lastModifiedMs: listed.lastModifiedMs, validatedAt: listed.validatedAt });
  }
  return listed;
}

/** `fields` with `changes` applied, as a new object (a relisting merges thousands: no object spread, see rows.ts). */
function withFields(fields: EntryFields, changes: Partial<EntryFields>): EntryFields {
  return Object.assign(fieldsOf(fields), changes);
}
