/**
 * httpRangeSource against a real S3 (Ceph RGW) through presigned GET URLs: ranged previews read
 * only what they need (bytes counted at a relay), tampering and replacement are caught.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { DEFAULT_LIMITS } from '../../../src/sdk/format/constants.js';
import { parseEnvelopeHeader } from '../../../src/sdk/format/header.js';
import { COBBLESTONE_HEADER_BYTES, TAG_BYTES } from '../../../src/sdk/payload/cobblestone.js';
import { httpRangeSource } from '../../../src/sdk/storage/http-range.js';
import { s3MultipartTarget } from '../../../src/sdk/storage/s3.js';
import { uploadEncrypted } from '../../../src/sdk/storage/upload.js';
import { DecryptStream } from '../../../src/sdk/stream/decrypt-stream.js';
import { decryptRange } from '../../../src/sdk/stream/range.js';
import { MiB, type TestS3, aesKeyring, pattern, rejectsCode, startTestS3 } from './helpers.js';

const CHUNK = 16384;
const SEALED = CHUNK + TAG_BYTES;

describe('httpRangeSource on a real S3 (Ceph RGW)', () => {
  let s3: TestS3;
  const data = pattern(20 * MiB + 4321, 21);
  const key = 'ranged.sbx';
  let headerLength = 0;
  before(async () => {
    s3 = await startTestS3();
    await uploadEncrypted(new Blob([data as BlobPart]), { keyring: aesKeyring(), context: { doc: 'ranged' }, target: s3MultipartTarget(s3.direct.callbacks(key)), partSize: 5 * MiB });
    headerLength = parseEnvelopeHeader(await s3.getObject(key), DEFAULT_LIMITS).headerLength;
  });
  after(async () => {
    await s3?.stop();
  });

  test('a ranged preview fetches only the header, the salt and commitment, and the chunks that cover the range', async () => {
    const offset = 10 * MiB + 100;
    const length = 40_000;
    s3.relay.reset();
    const source = httpRangeSource(await s3.relayed.presignGet(key));
    const plaintext = await decryptRange(source, { keyring: aesKeyring(), offset, length });
    assert.ok(Buffer.from(plaintext).equals(data.subarray(offset, offset + length)));
    const chunks = Math.floor((offset + length - 1) / CHUNK) - Math.floor(offset / CHUNK) + 1;
    assert.equal(chunks, 3);
    const gets = s3.relay.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 3, 'prefix, header with salt and commitment, covering chunks');
    assert.equal(s3.relay.responseBytes(), headerLength + COBBLESTONE_HEADER_BYTES + chunks * SEALED);
    assert.ok(gets.slice(1).every((r) => r.headers['if-match'] === source.etag), 'later reads are pinned to the first ETag');
    assert.equal(source.size, (await s3.getObject(key)).length);
  });

  test('the end of the object: a range past it is ERR_RANGE, after the final chunk authenticated', async () => {
    const source = httpRangeSource(await s3.direct.presignGet(key));
    const tail = await decryptRange(source, { keyring: aesKeyring(), offset: data.length - 10, length: 10 });
    assert.ok(Buffer.from(tail).equals(data.subarray(data.length - 10)));
    await rejectsCode(decryptRange(source, { keyring: aesKeyring(), offset: data.length - 10, length: 11 }), 'ERR_RANGE');
  });

  test('the whole object through stream() and DecryptStream', async () => {
    const source = httpRangeSource(await s3.direct.presignGet(key));
    const out = await new Response(source.stream({ pieceBytes: 3 * MiB }).pipeThrough(new DecryptStream({ keyring: aesKeyring() }))).arrayBuffer();
    assert.ok(Buffer.from(out).equals(data));
  });

  test('a tampered object fails ERR_TAMPERED, ranged and streamed', async () => {
    const object = await s3.getObject(key);
    const chunk = 200;
    object[headerLength + COBBLESTONE_HEADER_BYTES + chunk * SEALED + 5]! ^= 1;
    await s3.putObject('tampered.sbx', object);
    const source = httpRangeSource(await s3.direct.presignGet('tampered.sbx'));
    // A range elsewhere still reads (every chunk stands alone)…
    await decryptRange(source, { keyring: aesKeyring(), offset: 0, length: 1000 });
    // …the tampered chunk does not.
    await rejectsCode(decryptRange(source, { keyring: aesKeyring(), offset: chunk * CHUNK + 10, length: 100 }), 'ERR_TAMPERED');
    const stream = httpRangeSource(await s3.direct.presignGet('tampered.sbx')).stream().pipeThrough(new DecryptStream({ keyring: aesKeyring() }));
    await rejectsCode(new Response(stream).arrayBuffer(), 'ERR_TAMPERED');
  });

  test('an object replaced during a ranged read fails ERR_SOURCE_CHANGED', async () => {
    const name = 'replaced.sbx';
    await s3.putObject(name, await s3.getObject(key));
    // Another envelope of the same length, under the same key, between the first and second reads.
    const replacement = await encrypt(data, { keyring: aesKeyring(), context: { doc: 'ranged' } });
    let gets = 0;
    s3.relay.before = async (req) => {
      if (req.method === 'GET' && ++gets === 2) await s3.putObject(name, replacement);
    };
    try {
      const source = httpRangeSource(await s3.relayed.presignGet(name));
      const error = await rejectsCode(decryptRange(source, { keyring: aesKeyring(), offset: 5 * MiB, length: 1000 }), 'ERR_SOURCE_CHANGED');
      assert.match(error.message, /412|ETag/);
    } finally {
      s3.relay.before = undefined;
    }
  });

  test('HTTP failures are ERR_STORAGE with the status: a missing object, an expired URL', async () => {
    const missing = await rejectsCode(httpRangeSource(await s3.direct.presignGet('no-such-object')).read(0, 8), 'ERR_STORAGE');
    assert.equal(missing.status, 404);
    assert.match(missing.message, /NoSuchKey/);
    const url = await s3.direct.presignGet(key, { expiresIn: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await rejectsCode(httpRangeSource(url).read(0, 8), 'ERR_STORAGE');
    assert.equal(expired.status, 403);
    const unreachable = await rejectsCode(httpRangeSource('http://127.0.0.1:9/x').read(0, 8), 'ERR_STORAGE');
    assert.equal(unreachable.status, undefined);
  });
});
