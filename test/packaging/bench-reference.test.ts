// The benchmark's plain-stream reference (scripts/bench/core.ts) must do exactly the ceiling's
// work: the same AES-GCM chunks with the same nonces, whatever the piece size, in order. A reference
// that did less would make Sealbox's streams look slow next to it; one that did more, fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainStream, rawCiphertext } from '../../scripts/bench/core.js';

const collect = () => {
  const parts: Uint8Array[] = [];
  const sink = new WritableStream<Uint8Array>({ write: (chunk) => void parts.push(chunk.slice()) });
  const bytes = () => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) (out.set(p, at), (at += p.length));
    return out;
  };
  return { sink, bytes };
};

for (const [chunkSize, pieceSize, depth] of [
  [16384, 65536, 64],
  [16384, 5000, 3],
  [262144, 65536, 4],
  [262144, 1 << 20, 1],
] as const) {
  test(`plain-stream reference: ${chunkSize / 1024} KiB chunks from ${pieceSize}-byte pieces, depth ${depth}, gives the ceiling's ciphertext and plaintext`, async () => {
    const total = 2 * 1048576;
    const expected = await rawCiphertext(total, chunkSize);

    const enc = collect();
    await plainStream({ total, chunkSize, depth, pieceSize, op: 'encrypt', sink: enc.sink });
    assert.deepEqual(enc.bytes(), expected);

    const dec = collect();
    await plainStream({ total, chunkSize, depth, pieceSize, op: 'decrypt', sealed: expected, sink: dec.sink });
    const plaintext = dec.bytes();
    assert.equal(plaintext.length, total);
    const pattern = (i: number) => (i * 31 + (i >>> 11)) & 0xff; // scripts/bench/core.ts makePattern, 4 MiB period
    for (const i of [0, 1, 16383, 16384, 65537, 262143, 262144, total - 1]) assert.equal(plaintext[i], pattern(i % (4 * 1048576)), `byte ${i}`);
  });
}

test('plain-stream reference: a tampered chunk fails the decrypting run', async () => {
  const sealed = await rawCiphertext(1048576, 16384);
  sealed[16400 * 3 + 5]! ^= 1;
  await assert.rejects(plainStream({ total: 1048576, chunkSize: 16384, depth: 8, pieceSize: 65536, op: 'decrypt', sealed }));
});
