/** S3's part rules, as the layout of ./parts.ts keeps them: pure arithmetic, no store. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SealboxError } from '../../../src/sdk/errors.js';
import { COBBLESTONE_HEADER_BYTES, ciphertextLength } from '../../../src/sdk/payload/cobblestone.js';
import {
  DEFAULT_PART_SIZE,
  MAX_PARTS,
  MIN_PART_BYTES,
  partByteLength,
  partChunksFor,
  partCount,
} from '../../../src/sdk/storage/parts.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const code = (c: string) => (e: unknown) => e instanceof SealboxError && e.code === c;

describe('multipart layout', () => {
  test('every part but the last is at least 5 MiB, at most 10,000 parts, and the parts add up to the envelope', () => {
    const head = 137;
    for (const chunkSize of [16 * KiB, 64 * KiB, 4 * MiB]) {
      for (const size of [0, 1, 5 * MiB - 1, 5 * MiB, 8 * MiB, 8 * MiB + 1, 64 * MiB, 64 * MiB + 12345, 3 * GiB + 7]) {
        for (const partSize of [undefined, MIN_PART_BYTES, 6 * MiB + 3, 100 * MiB]) {
          const chunks = partChunksFor(chunkSize, partSize, size);
          const parts = partCount(size, chunkSize, chunks);
          assert.ok(parts >= 1 && parts <= MAX_PARTS);
          let total = 0;
          for (let n = 1; n <= parts; n++) {
            const bytes = partByteLength(n, size, chunkSize, chunks, head);
            if (n < parts) assert.ok(bytes >= MIN_PART_BYTES, `part ${n} of ${parts} is ${bytes} bytes (size ${size}, chunk ${chunkSize})`);
            assert.ok(bytes > 0 && bytes <= 5 * GiB);
            total += bytes;
          }
          // `head` is the whole head (header, salt, commitment); ciphertextLength counts salt and commitment too.
          assert.equal(total, head + ciphertextLength(size, chunkSize) - COBBLESTONE_HEADER_BYTES, `size ${size}, chunk ${chunkSize}, part ${partSize}`);
        }
      }
    }
  });

  test('the default part is 8 MiB of plaintext: 512 chunks of 16 KiB', () => {
    assert.equal(DEFAULT_PART_SIZE, 8 * MiB);
    assert.equal(partChunksFor(16 * KiB), 512);
    assert.equal(partChunksFor(16 * KiB, 5 * MiB), 320);
    // A part size between chunks is rounded up to whole chunks.
    assert.equal(partChunksFor(16 * KiB, 5 * MiB + 1), 321);
  });

  test('the part size grows so that large inputs fit in 10,000 parts', () => {
    const size = 200 * GiB;
    const chunks = partChunksFor(16 * KiB, 8 * MiB, size);
    assert.ok(chunks > 512);
    assert.ok(partCount(size, 16 * KiB, chunks) <= MAX_PARTS);
    assert.equal(partCount(size, 16 * KiB, chunks - 1) > MAX_PARTS, true, 'the smallest part size that fits');
    // 10,000 × 8 MiB = 78 GiB fits at the default size.
    assert.equal(partChunksFor(16 * KiB, 8 * MiB, 78 * GiB), 512);
  });

  test('a message that ends on a part boundary gets a last part of just the empty final chunk', () => {
    const chunks = partChunksFor(16 * KiB, 5 * MiB);
    const size = 2 * chunks * 16 * KiB;
    assert.equal(partCount(size, 16 * KiB, chunks), 3);
    assert.equal(partByteLength(3, size, 16 * KiB, chunks, 100), 16);
  });

  test('refused: parts under 5 MiB or over 5 GiB, objects over 5 TiB', () => {
    assert.throws(() => partChunksFor(16 * KiB, 5 * MiB - 1), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => partChunksFor(16 * KiB, 6 * GiB), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => partChunksFor(16 * KiB, 1.5 * MiB), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => partChunksFor(16 * KiB, 8 * MiB, 5 * 1024 * GiB), code('ERR_LIMIT'));
    assert.throws(() => partChunksFor(16 * KiB, 8 * MiB, -1), code('ERR_INVALID_ARGUMENT'));
  });
});
