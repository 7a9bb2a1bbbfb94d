// How stream outputs reach the readable side: joined where crypto settles inline, else as they come.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EncryptStream, RawAesKeyring } from '../../../src/index.js';
import { JoiningOutput, OUTPUT_JOIN_BYTES, chunkOutput, joinsOutputs } from '../../../src/sdk/stream/output.js';

test('JoiningOutput joins outputs under 64 KiB into one piece, in order, and passes large ones through', () => {
  const out: Uint8Array[] = [];
  const joining = new JoiningOutput((bytes) => out.push(bytes));
  const sealed = Array.from({ length: 5 }, (_, i) => new Uint8Array(16400).fill(i + 1));
  for (const part of sealed) joining.push(part);
  assert.equal(out.length, 1, 'four 16400-byte outputs make one piece of 65600');
  assert.equal(out[0]!.length, 4 * 16400);
  assert.deepEqual([out[0]![0], out[0]![16400], out[0]![3 * 16400]], [1, 2, 4]);
  joining.flush();
  assert.equal(out.length, 2);
  assert.equal(out[1], sealed[4], 'a lone held output is enqueued as it is, not copied');
  const large = new Uint8Array(OUTPUT_JOIN_BYTES + 16);
  joining.push(large);
  assert.equal(out[2], large);
  joining.push(new Uint8Array(10));
  joining.clear();
  joining.flush();
  assert.equal(out.length, 3, 'clear drops what was held');
});

test('outputs are joined in Cloudflare Workers only (by their user agent)', (t) => {
  assert.equal(joinsOutputs(), false);
  assert.ok(!(chunkOutput(() => {}) instanceof JoiningOutput));
  const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'Cloudflare-Workers' }, configurable: true, writable: true });
  t.after(() => {
    if (before) Object.defineProperty(globalThis, 'navigator', before);
    else delete (globalThis as { navigator?: unknown }).navigator;
  });
  assert.equal(joinsOutputs(), true);
  assert.ok(chunkOutput(() => {}) instanceof JoiningOutput);
});

test('EncryptStream in Node: one enqueue per 16 KiB chunk, the same bytes as ever', async () => {
  const keyring = new RawAesKeyring({ keyName: 'k', key: new Uint8Array(32).fill(3) });
  const pieces: number[] = [];
  const plaintext = new Uint8Array(5 * 16384 + 100).fill(9);
  await new Blob([plaintext]).stream().pipeThrough(new EncryptStream({ keyring })).pipeTo(new WritableStream({ write: (piece) => void pieces.push(piece.length) }));
  // The header, then 5 full chunks (16384 + 16) and the final one (100 + 16).
  assert.deepEqual(pieces.slice(1), [16400, 16400, 16400, 16400, 16400, 116]);
});
