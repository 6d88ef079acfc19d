/**
 * Comparing the mount (and the bucket) with the reference model after a
 * step: the touched paths (stat type and size, whole content, the listing of
 * their directory), the touched descriptor (whole content read through it),
 * and the bucket's objects the model makes a claim about. A difference
 * throws a `Mismatch` that says what was expected and what came back.
 */
import { createHash } from 'node:crypto';
import { dirOf, type Claim, type ModelHandle, type ReferenceModel } from './reference.js';
import type { Outcome, RealRun } from './world.js';

export class Mismatch extends Error {
  override name = 'Mismatch';
}

/** A short description of bytes: length, digest, first bytes. */
export function describe(data: Buffer | undefined): string {
  if (data === undefined) return 'no object';
  const digest = createHash('sha256').update(data).digest('hex').slice(0, 12);
  return `${data.length} bytes sha256:${digest} [${data.subarray(0, 8).toString('hex')}…]`;
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

export function sameBytes(what: string, expected: Buffer, actual: Buffer | undefined): void {
  if (actual !== undefined && expected.equals(actual)) return;
  const at = actual === undefined ? '' : ` (first difference at byte ${firstDifference(expected, actual)})`;
  throw new Mismatch(`${what}: expected ${describe(expected)}, got ${describe(actual)}${at}`);
}

/** The outcome must be success (`expected` undefined) or exactly that errno. */
export function sameOutcome<T>(what: string, expected: string | undefined, outcome: Outcome<T>): void {
  const got = outcome.ok ? 'success' : outcome.code;
  if (got !== (expected ?? 'success')) throw new Mismatch(`${what}: expected ${expected ?? 'success'}, got ${got}`);
}

async function verifyListing(m: ReferenceModel, r: RealRun, dir: string): Promise<void> {
  const listed = await r.attempt(`readdir ${dir || '.'}`, () => r.readdir(dir));
  const exists = dir === '' || m.dirs.has(dir);
  sameOutcome(`readdir ${dir || '.'}`, exists ? undefined : 'ENOENT', listed);
  if (!listed.ok) return;
  const got = [...listed.value].sort().join(' ');
  const want = m.children(dir).join(' ');
  if (got !== want) throw new Mismatch(`readdir ${dir || '.'}: expected [${want}], got [${got}]`);
}

/** stat, content and the parent's listing of `path` as the model has them. */
export async function verifyPath(m: ReferenceModel, r: RealRun, path: string): Promise<void> {
  const inode = m.files.get(path);
  const st = await r.attempt(`stat ${path}`, () => r.stat(path));
  sameOutcome(`stat ${path}`, inode === undefined ? 'ENOENT' : undefined, st);
  if (inode !== undefined && st.ok) {
    if (!st.value.isFile()) throw new Mismatch(`stat ${path}: expected a regular file, got mode ${st.value.mode.toString(8)}`);
    if (st.value.size !== inode.data.length) throw new Mismatch(`stat ${path}: expected size ${inode.data.length}, got ${st.value.size}`);
    // Through a descriptor already open when there is one: a fresh open would flush the file and hide dirty-state bugs.
    const reader = m.handlesOf(inode).find((h) => h.readable);
    const content = reader === undefined
      ? await r.call(`read ${path}`, () => r.readFile(path))
      : await r.call(`read ${path} through h${reader.id}`, () => r.readThrough(r.handle(reader.id), inode.data.length));
    sameBytes(`content of ${path}`, inode.data, content);
  }
  await verifyListing(m, r, dirOf(path));
}

/** The whole content of a descriptor's file, read through it (works for unlinked files too). */
export async function verifyHandle(m: ReferenceModel, r: RealRun, h: ModelHandle): Promise<void> {
  if (h.inode.path !== undefined) await verifyPath(m, r, h.inode.path);
  if (!h.readable) return;
  const content = await r.call(`read through h${h.id}`, () => r.readThrough(r.handle(h.id), h.inode.data.length));
  sameBytes(`content read through h${h.id} (${h.inode.path ?? `unlinked ${h.inode.lastPath}`})`, h.inode.data, content);
}

export async function verifyRoot(m: ReferenceModel, r: RealRun): Promise<void> {
  await verifyListing(m, r, '');
  for (const dir of m.dirs) await verifyListing(m, r, dir);
}

export async function verifyClaims(r: RealRun, claims: Claim[], after: string): Promise<void> {
  for (const claim of claims) {
    const object = await r.objectAt(claim.key);
    if ('absent' in claim) {
      if (object !== undefined) throw new Mismatch(`bucket after ${after}: expected no object ${claim.key}, got ${describe(object)}`);
    } else sameBytes(`bucket object ${claim.key} after ${after}`, claim.data, object);
  }
}

/** With every descriptor closed, the bucket holds exactly the model's files. */
export async function verifyBucket(m: ReferenceModel, r: RealRun): Promise<void> {
  const objects = await r.objects();
  const want = [...m.files.keys()].sort().join(' ');
  const got = [...objects.keys()].sort().join(' ');
  if (got !== want) throw new Mismatch(`bucket at the end: expected files [${want}], got [${got}]`);
  for (const [path, inode] of m.files) sameBytes(`bucket object ${path} at the end`, inode.data, objects.get(path));
}
