/**
 * The dev server's S3-style multipart routes (/api/uploads…), the ones the demo page drives with
 * `s3MultipartTarget` + `uploadEncrypted`: with the embedded store, and (with a real S3: Ceph RGW
 * from SEALBOX_TEST_S3_* or started here) with `s3: { bucket, endpoint }`. The same client code
 * runs against both, as the page's does: parts in any order and at once, a stopped upload resumed
 * with the head the server kept, ranged reads through the URL the server gives.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDevServer, type DevServer } from '../../../src/node/devserver/server.js';
import { SealboxError } from '../../../src/sdk/errors.js';
import { RawAesKeyring } from '../../../src/sdk/keyring/raw-aes.js';
import { decryptRange } from '../../../src/sdk/stream/range.js';
import { DecryptStream } from '../../../src/sdk/stream/decrypt-stream.js';
import { httpRangeSource, resumeUpload, s3MultipartTarget, uploadEncrypted, type MultipartTarget } from '../../../src/sdk/storage/index.js';
import { GetBucketCorsCommand, S3Client } from '@aws-sdk/client-s3';
import { s3Service, uniqueBucketName } from '../../support/ceph-rgw.js';

const MiB = 1024 * 1024;

/** What the page does: sign in, then a target over the server's routes. */
async function client(server: DevServer, user = 'alice') {
  const base = server.url;
  const token = ((await (await fetch(new URL('/api/token', base), { method: 'POST', body: JSON.stringify({ user }) })).json()) as { token: string }).token;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(new URL(path, base), {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new SealboxError('ERR_STORAGE', `${method} ${path}: ${response.status} ${text}`, { status: response.status });
    return text ? JSON.parse(text) : {};
  };
  const target = (id: string): MultipartTarget =>
    s3MultipartTarget({
      create: async (init) => (await call('POST', '/api/uploads', { id, name: `${id}.bin`, head: Buffer.from(init.head).toString('base64') })).uploadId,
      presignPart: async (uploadId, partNumber) => {
        const { url, headers } = await call('POST', `/api/uploads/${uploadId}/part-url`, { partNumber });
        return { url: new URL(url, base).href, headers: headers ?? {} };
      },
      complete: (uploadId, parts) => call('POST', `/api/uploads/${uploadId}/complete`, { parts }),
      abort: async (uploadId) => {
        await call('DELETE', `/api/uploads/${uploadId}`);
      },
      listParts: async (uploadId) => (await call('GET', `/api/uploads/${uploadId}/parts`)).parts,
      readHead: async (uploadId) => new Uint8Array(Buffer.from((await call('GET', `/api/uploads/${uploadId}/head`)).head, 'base64')),
    });
  const source = async (id: string) => {
    const { url, headers } = await call('GET', `/api/objects/${id}/url`);
    return httpRangeSource(new URL(url, base).href, { headers: headers ?? {} });
  };
  return { call, target, source };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  return Buffer.concat(parts);
}

function cases(name: string, start: () => Promise<DevServer>) {
  describe(name, () => {
    let server: DevServer;
    const keyring = new RawAesKeyring({ keyName: 'demo', key: randomBytes(32) });
    before(async () => {
      server = await start();
    });
    after(async () => {
      await server?.close();
    });

    test('uploadEncrypted through the routes: 3 parts, 2 at once; the object decrypts through ranged reads', async () => {
      const c = await client(server);
      const data = randomBytes(11 * MiB + 5);
      const seen: number[] = [];
      const result = await uploadEncrypted(new Blob([data]), {
        keyring,
        context: { tenant: 'a', object: 'mp1' },
        target: c.target('mp1'),
        partSize: 5 * MiB,
        concurrency: 2,
        onProgress: (p) => seen.push(p.inFlight),
      });
      assert.equal(result.parts.length, 3);
      assert.ok(Math.max(...seen) >= 1);
      const source = await c.source('mp1');
      const plain = await readAll(source.stream().pipeThrough(new DecryptStream({ keyring, expectContext: { object: 'mp1' } })));
      assert.ok(plain.equals(data));
      const preview = await decryptRange(await c.source('mp1'), { keyring, offset: 6 * MiB, length: 100 });
      assert.ok(Buffer.from(preview).equals(data.subarray(6 * MiB, 6 * MiB + 100)));
    });

    test('an upload stopped after some parts (the tab closed: no abort) resumes with the head the server kept', async () => {
      const c = await client(server);
      const data = randomBytes(16 * MiB);
      let uploadId = '';
      const inner = c.target('mp2');
      const dying: MultipartTarget = {
        ...inner,
        create: async (init) => (uploadId = await inner.create(init)),
        uploadPart: (id, n, body, signal) => (n >= 3 ? Promise.reject(new SealboxError('ERR_STORAGE', 'the tab closed', { status: 400 })) : inner.uploadPart(id, n, body, signal)),
        abort: async () => {},
      };
      await assert.rejects(uploadEncrypted(new Blob([data]), { keyring, target: dying, partSize: 5 * MiB, concurrency: 1 }));
      const landed = await c.call('GET', `/api/uploads/${uploadId}/parts`);
      assert.deepEqual(landed.parts.map((p: { partNumber: number }) => p.partNumber).sort(), [1, 2]);
      const resumed = await resumeUpload(new Blob([data]), { keyring, target: c.target('mp2'), uploadId, partSize: 5 * MiB });
      assert.equal(resumed.parts.length, 4);
      const plain = await readAll((await c.source('mp2')).stream().pipeThrough(new DecryptStream({ keyring })));
      assert.ok(plain.equals(data));
    });

    test('the routes refuse: a reader, another user\'s upload, a forged part URL, a wrong ETag on complete', async () => {
      const alice = await client(server);
      const bob = await client(server, 'bob');
      const carol = await client(server, 'carol');
      await assert.rejects(bob.call('POST', '/api/uploads', { id: 'x1', head: '' }), /403/);
      const { uploadId } = await alice.call('POST', '/api/uploads', { id: 'x1', head: 'AAAA' });
      await assert.rejects(carol.call('GET', `/api/uploads/${uploadId}/parts`), /403/);
      const { url } = await alice.call('POST', `/api/uploads/${uploadId}/part-url`, { partNumber: 1 });
      if (url.startsWith('/')) {
        const forged = new URL(url, server.url);
        forged.pathname = forged.pathname.replace(/\/1$/, '/2');
        assert.equal((await fetch(forged, { method: 'PUT', body: 'x' })).status, 403);
      }
      const put = await fetch(new URL(url, server.url), { method: 'PUT', body: 'not an envelope' });
      assert.equal(put.status, 200);
      assert.ok(put.headers.get('etag'));
      await assert.rejects(alice.call('POST', `/api/uploads/${uploadId}/complete`, { parts: [{ partNumber: 1, etag: '"nope"', size: 1 }] }), /400/);
      await alice.call('DELETE', `/api/uploads/${uploadId}`);
      await assert.rejects(alice.call('GET', `/api/uploads/${uploadId}/parts`), /404/);
    });
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-mp-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

cases('embedded store', async () => {
  const server = await startDevServer({ port: 0, dataDir: join(dir, 'embedded'), log: () => {} });
  const close = server.close.bind(server);
  return {
    ...server,
    async close() {
      await close();
      // No part files are left behind once uploads complete or abort.
      const tmp = await readdir(join(dir, 'embedded', 'blobs', '.tmp'));
      assert.deepEqual(tmp, []);
    },
  };
});

let s3Bucket = '';
cases('S3 (Ceph RGW)', async () => {
  const service = await s3Service();
  s3Bucket = uniqueBucketName('demo');
  await service.createBucket(s3Bucket);
  process.env.AWS_ACCESS_KEY_ID = service.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = service.secretAccessKey;
  return startDevServer({ port: 0, dataDir: join(dir, 's3'), log: () => {}, s3: { bucket: s3Bucket, endpoint: service.endpoint, region: service.region } });
});

describe('S3 mode (Ceph RGW): start', () => {
  test('the page\'s CORS rule is added to the bucket (other rules kept), objects are listed with their names, a missing bucket fails at start', async () => {
    const service = await s3Service();
    process.env.AWS_ACCESS_KEY_ID = service.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = service.secretAccessKey;
    const bucket = uniqueBucketName('democors');
    const other = { ID: 'theirs', AllowedOrigins: ['https://example.com'], AllowedMethods: ['GET'] };
    await service.createBucket(bucket, { cors: [other] });
    const server = await startDevServer({ port: 0, dataDir: join(dir, 's3cors'), log: () => {}, s3: { bucket, endpoint: service.endpoint, region: service.region } });
    const s3 = new S3Client(service.clientConfig());
    try {
      const rules = (await s3.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules ?? [];
      assert.deepEqual(rules.map((r) => r.ID).sort(), ['sealbox-demo', 'theirs']);
      const ours = rules.find((r) => r.ID === 'sealbox-demo')!;
      assert.ok(ours.AllowedOrigins!.includes(`http://127.0.0.1:${server.port}`));
      assert.ok(ours.ExposeHeaders!.includes('ETag'));
      const c = await client(server);
      const keyring = new RawAesKeyring({ keyName: 'demo', key: randomBytes(32) });
      await uploadEncrypted(new Blob([randomBytes(1000)]), { keyring, target: c.target('listed1') });
      const { objects, store } = await c.call('GET', '/blobs');
      assert.equal(store, 's3');
      assert.deepEqual(objects.map((o: { id: string; name: string; uploadedBy: string }) => [o.id, o.name, o.uploadedBy]), [['listed1', 'listed1.bin', 'alice']]);
    } finally {
      s3.destroy();
      await server.close();
    }
    await assert.rejects(
      startDevServer({ port: 0, dataDir: join(dir, 's3none'), log: () => {}, s3: { bucket: 'no-such-bucket-sealbox', endpoint: service.endpoint, region: service.region } }),
      (error: SealboxError) => error.code === 'ERR_STORAGE' && /no such bucket/.test(error.message),
    );
  });
});
