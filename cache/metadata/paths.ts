/**
 * Mount-path arithmetic shared by the metadata store and the VFS. Paths are
 * absolute, '/'-separated, without a trailing '/' (except the root '/').
 * Pure functions only.
 */

export const ROOT = '/';

export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? ROOT : path.slice(0, slash);
}

export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir === ROOT ? `/${name}` : `${dir}/${name}`;
}

/**
 * The half-open range of paths strictly below `dir` in byte order:
 * [dir + '/', dir + '0'), since '0' is the byte right after '/'.
 */
export function subtreeRange(dir: string): { low: string; high: string } {
  return dir === ROOT ? { low: '/', high: '0' } : { low: `${dir}/`, high: `${dir}0` };
}

/** True when `path` is `dir` or lies below it. */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || dir === ROOT || path.startsWith(`${dir}/`);
}

/** `path` moved from below `from` to below `to`. */
export function rebase(path: string, from: string, to: string): string {
  if (path === from) return to;
  const rest = from === ROOT ? path : path.slice(from.length);
  return to === ROOT ? rest : `${to}${rest}`;
}

/**
 * Byte order of the UTF-8 encodings (the order S3 lists keys in, and
 * SQLite's BINARY collation), without encoding: that is code point order,
 * which differs from JS's UTF-16 order only where a surrogate pair meets a
 * character from U+E000 up.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    return xs === ys ? x - y : xs ? 1 : -1;
  }
  return a.length - b.length;
}
