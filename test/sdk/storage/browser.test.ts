/**
 * The storage SDK in real Chromium against a real S3 (Ceph RGW), cross-origin as in production:
 * the page (served by a small app server that presigns with s3Storage) encrypts into a multipart
 * upload through presigned part URLs and reads a range back through a presigned GET; the bucket's
 * CORS rules are what let it read ETag and Content-Range. A bucket that does not expose ETag fails
 * with a clear ERR_STORAGE.
 */
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright';
import { launchChromium } from '../../../scripts/runtimes/chromium.js';
import { s3Service } from '../../support/ceph-rgw.js';
import { type S3Storage, s3Storage } from '../../../src/node/storage/s3.js';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { MiB, type TestS3, aesKeyring, startTestS3 } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const SIZE = 12 * MiB + 77;
/** The bytes the page uploads, made the same way on both sides. */
function bytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >>> 13)) & 0xff;
  return out;
}

// Plain JavaScript for the page (a string, so that no TypeScript transform touches it).
const PAGE_SCRIPT = `
import * as m from '/bundle.js';
globalThis.run = async ({ key, bucket, size, offset, length }) => {
  const api = (path, body) =>
    fetch('/api/' + path, { method: 'POST', body: JSON.stringify({ bucket, key, ...body }) }).then((r) => {
      if (!r.ok) throw new Error('app server: ' + r.status);
      return r.json();
    });
  const target = m.s3MultipartTarget({
    create: () => api('create', {}).then((r) => r.uploadId),
    presignPart: (uploadId, partNumber) => api('part', { uploadId, partNumber }).then((r) => r.url),
    complete: (uploadId, parts) => api('complete', { uploadId, parts }),
    abort: (uploadId) => api('abort', { uploadId }),
    listParts: (uploadId) => api('parts', { uploadId }),
  });
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 13)) & 0xff;
  const keyring = new m.RawAesKeyring({ keyName: 'storage-test', key: new Uint8Array(32).fill(0x5a) });
  try {
    const result = await m.uploadEncrypted(new Blob([data]), { keyring, target, partSize: 5 * 1024 * 1024, retry: { attempts: 1 } });
    const source = m.httpRangeSource((await api('get', {})).url);
    const slice = await m.decryptRange(source, { keyring, offset, length });
    const same = slice.every((b, i) => b === data[offset + i]);
    return { parts: result.parts.length, etags: result.parts.every((p) => /^"[0-9a-f]{32}"$/.test(p.etag)), same, size: source.size, etag: source.etag };
  } catch (error) {
    return { error: error.code ?? String(error), message: error.message };
  }
};
`;

describe('uploadEncrypted and httpRangeSource in Chromium, cross-origin to a real S3 (Ceph RGW)', () => {
  let s3: TestS3;
  let browser: Browser;
  let page: Page;
  let server: Server;
  let origin = '';
  let noExpose: S3Storage;
  before(async () => {
    s3 = await startTestS3();
    const service = await s3Service();
    const other = `${s3.bucket}-noexpose`;
    await service.createBucket(other, { cors: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'] }] });
    noExpose = s3Storage({ bucket: other, endpoint: s3.service.endpoint, region: s3.service.region, credentials: s3.service });
    const bundle = await build({
      stdin: {
        contents: `export * from './src/sdk/storage/index.ts';
          export { RawAesKeyring } from './src/sdk/keyring/raw-aes.ts';
          export { decryptRange } from './src/sdk/stream/range.ts';`,
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
    });
    const script = bundle.outputFiles[0]!.text;
    // The app's server: serves the page and the bundle, and does mode (a) of s3MultipartTarget.
    server = createServer(async (req, res) => {
      if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>storage</title>');
      if (req.url === '/bundle.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      if (req.url === '/page.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(PAGE_SCRIPT);
      let body = '';
      for await (const chunk of req) body += chunk;
      const input = JSON.parse(body || '{}') as { bucket?: string; key: string; uploadId: string; partNumber: number; parts: never[] };
      const storage = input.bucket === 'noexpose' ? noExpose : s3.direct;
      try {
        const out =
          req.url === '/api/create'
            ? { uploadId: await storage.createMultipart(input.key) }
            : req.url === '/api/part'
              ? { url: await storage.presignPart(input.key, input.uploadId, input.partNumber) }
              : req.url === '/api/complete'
                ? await storage.complete(input.key, input.uploadId, input.parts)
                : req.url === '/api/abort'
                  ? (await storage.abort(input.key, input.uploadId), {})
                  : req.url === '/api/parts'
                    ? await storage.listParts(input.key, input.uploadId)
                    : req.url === '/api/get'
                      ? { url: await storage.presignGet(input.key) }
                      : undefined;
        if (out === undefined) return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${origin}/`);
    await page.addScriptTag({ url: '/page.js', type: 'module' });
    await page.waitForFunction(() => 'run' in globalThis);
  });
  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    server?.close();
    noExpose?.close();
    await s3?.stop();
  });

  /** Runs in the page (PAGE_SCRIPT's run): upload `size` bytes to `key` of `bucket` through the app server, then read a range back. */
  const inPage = (args: { key: string; bucket?: string; size: number; offset: number; length: number }) =>
    page.evaluate((a) => (globalThis as unknown as { run(x: unknown): Promise<Record<string, unknown>> }).run(a), args);

  test('12 MiB encrypted into presigned part URLs and a range read back through a presigned GET, cross-origin', async () => {
    const out = await inPage({ key: 'browser.sbx', size: SIZE, offset: 6_000_000, length: 50_000 });
    assert.deepEqual({ ...out, size: undefined, etag: undefined }, { parts: 3, etags: true, same: true, size: undefined, etag: undefined });
    const object = await s3.getObject('browser.sbx');
    assert.equal((out as { size: number }).size, object.length);
    assert.match((out as { etag: string }).etag, /^"[0-9a-f]+-3"$/);
    const { plaintext } = await decrypt(object, { keyring: aesKeyring() });
    assert.ok(Buffer.from(plaintext).equals(bytes(SIZE)));
  });

  test('a bucket whose CORS rules do not expose ETag: ERR_STORAGE that says so, and the upload is aborted', async () => {
    const out = (await inPage({ key: 'noexpose.sbx', bucket: 'noexpose', size: 6 * MiB, offset: 0, length: 1 })) as { error?: string; message?: string };
    assert.equal(out.error, 'ERR_STORAGE');
    assert.match(out.message ?? '', /CORS.*ETag/);
    assert.deepEqual(await s3Uploads(noExpose, 'noexpose.sbx'), [], 'the upload was aborted');
  });
});

async function s3Uploads(storage: S3Storage, key: string): Promise<string[]> {
  const { ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
  const out = await (await storage.client()).send(new ListMultipartUploadsCommand({ Bucket: storage.bucket, Prefix: key }));
  return (out.Uploads ?? []).map((u) => u.UploadId!);
}
