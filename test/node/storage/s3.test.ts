/** The Node S3 helper (s3Storage) against a real S3 (Ceph RGW). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { s3Storage } from '../../../src/node/storage/s3.js';
import { MiB, type TestS3, pattern, rejectsCode, startTestS3 } from '../../sdk/storage/helpers.js';

describe('s3Storage (Node, @aws-sdk/client-s3) on a real S3 (Ceph RGW)', () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startTestS3();
  });
  after(async () => {
    await s3?.stop();
  });

  test('presigned part URLs carry no checksum of an empty body (what real AWS S3 would refuse), and sign only the host', async () => {
    const key = 'plain.bin';
    const uploadId = await s3.direct.createMultipart(key);
    const url = new URL(await s3.direct.presignPart(key, uploadId, 1));
    assert.deepEqual([...url.searchParams.keys()].filter((k) => /checksum/i.test(k)), []);
    assert.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'host');
    assert.equal(url.searchParams.get('X-Amz-Content-Sha256'), 'UNSIGNED-PAYLOAD');
    // Every operation of mode (b) as well.
    for (const operation of [{ op: 'create' }, { op: 'complete', uploadId }, { op: 'abort', uploadId }, { op: 'listParts', uploadId, partNumberMarker: 3 }] as const) {
      const signed = new URL(await s3.direct.presign(key, operation));
      assert.deepEqual([...signed.searchParams.keys()].filter((k) => /checksum/i.test(k)), [], operation.op);
    }
    // A plain multipart upload through those URLs, then a ranged GET through a presigned one.
    const body = pattern(5 * MiB + 10, 4);
    const put = await fetch(url, { method: 'PUT', body: body as BodyInit });
    assert.equal(put.status, 200);
    const etag = put.headers.get('etag')!;
    assert.deepEqual(await s3.direct.listParts(key, uploadId), [{ partNumber: 1, etag, size: body.length }]);
    await s3.direct.complete(key, uploadId, [{ partNumber: 1, etag, size: body.length }]);
    const ranged = await fetch(await s3.direct.presignGet(key), { headers: { Range: 'bytes=-10' } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(body.subarray(-10)));
  });

  test('a client of your own that presigns empty-body checksums is refused with a clear error', async () => {
    const client = new S3Client({ endpoint: s3.service.endpoint, region: s3.service.region, credentials: s3.service, forcePathStyle: true });
    const storage = s3Storage({ bucket: s3.bucket, client });
    try {
      const error = await rejectsCode(storage.presignPart('x', 'u', 1), 'ERR_INVALID_ARGUMENT');
      assert.match(error.message, /WHEN_REQUIRED/);
    } finally {
      client.destroy();
    }
  });

  test('abort is idempotent; S3 refusals are ERR_STORAGE with the status', async () => {
    const key = 'aborted.bin';
    const uploadId = await s3.direct.createMultipart(key);
    await s3.direct.abort(key, uploadId);
    await s3.direct.abort(key, uploadId);
    const gone = await rejectsCode(s3.direct.listParts(key, uploadId), 'ERR_STORAGE');
    assert.equal(gone.status, 404);
    const noBucket = s3Storage({ bucket: 'no-such-bucket-here', endpoint: s3.service.endpoint, region: s3.service.region, credentials: s3.service });
    try {
      const error = await rejectsCode(noBucket.createMultipart('k'), 'ERR_STORAGE');
      assert.equal(error.status, 404);
      assert.match(error.message, /NoSuchBucket/);
    } finally {
      noBucket.close();
    }
  });
});
