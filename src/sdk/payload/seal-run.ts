/**
 * Seals a run of consecutive chunks, chunk `first` onwards, into a buffer: the building block for
 * writers that produce the ciphertext out of order (multipart uploads, resumed uploads). Each chunk
 * is a pure function of the keys, its index and its plaintext, so the bytes are the ones `encrypt`
 * and `EncryptStream` put at the same offsets.
 */
import { SealboxError } from '../errors.js';
import { BATCHES_PER_WORKER, type ChunkEngine, batchChunks } from './batching.js';
import { type MessageKeys, TAG_BYTES, sealChunk } from './cobblestone.js';
import { chunksInFlight, forEachIndex } from './parallel.js';

/** Sealed length of `plaintextLength` bytes cut into chunks (`final`: the last one is the message's short final chunk). */
export function sealedRunLength(plaintextLength: number, chunkSize: number, final: boolean): number {
  return plaintextLength + runChunkCount(plaintextLength, chunkSize, final) * TAG_BYTES;
}

/** How many chunks `plaintextLength` bytes make: whole chunks, plus the short final one when `final`. */
export function runChunkCount(plaintextLength: number, chunkSize: number, final: boolean): number {
  return Math.floor(plaintextLength / chunkSize) + (final ? 1 : 0);
}

/**
 * Seals `plaintext` as chunks `first`, `first + 1`, … into `out` from `offset`. Unless `final`,
 * the plaintext must be whole chunks; with `final`, the run ends with the message's final chunk
 * (shorter than `chunkSize`, possibly empty). `out` needs `sealedRunLength(…)` bytes from `offset`.
 * With an `engine` (Workers), the chunks go to it in batches, a few in flight per Worker.
 */
export async function sealRun(
  keys: MessageKeys,
  chunkSize: number,
  first: number,
  plaintext: Uint8Array,
  final: boolean,
  out: Uint8Array,
  offset: number,
  engine?: ChunkEngine,
): Promise<void> {
  if (!final && plaintext.length % chunkSize !== 0) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'a run of chunks that does not end the message must be whole chunks');
  }
  const count = runChunkCount(plaintext.length, chunkSize, final);
  if (offset + sealedRunLength(plaintext.length, chunkSize, final) > out.length) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'the output buffer is too small for the sealed chunks');
  }
  if (engine) return sealBatches(engine, keys, chunkSize, first, plaintext, final, out, offset, count);
  await forEachIndex(count, chunksInFlight(chunkSize), async (i) => {
    const start = i * chunkSize;
    const sealed = await sealChunk(keys, first + i, plaintext.subarray(start, Math.min(start + chunkSize, plaintext.length)));
    out.set(sealed, offset + i * (chunkSize + TAG_BYTES));
  });
}

/** `sealRun` through an engine: the run cut into batches of whole chunks (the last may end the message). */
async function sealBatches(engine: ChunkEngine, keys: MessageKeys, chunkSize: number, first: number, plaintext: Uint8Array, final: boolean, out: Uint8Array, offset: number, count: number): Promise<void> {
  const sealed = chunkSize + TAG_BYTES;
  const perBatch = batchChunks(chunkSize);
  const batches = Math.ceil(count / perBatch);
  await forEachIndex(batches, Math.max(2, engine.size * BATCHES_PER_WORKER), async (b) => {
    const last = b === batches - 1;
    const start = b * perBatch * chunkSize;
    const end = last ? plaintext.length : start + perBatch * chunkSize;
    // A copy the engine owns (it may transfer it), with room for the tags so it can seal in place.
    const data = new Uint8Array(new ArrayBuffer((perBatch + 1) * sealed), 0, end - start);
    data.set(plaintext.subarray(start, end));
    const result = await engine.run({ op: 'seal', keys, chunkSize, first: first + b * perBatch, data, final: final && last });
    out.set(result, offset + b * perBatch * sealed);
  });
}
