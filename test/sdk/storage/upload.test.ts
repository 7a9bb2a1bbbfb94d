/**
 * uploadEncrypted and resumeUpload against a real S3 (Ceph RGW), through presigned URLs, with real
 * faults: a relay that fails part PUTs, a process killed mid-upload.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { inspect } from '../../../src/sdk/envelope/inspect.js';
import { DEFAULT_LIMITS } from '../../../src/sdk/format/constants.js';
import { parseEnvelopeHeader } from '../../../src/sdk/format/header.js';
import { COBBLESTONE_HEADER_BYTES, SALT_BYTES } from '../../../src/sdk/payload/cobblestone.js';
import { MIN_PART_BYTES } from '../../../src/sdk/storage/parts.js';
import { s3MultipartTarget } from '../../../src/sdk/storage/s3.js';
import { resumeUpload, uploadEncrypted } from '../../../src/sdk/storage/upload.js';
import { RawAesKeyring } from '../../../src/sdk/keyring/raw-aes.js';
import { FixedKeyring, MiB, type TestS3, aesKeyring, pattern, rejectsCode, startTestS3 } from './helpers.js';

describe('uploadEncrypted to a real S3 (Ceph RGW)', () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startTestS3();
  });
  after(async () => {
    await s3?.stop();
  });

  test('64 MiB through presigned part URLs: the object is what encrypt() gives for the same key and salt, decrypts byte-identically, and inspect reads its header from a ranged GET', async () => {
    const data = pattern(64 * MiB, 7);
    const keyring = new FixedKeyring(aesKeyring(), new Uint8Array(randomBytes(32)));
    const salt = new Uint8Array(randomBytes(SALT_BYTES));
    const context = { tenant: 'acme', object: 'big.bin' };
    const key = 'big.bin.sbx';
    // Counts the part PUTs under way at once.
    const target = s3MultipartTarget(s3.direct.callbacks(key));
    let inFlight = 0;
    let maxInFlight = 0;
    const counting = {
      ...target,
      async uploadPart(uploadId: string, n: number, body: Uint8Array, signal: AbortSignal) {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await target.uploadPart(uploadId, n, body, signal);
        } finally {
          inFlight--;
        }
      },
    };
    const result = await uploadEncrypted(new Blob([data as BlobPart]), { keyring, context, salt, target: counting });
    const object = await s3.getObject(key);
    assert.equal(result.size, object.length);
    assert.equal(result.plaintextSize, data.length);
    // 64 MiB is 8 parts of 8 MiB; the empty final chunk makes a 16-byte ninth part.
    assert.deepEqual(result.parts.map((p) => p.partNumber), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const part of result.parts.slice(0, -1)) assert.ok(part.size >= MIN_PART_BYTES);
    assert.equal(result.parts.at(-1)!.size, 16);
    assert.ok(maxInFlight >= 2 && maxInFlight <= 4, `parts went up concurrently, at most 4 (${maxInFlight})`);

    const expected = await encrypt(data, { keyring, context, salt });
    assert.ok(Buffer.from(object).equals(expected), 'the object is byte for byte the envelope encrypt() makes');
    const { plaintext } = await decrypt(object, { keyring: aesKeyring(), expectContext: context });
    assert.ok(Buffer.from(plaintext).equals(data));

    const response = await fetch(await s3.direct.presignGet(key), { headers: { Range: 'bytes=0-4095' } });
    assert.equal(response.status, 206);
    const first = new Uint8Array(await response.arrayBuffer());
    assert.equal(first.length, 4096);
    const header = await inspect(first);
    assert.deepEqual(header.context, context);
    assert.equal(header.chunkSize, 16384);
    assert.equal(header.recipients[0]!.type, 'raw-aes-256-gcm');
  });

  test('a ReadableStream source, everything presigned (mode b): the same bytes as encrypt()', async () => {
    const data = pattern(11 * MiB + 12345, 3);
    const keyring = new FixedKeyring(aesKeyring(), new Uint8Array(randomBytes(32)));
    const salt = new Uint8Array(randomBytes(SALT_BYTES));
    const key = 'stream.sbx';
    // Odd-sized pieces, so that parts and chunks never line up with what the stream yields.
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const n = Math.min(777_777, data.length - offset);
        if (n === 0) return controller.close();
        controller.enqueue(data.slice(offset, offset + n));
        offset += n;
      },
    });
    const result = await uploadEncrypted(stream, { keyring, salt, target: s3MultipartTarget(s3.direct.presignCallbacks(key)), partSize: 5 * MiB });
    assert.equal(result.parts.length, 3);
    const object = await s3.getObject(key);
    assert.ok(Buffer.from(object).equals(await encrypt(data, { keyring, salt })));
  });

  test('killed (SIGKILL) after some parts landed, then resumed: byte-identical to an upload that never stopped', async () => {
    const size = 40 * MiB + 999;
    const seed = 11;
    const key = 'resumed.sbx';
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./upload-child.ts', import.meta.url))], {
      env: {
        ...process.env,
        CHILD_BUCKET: s3.bucket,
        CHILD_ENDPOINT: s3.service.endpoint,
        CHILD_REGION: s3.service.region,
        CHILD_ACCESS_KEY_ID: s3.service.accessKeyId,
        CHILD_SECRET_ACCESS_KEY: s3.service.secretAccessKey,
        CHILD_KEY: key,
        CHILD_SIZE: String(size),
        CHILD_SEED: String(seed),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let started: { uploadId: string; head: string } | undefined;
    for await (const line of createInterface({ input: child.stdout! })) {
      const message = JSON.parse(line) as { uploadId?: string; head?: string; parts?: number; done?: boolean };
      if (message.uploadId) started = { uploadId: message.uploadId, head: message.head! };
      assert.ok(!message.done, 'the child finished before it could be killed');
      if ((message.parts ?? 0) >= 3) {
        child.kill('SIGKILL');
        break;
      }
    }
    await exited;
    assert.ok(started);
    const landed = await s3.direct.listParts(key, started.uploadId);
    assert.ok(landed.length >= 3 && landed.length < 9, `${landed.length} parts landed before the kill`);
    assert.equal(await s3.exists(key), false);

    const data = pattern(size, seed);
    const head = new Uint8Array(Buffer.from(started.head, 'base64'));
    const uploaded: number[] = [];
    const target = s3MultipartTarget(s3.direct.callbacks(key));
    const counting = { ...target, uploadPart: (id: string, n: number, body: Uint8Array, signal: AbortSignal) => (uploaded.push(n), target.uploadPart(id, n, body, signal)) };
    const result = await resumeUpload(new Blob([data as BlobPart]), { keyring: aesKeyring(), target: counting, uploadId: started.uploadId, head });
    assert.deepEqual(
      uploaded.sort((a, b) => a - b),
      result.parts.map((p) => p.partNumber).filter((n) => !landed.some((p) => p.partNumber === n)),
      'only the missing parts were uploaded',
    );
    const resumed = await s3.getObject(key);

    // The same upload, uninterrupted: same data key (unwrapped from the head), recipients and salt.
    const parsed = parseEnvelopeHeader(head, DEFAULT_LIMITS);
    const dataKey = (await aesKeyring().unwrapDataKey({
      context: parsed.protected.context,
      headerAad: new Uint8Array([0x53, 0x42, 0x58, 1, ...parsed.protectedBytes]),
      recipients: parsed.recipients,
      salt: head.subarray(parsed.headerLength, parsed.headerLength + SALT_BYTES),
      commitment: head.subarray(parsed.headerLength + SALT_BYTES),
    })) as Uint8Array;
    const fixed = new FixedKeyring(aesKeyring(), dataKey, parsed.recipients);
    const salt = head.slice(parsed.headerLength, parsed.headerLength + SALT_BYTES);
    await uploadEncrypted(new Blob([data as BlobPart]), { keyring: fixed, context: { test: 'resume' }, salt, target: s3MultipartTarget(s3.direct.callbacks('straight.sbx')), partSize: 5 * MiB });
    const straight = await s3.getObject('straight.sbx');
    assert.equal(head.length, parsed.headerLength + COBBLESTONE_HEADER_BYTES);
    assert.ok(Buffer.from(resumed).equals(straight), 'the resumed object is byte-identical to the uninterrupted one');
    assert.ok(Buffer.from((await decrypt(resumed, { keyring: aesKeyring() })).plaintext).equals(data));
  });

  test('an empty file and a small one: a single part (S3 takes a small last part), the same bytes as encrypt()', async () => {
    for (const size of [0, 1, 100_000]) {
      const data = pattern(size, 13);
      const keyring = new FixedKeyring(aesKeyring(), new Uint8Array(randomBytes(32)));
      const salt = new Uint8Array(randomBytes(SALT_BYTES));
      const key = `small-${size}.sbx`;
      const result = await uploadEncrypted(new Blob([data as BlobPart]), { keyring, salt, target: s3MultipartTarget(s3.direct.callbacks(key)) });
      assert.equal(result.parts.length, 1);
      assert.equal(result.plaintextSize, size);
      assert.ok(Buffer.from(await s3.getObject(key)).equals(await encrypt(data, { keyring, salt })), `size ${size}`);
    }
  });

  test('resumed from a ReadableStream, the head from the target (readHead), a 64 KiB chunk size and a custom part size read off the stored parts', async () => {
    const key = 'resumed-stream.sbx';
    const size = 23 * MiB + 5;
    const data = pattern(size, 17);
    const heads = new Map<string, Uint8Array>();
    const base = s3MultipartTarget(s3.direct.callbacks(key));
    // The app keeps the head beside the upload id (as a server would), and gives it back.
    const target = {
      ...base,
      create: async (init: { head: Uint8Array }) => {
        const uploadId = await base.create(init);
        heads.set(uploadId, init.head.slice());
        return uploadId;
      },
      readHead: async (uploadId: string) => heads.get(uploadId),
    };
    const keyring = new FixedKeyring(aesKeyring(), new Uint8Array(randomBytes(32)));
    const salt = new Uint8Array(randomBytes(SALT_BYTES));
    const options = { keyring, salt, chunkSize: 65536, partSize: 6 * MiB + 1, concurrency: 1 };
    const stop = new AbortController();
    let uploadId = '';
    // Stopped after two parts, without an abort (a closed tab): abort() does nothing here.
    await rejectsCode(
      uploadEncrypted(new Blob([data as BlobPart]), {
        ...options,
        target: { ...target, abort: async () => {} },
        signal: stop.signal,
        onCreate: (upload) => {
          uploadId = upload.uploadId;
        },
        onProgress: ({ parts }) => {
          if (parts === 2) stop.abort();
        },
      }),
      'ERR_ABORTED',
    );
    const landed = await s3.direct.listParts(key, uploadId);
    assert.ok(landed.length >= 2 && landed.length < 4, `${landed.length} parts landed`);
    const stream = new Blob([data as BlobPart]).stream();
    const result = await resumeUpload(stream, { keyring: aesKeyring(), target, uploadId });
    assert.equal(result.parts.length, 4);
    await uploadEncrypted(new Blob([data as BlobPart]), { ...options, target: s3MultipartTarget(s3.direct.callbacks('resumed-stream-straight.sbx')) });
    const resumed = await s3.getObject(key);
    assert.ok(Buffer.from(resumed).equals(await s3.getObject('resumed-stream-straight.sbx')), 'byte-identical to the uninterrupted upload');
    assert.ok(Buffer.from(resumed).equals(await encrypt(data, { keyring, salt, chunkSize: 65536 })));
  });

  test('a part PUT that fails twice (an S3 503, then a connection reset) is retried, and the object is intact', async () => {
    const key = 'flaky.sbx';
    const data = pattern(17 * MiB, 5);
    let failures = 0;
    s3.relay.reset();
    s3.relay.fault = (req) => {
      if (req.method !== 'PUT' || !/[?&]partNumber=3(&|$)/.test(req.url ?? '') || failures >= 2) return undefined;
      return failures++ === 0 ? 'status503' : 'reset';
    };
    try {
      const result = await uploadEncrypted(new Blob([data as BlobPart]), {
        keyring: aesKeyring(),
        target: s3MultipartTarget(s3.relayed.callbacks(key)),
        partSize: 5 * MiB,
        retry: { baseDelayMs: 20 },
      });
      assert.equal(result.parts.length, 4);
    } finally {
      s3.relay.fault = undefined;
    }
    const part3 = s3.relay.requests.filter((r) => r.method === 'PUT' && /[?&]partNumber=3(&|$)/.test(r.url));
    assert.deepEqual(part3.map((r) => r.fault ?? r.status), ['status503', 'reset', 200]);
    const { plaintext } = await decrypt(await s3.getObject(key), { keyring: aesKeyring() });
    assert.ok(Buffer.from(plaintext).equals(data));
  });

  test('a part that keeps failing: ERR_STORAGE after 3 tries, the upload aborted, no object', async () => {
    const key = 'failing.sbx';
    s3.relay.reset();
    s3.relay.fault = (req) => (req.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(req.url ?? '') ? 'status503' : undefined);
    let uploadId = '';
    try {
      const error = await rejectsCode(
        uploadEncrypted(new Blob([pattern(12 * MiB, 2) as BlobPart]), {
          keyring: aesKeyring(),
          target: s3MultipartTarget(s3.relayed.callbacks(key)),
          partSize: 5 * MiB,
          retry: { baseDelayMs: 10 },
          onCreate: (upload) => {
            uploadId = upload.uploadId;
          },
        }),
        'ERR_STORAGE',
      );
      assert.equal(error.status, 503);
      assert.match(error.message, /SlowDown/);
    } finally {
      s3.relay.fault = undefined;
    }
    assert.equal(s3.relay.requests.filter((r) => r.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(r.url)).length, 3);
    assert.equal(await s3.exists(key), false);
    assert.deepEqual(await s3.uploads(key), [], 'the upload was aborted');
    await rejectsCode(s3.direct.listParts(key, uploadId), 'ERR_STORAGE');
  });

  test('an abort signal mid-upload: ERR_ABORTED, the upload aborted, no object', async () => {
    const key = 'aborted.sbx';
    const controller = new AbortController();
    let uploadId = '';
    await rejectsCode(
      uploadEncrypted(new Blob([pattern(30 * MiB, 9) as BlobPart]), {
        keyring: aesKeyring(),
        target: s3MultipartTarget(s3.direct.callbacks(key)),
        partSize: 5 * MiB,
        signal: controller.signal,
        onCreate: (upload) => {
          uploadId = upload.uploadId;
        },
        onProgress: ({ parts }) => {
          if (parts === 1) controller.abort(new Error('the user cancelled'));
        },
      }),
      'ERR_ABORTED',
    );
    assert.ok(uploadId);
    assert.equal(await s3.exists(key), false);
    assert.deepEqual(await s3.uploads(key), []);
  });

  test('resumeUpload with the wrong key fails (ERR_NO_KEYRING_MATCH) before uploading anything', async () => {
    const key = 'wrong-key.sbx';
    let started: { uploadId: string; head: Uint8Array } | undefined;
    const controller = new AbortController();
    const target = s3MultipartTarget(s3.direct.callbacks(key));
    // Stopped without being aborted, as a closed tab would leave it: abort() does nothing here.
    await rejectsCode(
      uploadEncrypted(new Blob([pattern(6 * MiB, 1) as BlobPart]), {
        keyring: aesKeyring(),
        target: { ...target, abort: async () => {} },
        partSize: 5 * MiB,
        signal: controller.signal,
        onCreate: (upload) => {
          started = upload;
          controller.abort();
        },
      }),
      'ERR_ABORTED',
    );
    assert.ok(started);
    let parts = 0;
    const wrongKey = new RawAesKeyring({ keyName: 'storage-test', key: new Uint8Array(32).fill(1) });
    await rejectsCode(
      resumeUpload(new Blob([pattern(6 * MiB, 1) as BlobPart]), { keyring: wrongKey, target: { ...target, uploadPart: async () => String(++parts) }, ...started }),
      'ERR_NO_KEYRING_MATCH',
    );
    assert.equal(parts, 0);
    await target.abort(started.uploadId);
    assert.deepEqual(await s3.uploads(key), []);
  });
});

