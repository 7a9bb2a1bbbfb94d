/**
 * Seals a run of consecutive chunks, chunk `first` onwards, into a buffer: the building block for
 * writers that produce the ciphertext out of order (multipart uploads, resumed uploads). Each chunk
 * is a pure function of the keys, its index and its plaintext, so the bytes are the ones `encrypt`
 * and `EncryptStream` put at the same offsets.
 */
import { SealboxError } from '../errors.js';
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
 */
export async function sealRun(
  keys: MessageKeys,
  chunkSize: number,
  first: number,
  plaintext: Uint8Array,
  final: boolean,
  out: Uint8Array,
  offset: number,
): Promise<void> {
  if (!final && plaintext.length % chunkSize !== 0) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'a run of chunks that does not end the message must be whole chunks');
  }
  const count = runChunkCount(plaintext.length, chunkSize, final);
  if (offset + sealedRunLength(plaintext.length, chunkSize, final) > out.length) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'the output buffer is too small for the sealed chunks');
  }
  await forEachIndex(count, chunksInFlight(chunkSize), async (i) => {
    const start = i * chunkSize;
    const sealed = await sealChunk(keys, first + i, plaintext.subarray(start, Math.min(start + chunkSize, plaintext.length)));
    out.set(sealed, offset + i * (chunkSize + TAG_BYTES));
  });
}
