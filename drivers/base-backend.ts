/**
 * What every backend shares: the Unsupported answers for optional features a
 * backend lacks (each backend overrides those it has and sets the matching
 * capability), and the capability/limit defaults of an S3-like store.
 */
import type {
  AppendResult,
  Backend,
  BackendKind,
  BandwidthLimits,
  Capabilities,
  ChangeEvent,
  Limits,
  PutOptions,
  RestoreOptions,
  SignedUrlOptions,
  VersionInfo,
  Watcher,
} from './contract.js';
import { unsupported, OtherError } from './errors.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** S3's published limits; other backends start from these and adjust. */
export const S3_LIMITS: Limits = {
  maxKeyBytes: 1024,
  maxPutSize: 5 * GiB,
  maxCopySize: 5 * GiB,
  minPartSize: 5 * MiB,
  maxPartSize: 5 * GiB,
  maxParts: 10_000,
  maxDeleteBatch: 1000,
};

export const NO_OPTIONAL_FEATURES: Capabilities = {
  conditionalWrite: { ifMatch: false, ifNoneMatch: false },
  serverSideCopy: true,
  multipart: true,
  uploadPartCopy: true,
  tagging: false,
  versions: false,
  signedUrls: false,
  append: false,
  acls: [],
  restore: false,
  bandwidthLimits: false,
  notifications: false,
};

/** The canned ACLs S3 defines (RGW and AWS accept these). */
export const S3_CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const;

export abstract class BaseBackend implements Partial<Backend> {
  abstract readonly kind: BackendKind;
  abstract readonly label: string;
  abstract readonly capabilities: Capabilities;
  readonly limits: Limits = S3_LIMITS;

  /** Refuses a canned ACL this backend does not know, naming the backend. */
  protected checkAcl(acl: string): void {
    if (this.capabilities.acls.length === 0) throw unsupported(this.kind, 'canned ACLs');
    if (!this.capabilities.acls.includes(acl)) {
      throw new OtherError(
        `canned ACL '${acl}' is not supported by ${this.kind} (supported: ${this.capabilities.acls.join(', ')})`,
        { reason: 'InvalidAcl' },
      );
    }
  }

  async getTags(_bucket: string, _key: string): Promise<Record<string, string>> {
    throw unsupported(this.kind, 'object tagging');
  }
  async putTags(_bucket: string, _key: string, _tags: Record<string, string>): Promise<void> {
    throw unsupported(this.kind, 'object tagging');
  }
  async deleteTags(_bucket: string, _key: string): Promise<void> {
    throw unsupported(this.kind, 'object tagging');
  }
  async enableVersioning(_bucket: string): Promise<void> {
    throw unsupported(this.kind, 'versioning');
  }
  async listVersions(_bucket: string, _options?: { prefix?: string }): Promise<VersionInfo[]> {
    throw unsupported(this.kind, 'versioning');
  }
  async signedUrl(_bucket: string, _key: string, _options: SignedUrlOptions): Promise<string> {
    throw unsupported(this.kind, 'signed URLs');
  }
  async append(_bucket: string, _key: string, _position: number, _body: Buffer, _options?: PutOptions): Promise<AppendResult> {
    throw unsupported(this.kind, 'append');
  }
  async getAcl(_bucket: string, _key: string): Promise<string> {
    throw unsupported(this.kind, 'canned ACLs');
  }
  async putAcl(_bucket: string, _key: string, _acl: string): Promise<void> {
    throw unsupported(this.kind, 'canned ACLs');
  }
  async restore(_bucket: string, _key: string, _options: RestoreOptions): Promise<void> {
    throw unsupported(this.kind, 'restore of archived objects');
  }
  setBandwidthLimits(_limits: BandwidthLimits): void {
    throw unsupported(this.kind, 'bandwidth limits', 'wrap the backend with ThrottledBackend (openRemote does)');
  }
  async watch(_bucket: string, _options: { prefix?: string }, _onEvent: (event: ChangeEvent) => void): Promise<Watcher> {
    throw unsupported(this.kind, 'change notifications');
  }
}
