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

let batches = 0;
const engine: ChunkEngine = {
  size: 2,
  async run(batch: ChunkBatch) {
    batches++;
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
