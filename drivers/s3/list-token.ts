/**
 * The s3 backend's own listing tokens, apart from the SDK so that generic
 * listing code can make one without loading it: `bucketfs-after:` plus the
 * key in base64url resumes a listing after that key (S3's StartAfter).
 */

/** Server tokens are base64 or key-like and never start with this. */
export const AFTER_TOKEN = 'bucketfs-after:';

/**
 * A token that resumes a listing after `key`: for pages cut short here, and
 * for a listing split into ranges fetched side by side (any key may start a
 * range, not only the last one of a page).
 */
export function startAfterToken(key: string): string {
  return AFTER_TOKEN + Buffer.from(key, 'utf8').toString('base64url');
}
