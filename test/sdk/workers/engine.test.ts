// Node has no Worker: the Worker engine's cases (test/suite/workers.ts) run here against an
// in-thread ChunkEngine that does what a Worker does (runBatchOn, copies instead of transfers), so
// the batching of the streams, encrypt/decrypt and encryptBlob/decryptBlob is checked without
// browsers. Real Workers: test/browser/workers.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBatchOn } from '../../../src/sdk/payload/batch.js';
import type { ChunkBatch, ChunkEngine } from '../../../src/sdk/payload/engine.js';
import { encrypt, RawAesKeyring } from '../../../src/index.js';
import { workerCases } from '../../suite/workers.js';
import { SALT, fixedKeyring } from '../../suite/streams.js';
import { pattern } from '../../suite/harness.js';
import { resumeUpload, uploadEncrypted } from '../../../src/sdk/storage/upload.js';
import type { MultipartTarget, UploadedPart } from '../../../src/sdk/storage/target.js';

/** A store in memory: parts by number, the object once completed. */
function memoryTarget() {
  const parts = new Map<number, Uint8Array>();
  let object: Uint8Array | undefined;
  const target: MultipartTarget = {
    async create() {
      return 'upload-1';
    },
    async uploadPart(_id, n, body) {
      parts.set(n, body.slice());
      return `"etag-${n}"`;
    },
    async complete(_id, list) {
      const bodies = list.map((p) => parts.get(p.partNumber)!);
      object = new Uint8Array(bodies.reduce((n, b) => n + b.length, 0));
      let at = 0;
      for (const b of bodies) {
        object.set(b, at);
        at += b.length;
      }
    },
    async abort() {},
    async listParts(): Promise<UploadedPart[]> {
      return [...parts].map(([partNumber, body]) => ({ partNumber, etag: `"etag-${partNumber}"`, size: body.length }));
    },
  };
  return { target, parts, object: () => object };
}

let batches = 0;
/** Batches that named a Blob range (the engine read it) rather than carrying bytes. */
let blobBatches = 0;
const engine: ChunkEngine = {
  size: 2,
  async run(batch: ChunkBatch) {
    batches++;
    if (batch.blob) blobBatches++;
    const input = batch.blob ? new Uint8Array(await batch.blob.blob.slice(batch.blob.start, batch.blob.end).arrayBuffer()) : batch.data!;
    // Like a transfer: the caller must not use the buffer any more.
    const copy = structuredClone(input, { transfer: [input.buffer] });
    return runBatchOn(batch.op, batch.keys, batch.chunkSize, batch.first, copy, batch.final);
  },
};

for (const testCase of workerCases(() => ({ engine, numbers: false }))) {
  if (testCase.skip?.({ runtime: 'node', readText: async () => '' })) continue;
  test(testCase.name, () => testCase.run({ runtime: 'node', readText: async () => '' }));
}

test('workers: the engine got batches (not chunks), and workers: 2 runs in-thread where Worker is missing', async () => {
  assert.ok(batches > 0);
  const keyring = new RawAesKeyring({ keyName: 'k', key: new Uint8Array(32).fill(3) });
  const envelope = await encrypt(new Uint8Array(100000), { keyring, workers: 2 });
  assert.equal(typeof Worker, 'undefined');
  assert.ok(envelope.length > 100000);
});

test('workers: uploadEncrypted and resumeUpload seal their parts through the engine, with the bytes of encrypt()', async () => {
  const keyring = fixedKeyring();
  const plaintext = pattern(10 * 1024 * 1024 + 12345, 5);
  const expected = await encrypt(plaintext, { keyring, salt: SALT });
  const before = batches;
  const blobBefore = blobBatches;
  const whole = memoryTarget();
  await uploadEncrypted(new Blob([plaintext as Uint8Array<ArrayBuffer>]), { keyring, salt: SALT, target: whole.target, partSize: 5 * 1024 * 1024, workers: engine });
  assert.deepEqual(whole.object(), expected);
  // 10 MiB in 5 MiB parts from a Blob: every batch names its slice (the engine reads it, the calling
  // thread never does), in 4 MiB batches: 2 parts of 2 batches (4 MiB and 1 MiB) and a last part of one.
  assert.equal(batches - before, 5);
  assert.equal(blobBatches - blobBefore, 5);
  // From a stream, the bytes come through this thread and go to the engine with the batches.
  const streamed = memoryTarget();
  const blobBeforeStream = blobBatches;
  const beforeStream = batches;
  await uploadEncrypted(new Blob([plaintext as Uint8Array<ArrayBuffer>]).stream(), { keyring, salt: SALT, target: streamed.target, partSize: 5 * 1024 * 1024, workers: engine });
  assert.deepEqual(streamed.object(), expected);
  assert.equal(blobBatches, blobBeforeStream);
  // In 1 MiB batches: 2 parts of 5 and a last part of one.
  assert.equal(batches - beforeStream, 11);
  // Resumed after the first part landed: the rest sealed through the engine as well.
  const resumed = memoryTarget();
  let head: Uint8Array | undefined;
  await assert.rejects(
    uploadEncrypted(new Blob([plaintext as Uint8Array<ArrayBuffer>]), {
      keyring,
      salt: SALT,
      partSize: 5 * 1024 * 1024,
      concurrency: 1,
      workers: engine,
      onCreate: (u) => void (head = u.head),
      target: { ...resumed.target, uploadPart: (id, n, body, signal) => (n === 1 ? resumed.target.uploadPart(id, n, body, signal) : Promise.reject(Object.assign(new Error('cut'), { status: 400 }))) },
    }),
  );
  const afterCut = batches;
  await resumeUpload(new Blob([plaintext as Uint8Array<ArrayBuffer>]), { keyring, target: resumed.target, uploadId: 'upload-1', head: head!, workers: engine });
  assert.deepEqual(resumed.object(), expected);
  // Parts 2 and 3 (4 MiB + 1 MiB, and the last one) from the Blob: 3 batches at least.
  assert.ok(batches - afterCut >= 3, `resume sealed ${batches - afterCut} batches through the engine`);
});
