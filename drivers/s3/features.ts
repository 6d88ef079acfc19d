/**
 * The optional features of the s3 backend: object tags, versioning, signed
 * URLs, canned ACLs and restore of archived objects. Whether a given server
 * honours them is its business; failures are translated like any other.
 */
import {
  DeleteObjectTaggingCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  RestoreObjectCommand,
  type Grant,
  type ObjectCannedACL,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { RestoreOptions, SignedUrlOptions, VersionInfo } from '../contract.js';
import { OtherError } from '../errors.js';
import { decodeListingKey } from '../wire/s3-format.js';
import { compareVersions, listedVersion } from '../wire/s3-listing.js';
import { s3Call, s3Url } from './errors.js';

export async function getTags(client: S3Client, bucket: string, key: string): Promise<Record<string, string>> {
  const out = await s3Call({ op: 'GetObjectTagging', bucket, key }, () =>
    client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key })),
  );
  const tags: Record<string, string> = {};
  for (const tag of out.TagSet ?? []) if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
  return tags;
}

export async function putTags(client: S3Client, bucket: string, key: string, tags: Record<string, string>): Promise<void> {
  const TagSet = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  await s3Call({ op: 'PutObjectTagging', bucket, key }, () =>
    client.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet } })),
  );
}

export async function deleteTags(client: S3Client, bucket: string, key: string): Promise<void> {
  await s3Call({ op: 'DeleteObjectTagging', bucket, key }, () =>
    client.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: key })),
  );
}

export async function enableVersioning(client: S3Client, bucket: string): Promise<void> {
  await s3Call({ op: 'PutBucketVersioning', bucket, notFound: 'NoSuchBucket' }, () =>
    client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } })),
  );
}

export async function listVersions(client: S3Client, bucket: string, options: { prefix?: string } = {}): Promise<VersionInfo[]> {
  const versions: VersionInfo[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const out = await s3Call({ op: 'ListObjectVersions', bucket, notFound: 'NoSuchBucket' }, () =>
      client.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          Prefix: options.prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
          EncodingType: 'url',
        }),
      ),
    );
    const encoded = out.EncodingType === 'url';
    // The SDK splits versions and delete markers into two lists; compareVersions restores S3's order.
    for (const v of out.Versions ?? []) versions.push(listedVersion(v, { encoded }, false));
    for (const m of out.DeleteMarkers ?? []) versions.push(listedVersion(m, { encoded }, true));
    if (!out.IsTruncated || out.NextKeyMarker === undefined) return versions.sort(compareVersions);
    keyMarker = decodeListingKey(out.NextKeyMarker, encoded);
    versionIdMarker = out.NextVersionIdMarker;
  }
}

export async function signedUrl(client: S3Client, bucket: string, key: string, options: SignedUrlOptions): Promise<string> {
  const command =
    options.method === 'GET'
      ? new GetObjectCommand({ Bucket: bucket, Key: key })
      : new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: options.contentType });
  return s3Call({ op: `presign ${options.method}`, bucket, key }, () =>
    getSignedUrl(client, command, { expiresIn: options.expiresIn }),
  );
}

export async function putAcl(client: S3Client, bucket: string, key: string, acl: string): Promise<void> {
  await s3Call({ op: 'PutObjectAcl', bucket, key }, () =>
    client.send(new PutObjectAclCommand({ Bucket: bucket, Key: key, ACL: acl as ObjectCannedACL })),
  );
}

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

/** One `grantee:permission` word per grant other than the owner's own FULL_CONTROL. */
function grantWords(grants: Grant[], ownerId: string | undefined): string[] {
  const words: string[] = [];
  for (const g of grants) {
    const grantee = g.Grantee;
    if (grantee?.Type === 'CanonicalUser' && grantee.ID === ownerId && g.Permission === 'FULL_CONTROL') continue;
    const who = grantee?.URI === ALL_USERS ? 'all' : grantee?.URI === AUTHENTICATED_USERS ? 'authenticated' : 'user';
    words.push(`${who}:${g.Permission ?? '?'}`);
  }
  return words.sort();
}

/**
 * The canned ACL whose grants these are. The bucket-owner-* ACLs of an
 * object owned by the bucket's owner add nothing, so they read as 'private'.
 */
const CANNED_BY_GRANTS: Record<string, string> = {
  '': 'private',
  'all:READ': 'public-read',
  'all:READ all:WRITE': 'public-read-write',
  'authenticated:READ': 'authenticated-read',
  'user:READ': 'bucket-owner-read',
  'user:FULL_CONTROL': 'bucket-owner-full-control',
};

export async function getAcl(client: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3Call({ op: 'GetObjectAcl', bucket, key }, () =>
    client.send(new GetObjectAclCommand({ Bucket: bucket, Key: key })),
  );
  const words = grantWords(out.Grants ?? [], out.Owner?.ID).join(' ');
  const canned = CANNED_BY_GRANTS[words];
  if (canned === undefined) {
    throw new OtherError(`${s3Url(bucket, key)}: the object's grants (${words}) match no canned ACL`, {
      reason: 'NotCannedAcl',
    });
  }
  return canned;
}

export async function restoreObject(client: S3Client, bucket: string, key: string, options: RestoreOptions): Promise<void> {
  const RestoreRequest = {
    Days: options.days,
    ...(options.tier === undefined ? {} : { GlacierJobParameters: { Tier: options.tier } }),
  };
  await s3Call({ op: 'RestoreObject', bucket, key }, () =>
    client.send(new RestoreObjectCommand({ Bucket: bucket, Key: key, RestoreRequest })),
  );
}
