// Proves the test harness for real services: the S3 of test/support/ceph-rgw.ts (Ceph RGW) does
// what Sealbox's S3 code relies on (presigned PUT and multipart, ranged GET, signature checks,
// CORS for a browser origin), and the Redis of test/support/redis.ts answers SET NX PX, goes down
// when killed and comes back on restart. Uses SEALBOX_TEST_S3_* / SEALBOX_TEST_REDIS_URL when
// scripts/test.mjs set them, else starts its own.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Redis } from 'ioredis';
import { s3Service, uniqueBucketName, type S3Service } from './ceph-rgw.js';
import { redisService, startRedis } from './redis.js';

const ORIGIN = 'http://127.0.0.1:8000';

describe('S3 (Ceph RGW)', { timeout: 120_000 }, () => {
  let s3: S3Service;
  let client: S3Client;
  let presigner: S3Client;
  const bucket = uniqueBucketName('services');

  before(async () => {
    s3 = await s3Service();
    client = new S3Client(s3.clientConfig());
    // Without WHEN_REQUIRED the SDK puts the CRC32 of an empty body into presigned PUT URLs.
    presigner = new S3Client(s3.clientConfig({ requestChecksumCalculation: 'WHEN_REQUIRED' }));
    await s3.createBucket(bucket, { cors: [ORIGIN] });
  });
  after(() => {
    client?.destroy();
    presigner?.destroy();
  });

  test('presigned PUT stores the body; GET reads it back', async () => {
    const body = randomBytes(1000);
    const url = await getSignedUrl(presigner, new PutObjectCommand({ Bucket: bucket, Key: 'put.bin' }), { expiresIn: 300 });
    assert.ok(!url.includes('x-amz-checksum'), `presigned PUT URL carries a checksum: ${url}`);
    const put = await fetch(url, { method: 'PUT', body });
    assert.equal(put.status, 200, await put.text());
    assert.match(put.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'put.bin' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
  });

  test('presigned multipart upload: parts PUT with fetch, then Complete', async () => {
    const key = 'multi.bin';
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1234)]; // every part but the last ≥ 5 MiB
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    assert.ok(UploadId);
    const done: { PartNumber: number; ETag: string }[] = [];
    for (const [index, part] of parts.entries()) {
      const PartNumber = index + 1;
      const url: string = await getSignedUrl(presigner, new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber }), { expiresIn: 300 });
      const response: Response = await fetch(url, { method: 'PUT', body: part });
      assert.equal(response.status, 200, await response.text());
      const ETag = response.headers.get('etag');
      assert.ok(ETag, 'UploadPart answers an ETag');
      done.push({ PartNumber, ETag });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }));
    // RGW's CompleteMultipartUpload answers an empty <ETag>; HEAD has the real multipart one.
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-2"$/);
    assert.equal(head.ContentLength, parts[0]!.length + parts[1]!.length);
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), Buffer.concat(parts));
  });

  test('ranged GET: bytes=0-9 and bytes=-5 answer 206 with the right bytes and Content-Range', async () => {
    const body = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'range.txt', Body: body }));
    const url = await getSignedUrl(presigner, new GetObjectCommand({ Bucket: bucket, Key: 'range.txt' }), { expiresIn: 300 });
    const first = await fetch(url, { headers: { Range: 'bytes=0-9' } });
    assert.equal(first.status, 206);
    assert.equal(first.headers.get('content-range'), `bytes 0-9/${body.length}`);
    assert.equal(await first.text(), '0123456789');
    const last = await fetch(url, { headers: { Range: 'bytes=-5' } });
    assert.equal(last.status, 206);
    assert.equal(last.headers.get('content-range'), `bytes ${body.length - 5}-${body.length - 1}/${body.length}`);
    assert.equal(await last.text(), 'vwxyz');
    // The same through the SDK.
    const sdk = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.txt', Range: 'bytes=-5' }));
    assert.equal(sdk.$metadata.httpStatusCode, 206);
    assert.equal(sdk.ContentRange, `bytes 31-35/36`);
    assert.equal(await sdk.Body!.transformToString(), 'vwxyz');
  });

  test('a wrong signature is refused with 403', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret.txt', Body: 'x' }));
    const url = new URL(await getSignedUrl(presigner, new GetObjectCommand({ Bucket: bucket, Key: 'secret.txt' }), { expiresIn: 300 }));
    const signature = url.searchParams.get('X-Amz-Signature')!;
    url.searchParams.set('X-Amz-Signature', (signature[0] === '0' ? '1' : '0') + signature.slice(1));
    const tampered = await fetch(url);
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /SignatureDoesNotMatch/);
    // A presigned PUT for another key does not cover this one.
    const putUrl = new URL(await getSignedUrl(presigner, new PutObjectCommand({ Bucket: bucket, Key: 'a.txt' }), { expiresIn: 300 }));
    putUrl.pathname = putUrl.pathname.replace(/a\.txt$/, 'b.txt');
    assert.equal((await fetch(putUrl, { method: 'PUT', body: 'y' })).status, 403);
    // The SDK with a wrong secret.
    const wrong = new S3Client(s3.clientConfig({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'not-the-secret' } }));
    try {
      await assert.rejects(wrong.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret.txt' })), (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(error.$metadata?.httpStatusCode, 403);
        assert.equal(error.name, 'SignatureDoesNotMatch');
        return true;
      });
    } finally {
      wrong.destroy();
    }
  });

  test('bucket CORS: a preflight from the allowed origin passes and ETag is exposed; another origin is refused', async () => {
    const url = `${s3.endpoint}/${bucket}/put.bin`;
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(preflight.status, 200, await preflight.text());
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PUT/);
    const other = await fetch(url, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'PUT' } });
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    // The actual (signed) request from the allowed origin exposes ETag to the page.
    const signed = await getSignedUrl(presigner, new GetObjectCommand({ Bucket: bucket, Key: 'put.bin' }), { expiresIn: 300 });
    const response = await fetch(signed, { headers: { Origin: ORIGIN } });
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), ORIGIN);
    const exposed = (response.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    assert.ok(exposed.includes('etag'), `ETag not exposed: ${exposed.join(', ')}`);
    assert.ok(exposed.includes('content-range'), `Content-Range not exposed: ${exposed.join(', ')}`);
  });
});

describe('Redis', { timeout: 60_000 }, () => {
  test('SET NX PX: the first caller gets OK, the second null', async () => {
    const { url } = await redisService();
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const key = `services-test:${randomBytes(8).toString('hex')}`;
      assert.equal(await redis.set(key, 'a', 'PX', 5000, 'NX'), 'OK');
      assert.equal(await redis.set(key, 'b', 'PX', 5000, 'NX'), null);
      assert.equal(await redis.get(key), 'a');
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 5000, `PTTL ${ttl}`);
    } finally {
      redis.disconnect();
    }
  });

  test('a server of our own: kill() takes Redis down, restart() brings it back empty', async () => {
    const local = await startRedis();
    const redis = new Redis(local.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50 });
    const errors: Error[] = [];
    redis.on('error', (error: Error) => errors.push(error)); // refused reconnects while it is down
    try {
      await redis.connect();
      assert.equal(await redis.set('k', 'v', 'PX', 60_000, 'NX'), 'OK');
      await local.kill();
      await assert.rejects(redis.get('k'));
      // Restart only once the client has seen the server gone (a reconnect refused), however long
      // the machine takes to get there: a restart before that would be invisible to the client.
      const seen = Date.now() + 10_000;
      while (!errors.some((error) => /ECONNREFUSED/.test(error.message)) && Date.now() < seen) await new Promise((resolve) => setTimeout(resolve, 20));
      await local.restart();
      // ioredis reconnects by itself (retryStrategy); persistence is off, so the key is gone.
      const deadline = Date.now() + 5000;
      while (redis.status !== 'ready' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(redis.status, 'ready');
      assert.equal(await redis.get('k'), null);
      assert.ok(errors.some((error) => /ECONNREFUSED/.test(error.message)), 'the client saw the server gone');
    } finally {
      redis.disconnect();
      await local.stop();
    }
  });
});
