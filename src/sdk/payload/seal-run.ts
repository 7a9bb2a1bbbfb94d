/**
 * Seals a run of consecutive chunks, chunk `first` onwards, into a buffer: the building block for
 * writers that produce the ciphertext out of order (multipart uploads, resumed uploads). Each chunk
 * is a pure function of the keys, its index and its plaintext, so the bytes are the ones `encrypt`
 * and `EncryptStream` put at the same offsets.
 */
import { SealboxError } from '../errors.js';
import { BATCHES_PER_WORKER, BLOB_BATCH_BYTES, type ChunkEngine, WORKER_BATCH_BYTES, batchChunks } from './batching.js';
import { readBlobRange } from './batch.js';
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

/** A run's plaintext: bytes, or a range of a Blob that an engine's Workers read themselves. */
export type RunPlaintext = Uint8Array | { blob: Blob; start: number; end: number };

/**
 * Seals `plaintext` as chunks `first`, `first + 1`, … into `out` from `offset`. Unless `final`,
 * the plaintext must be whole chunks; with `final`, the run ends with the message's final chunk
 * (shorter than `chunkSize`, possibly empty). `out` needs `sealedRunLength(…)` bytes from `offset`.
 * With an `engine` (Workers), the chunks go to it in batches, a few in flight per Worker; a Blob
 * range then never passes through this thread (each Worker reads its batch's slice).
 */
export async function sealRun(
  keys: MessageKeys,
  chunkSize: number,
  first: number,
  source: RunPlaintext,
  final: boolean,
  out: Uint8Array,
  offset: number,
  engine?: ChunkEngine,
): Promise<void> {
  const length = source instanceof Uint8Array ? source.length : source.end - source.start;
  if (!final && length % chunkSize !== 0) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'a run of chunks that does not end the message must be whole chunks');
  }
  const count = runChunkCount(length, chunkSize, final);
  if (offset + sealedRunLength(length, chunkSize, final) > out.length) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'the output buffer is too small for the sealed chunks');
  }
  if (engine) return sealBatches(engine, keys, chunkSize, first, source, length, final, out, offset, count);
  const plaintext = source instanceof Uint8Array ? source : await readBlobRange(source);
  await forEachIndex(count, chunksInFlight(chunkSize), async (i) => {
    const start = i * chunkSize;
    const sealed = await sealChunk(keys, first + i, plaintext.subarray(start, Math.min(start + chunkSize, plaintext.length)));
    out.set(sealed, offset + i * (chunkSize + TAG_BYTES));
  });
}

/** `sealRun` through an engine: the run cut into batches of whole chunks (the last may end the message). */
async function sealBatches(
  engine: ChunkEngine,
  keys: MessageKeys,
  chunkSize: number,
  first: number,
  source: RunPlaintext,
  length: number,
  final: boolean,
  out: Uint8Array,
  offset: number,
  count: number,
): Promise<void> {
  const sealed = chunkSize + TAG_BYTES;
  // A Blob range goes in the larger batches the Workers read best (BLOB_BATCH_BYTES).
  const perBatch = batchChunks(chunkSize, source instanceof Uint8Array ? WORKER_BATCH_BYTES : BLOB_BATCH_BYTES);
  const batches = Math.ceil(count / perBatch);
  await forEachIndex(batches, Math.max(2, engine.size * BATCHES_PER_WORKER), async (b) => {
    const last = b === batches - 1;
    const start = b * perBatch * chunkSize;
    const end = last ? length : start + perBatch * chunkSize;
    const batch = { op: 'seal' as const, keys, chunkSize, first: first + b * perBatch, final: final && last };
    let result: Uint8Array;
    if (source instanceof Uint8Array) {
      // A copy the engine owns (it may transfer it), with room for the tags so it can seal in place.
      const data = new Uint8Array(new ArrayBuffer((perBatch + 1) * sealed), 0, end - start);
      data.set(source.subarray(start, end));
      result = await engine.run({ ...batch, data });
    } else {
      result = await engine.run({ ...batch, blob: { blob: source.blob, start: source.start + start, end: source.start + end } });
    }
    out.set(result, offset + b * perBatch * sealed);
  });
}
