/**
 * The s3 backend reads ListObjectsV2 replies itself (drivers/s3/list-xml.ts):
 * it must read every reply exactly as the full XML parser does
 * (drivers/wire/s3-xml.ts), entities, URL-encoding and odd markup included.
 */
import t from 'tap';
import { readListObjectsV2 } from '../../drivers/s3/list-xml.js';
import { parseListObjectsV2 } from '../../drivers/wire/s3-xml.js';

const HEAD = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
const entry = (key: string, etag = '&quot;0cc175b9c0f1b6a831c399e269772661&quot;') =>
  `<Contents><Key>${key}</Key><LastModified>2026-11-22T02:51:05.123Z</LastModified><ETag>${etag}</ETag><Size>4096</Size>` +
  '<StorageClass>STANDARD</StorageClass><Owner><ID>o</ID><DisplayName>O</DisplayName></Owner><Type>Normal</Type></Contents>';

const replies: Record<string, string> = {
  'URL-encoded keys and prefixes, truncated': `${HEAD}<Name>b</Name><Prefix>d%2F</Prefix><KeyCount>4</KeyCount><MaxKeys>4</MaxKeys><Delimiter>%2F</Delimiter>` +
    `<IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>${entry('d%2Fa+b')}${entry('d%2F%25%2B%23%3F%5C%0A')}${entry('d%2F%C3%A9t%C3%A9')}` +
    '<CommonPrefixes><Prefix>d%2Fsub%2F</Prefix></CommonPrefixes><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>',
  'keys as text, entities': `${HEAD}<IsTruncated>false</IsTruncated>${entry('a&amp;b&lt;c&gt;&apos;&quot;')}${entry('x&#x41;&#66;', '&amp;quot;odd&quot;')}` +
    '<CommonPrefixes><Prefix>p&amp;q/</Prefix></CommonPrefixes></ListBucketResult>',
  'empty listing': `${HEAD}<Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`,
  'truncated without a token': `${HEAD}<IsTruncated>true</IsTruncated>${entry('k')}</ListBucketResult>`,
  'CDATA (full parser)': `${HEAD}<IsTruncated>false</IsTruncated><Contents><Key><![CDATA[c<d]]></Key><Size>1</Size></Contents></ListBucketResult>`,
  'no ETag or size': `${HEAD}<IsTruncated>false</IsTruncated><Contents><Key>bare</Key></Contents></ListBucketResult>`,
};

for (const [name, xml] of Object.entries(replies)) {
  t.test(name, async (t) => {
    t.same(readListObjectsV2(xml), parseListObjectsV2(xml), 'the same page as the full parser');
  });
}

t.test('what the entries hold', async (t) => {
  const page = readListObjectsV2(replies['URL-encoded keys and prefixes, truncated']!);
  t.same(page.objects.map((o) => o.key), ['d/a b', 'd/%+#?\\\n', 'd/\u00e9t\u00e9']);
  t.same(page.prefixes, ['d/sub/']);
  t.equal(page.objects[0]!.etag, '0cc175b9c0f1b6a831c399e269772661');
  t.equal(page.objects[0]!.size, 4096);
  t.equal(page.objects[0]!.lastModified.toISOString(), '2026-11-22T02:51:05.123Z');
  t.equal(page.nextToken, '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=');
  const text = readListObjectsV2(replies['keys as text, entities']!);
  t.same(text.objects.map((o) => o.key), ['a&b<c>\'"', 'xAB']);
  t.equal(text.objects[1]!.etag, '&quot;odd"', 'an escaped entity stays text');
});
