/**
 * The FUSE mounts of this process's mount namespace, read from
 * /proc/self/mountinfo: what is mounted where, to tell a live mount from a
 * vanished or stale one.
 */
import { readFile } from 'node:fs/promises';

/** The mountinfo escapes (\040 for a space, …) undone. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export interface FuseMountInfo {
  mountId: number;
  mountpoint: string;
  /** 'fuse', 'fuse.bucketfs', 'fuseblk'… */
  fsType: string;
  source: string;
}

/** The FUSE mounts of this process's mount namespace, from /proc/self/mountinfo. */
export async function fuseMounts(): Promise<FuseMountInfo[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts: FuseMountInfo[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    const fsType = fields[dash + 1] ?? '';
    if (dash < 0 || !/^fuse(\.|blk$|$)/.test(fsType)) continue;
    mounts.push({ mountId: Number(fields[0]), mountpoint: unescapeMountPath(fields[4] ?? ''), fsType, source: unescapeMountPath(fields[dash + 2] ?? '') });
  }
  return mounts;
}

/** The FUSE mount on exactly `mountpoint` (an absolute, resolved path), if any; the last one wins when stacked. */
export async function fuseMountAt(mountpoint: string): Promise<FuseMountInfo | undefined> {
  return (await fuseMounts()).filter((m) => m.mountpoint === mountpoint).at(-1);
}
