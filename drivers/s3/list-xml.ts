/**
 * A ListObjectsV2 reply read straight from its text. The AWS SDK's generic
 * XML and schema handling costs about 15 ms of the one JS thread per page of
 * 1,000 entries, as much as the server takes to produce it: for listings
 * fetched as ranges side by side it was the limit. S3's reply is a flat
 * document (no attributes on the elements read, no CDATA, no comments; the
 * text escaped with entities), so elements are found by their tags, and text
 * can never contain a tag. Anything else falls back to the full XML parser
 * (drivers/wire/s3-xml.ts), which reads the same fields the same way.
 */
import type { ListPage, ObjectInfo } from '../contract.js';
import { decodeListingKey } from '../wire/s3-format.js';
import { listedObject, type EntryReader, type ListedFields } from '../wire/s3-listing.js';
import { decodeEntities, parseListObjectsV2 } from '../wire/s3-xml.js';

/** Markup the scanner does not read: the full parser handles it. */
const UNUSUAL = /<!\[CDATA\[|<!--|<(?:Contents|CommonPrefixes|Key|Prefix)\s[^>]*>/;

/** The text of the first `<name>` element in xml[from, to), entities decoded; undefined when absent or empty (`<name/>`). */
function child(xml: string, name: string, from: number, to: number): string | undefined {
  const open = `<${name}>`;
  const start = xml.indexOf(open, from);
  if (start < 0 || start >= to) return undefined;
  const end = xml.indexOf(`</${name}>`, start);
  if (end < 0 || end > to) return undefined;
  const text = xml.slice(start + open.length, end);
  if (!text.includes('&')) return text;
  // Every ETag comes quoted as &quot;…&quot;: replaced here, the regex runs only for what is left (a '"' starts no entity).
  const quoted = text.replaceAll('&quot;', '"');
  return quoted.includes('&') ? decodeEntities(quoted) : quoted;
}

/** Calls `each` with the bounds of every `<name>…</name>` block. */
function blocks(xml: string, name: string, each: (from: number, to: number) => void): void {
  const open = `<${name}>`;
  const close = `</${name}>`;
  for (let at = xml.indexOf(open); at >= 0; at = xml.indexOf(open, at)) {
    const end = xml.indexOf(close, at);
    if (end < 0) throw new Error(`unexpected response: <${name}> without its end`);
    each(at + open.length, end);
    at = end + close.length;
  }
}

/** For a key with nothing URL-encoded in it: decoding would give it back as it is. */
const PLAIN: EntryReader = { encoded: false };

function object(xml: string, from: number, to: number, reader: EntryReader): ObjectInfo {
  const key = child(xml, 'Key', from, to);
  const plain = key !== undefined && !key.includes('%') && !key.includes('+');
  const fields: ListedFields = {
    Key: key,
    Size: child(xml, 'Size', from, to),
    ETag: child(xml, 'ETag', from, to),
    LastModified: child(xml, 'LastModified', from, to),
    StorageClass: child(xml, 'StorageClass', from, to),
  };
  return listedObject(fields, plain ? PLAIN : reader);
}

/** One ListObjectsV2 reply as a page (nextToken when truncated), keys decoded when the reply says they are URL-encoded. */
export function readListObjectsV2(xml: string): ListPage {
  if (UNUSUAL.test(xml) || !xml.includes('<ListBucketResult')) return parseListObjectsV2(xml);
  // Top-level elements: the entries never hold these names.
  const reader: EntryReader = { encoded: child(xml, 'EncodingType', 0, xml.length) === 'url' };
  const objects: ObjectInfo[] = [];
  const prefixes: string[] = [];
  blocks(xml, 'Contents', (from, to) => objects.push(object(xml, from, to, reader)));
  blocks(xml, 'CommonPrefixes', (from, to) => prefixes.push(decodeListingKey(child(xml, 'Prefix', from, to) ?? '', reader.encoded)));
  const page: ListPage = { objects, prefixes };
  const token = child(xml, 'NextContinuationToken', 0, xml.length);
  if (child(xml, 'IsTruncated', 0, xml.length) === 'true' && token) page.nextToken = token;
  return page;
}
