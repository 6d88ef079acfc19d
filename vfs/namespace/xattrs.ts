/**
 * Extended attributes. `user.*` names are stored in the object's metadata,
 * one entry each (object-format.ts), and changed like any attribute
 * (setattr.ts). `user.bucketfs.*` are read-only views of the object
 * (etag, storage class, version id, tags): readable, never listed (so
 * `cp -a` does not copy them), refused with EPERM on write. Other
 * namespaces (security.*, trusted.*, system.*) are not supported.
 */
import type { Metadata } from '../../drivers/contract.js';
import { ROOT } from '../../cache/metadata/paths.js';
import type { Entry } from '../../cache/metadata/types.js';
import { encodeXattrValue, xattrMetadataName, xattrsFromMetadata } from '../object-format.js';
import { XATTR_CREATE, XATTR_REPLACE, vfsError } from '../types.js';
import type { NamespaceContext } from './context.js';
import { headOrAbsent } from './remote.js';
import type { Setattr } from './setattr.js';

/** The one namespace served (FileSystem.xattrNamespace): other names get ENOTSUP. */
export const XATTR_NAMESPACE = 'user.';
const USER = XATTR_NAMESPACE;
const VIRTUAL = 'user.bucketfs.';
/** S3's limit on user metadata: the UTF-8 bytes of every name and value together. */
export const MAX_METADATA_BYTES = 2048;

export function metadataBytes(metadata: Metadata): number {
  let total = 0;
  for (const [name, value] of Object.entries(metadata)) total += Buffer.byteLength(name) + Buffer.byteLength(value);
  return total;
}

function checkNamespace(name: string): void {
  if (!name.startsWith(USER)) throw vfsError('ENOTSUP', `only user.* extended attributes are supported: ${name}`);
}

const noData = (path: string, name: string) => vfsError('ENODATA', `no extended attribute ${name} on ${path}`);

export class Xattrs {
  constructor(private readonly ctx: NamespaceContext, private readonly setattr: Setattr) {}

  async list(path: string): Promise<string[]> {
    if (path === ROOT) return [];
    const { metadata } = await this.setattr.current(path);
    return [...xattrsFromMetadata(metadata).keys()].filter((name) => !name.startsWith(VIRTUAL));
  }

  async get(path: string, name: string): Promise<Buffer> {
    checkNamespace(name);
    if (path === ROOT) throw noData(path, name);
    const { entry, metadata } = await this.setattr.current(path);
    if (name.startsWith(VIRTUAL)) return this.virtual(path, entry, name.slice(VIRTUAL.length));
    const value = xattrsFromMetadata(metadata).get(name);
    if (value === undefined) throw noData(path, name);
    return value;
  }

  async set(path: string, name: string, value: Buffer, flags: number): Promise<void> {
    checkNamespace(name);
    if (name.startsWith(VIRTUAL)) throw vfsError('EPERM', `${name} is read-only`);
    await this.change(path, name, (exists) => {
      if (exists && flags & XATTR_CREATE) throw vfsError('EEXIST', `extended attribute ${name} exists on ${path}`);
      if (!exists && flags & XATTR_REPLACE) throw noData(path, name);
      return encodeXattrValue(value);
    });
  }

  async remove(path: string, name: string): Promise<void> {
    checkNamespace(name);
    if (name.startsWith(VIRTUAL)) throw vfsError('EPERM', `${name} is read-only`);
    await this.change(path, name, (exists) => {
      if (!exists) throw noData(path, name);
      return undefined;
    });
  }

  /** Sets (a string) or removes (undefined) the metadata entry of `name`, as `decide` says. */
  private async change(path: string, name: string, decide: (exists: boolean) => string | undefined): Promise<void> {
    const { entry, attrs, metadata } = await this.setattr.current(path);
    const metadataName = xattrMetadataName(name);
    const value = decide(metadata[metadataName] !== undefined);
    const next: Metadata = { ...metadata };
    if (value === undefined) delete next[metadataName];
    else next[metadataName] = value;
    if (metadataBytes(next) > MAX_METADATA_BYTES) {
      throw vfsError('E2BIG', `the object metadata of ${path} would exceed ${MAX_METADATA_BYTES} bytes`);
    }
    await this.setattr.apply(path, entry, { ...attrs, ctimeNs: this.ctx.nowNs() }, next);
  }

  /** user.bucketfs.<field>: read from the object itself (tags need their own request). */
  private async virtual(path: string, entry: Entry, field: string): Promise<Buffer> {
    if (entry.localOnly || (entry.kind === 'dir' && !entry.marker)) throw noData(path, `${VIRTUAL}${field}`);
    const { container, keys } = this.ctx;
    const key = entry.kind === 'dir' ? keys.dirKey(path) : keys.fileKey(path);
    let value: string | undefined;
    if (field === 'etag') value = entry.etag;
    else if (field === 'tags') {
      value = container.driver.capabilities.tagging ? JSON.stringify(await container.driver.backend.getTags(container.name, key)) : undefined;
    } else if (field === 'storage_class' || field === 'version_id') {
      const info = await headOrAbsent(container, key);
      value = field === 'storage_class' ? info?.storageClass : info?.versionId;
    }
    if (value === undefined) throw noData(path, `${VIRTUAL}${field}`);
    return Buffer.from(value, 'utf8');
  }
}
