/**
 * How an envelope is cut into S3 multipart parts. Every part holds whole Cobblestone chunks, the
 * same number in each (`partChunks`); part 1 also starts with the head (envelope header, salt and
 * commitment), and the last part holds what is left, ending with the short final chunk. Chunk k
 * goes to part ⌊k / partChunks⌋ + 1, so the layout is a pure function of the chunk size, the part
 * size and the plaintext length: a resumed upload cuts the message exactly as the first attempt did.
 *
 * S3's rules: parts 1 … 10,000; every part but the last at least 5 MiB, none over 5 GiB; an object
 * at most 5 TiB.
 */
import { SealboxError } from '../errors.js';
import { TAG_BYTES } from '../payload/cobblestone.js';

export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;
export const MAX_OBJECT_BYTES = 5 * 1024 ** 4;
/** The default plaintext bytes per part (S3's minimum is 5 MiB). */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/**
 * Chunks per part for a `partSize` (plaintext bytes per part, at least 5 MiB): enough that each
 * part holds at least `partSize` bytes, and, when the plaintext length is known, enough that the
 * message fits in 10,000 parts (the part size grows for large inputs). ERR_LIMIT when the message
 * cannot fit S3's limits at all.
 */
export function partChunksFor(chunkSize: number, partSize: number = DEFAULT_PART_SIZE, plaintextLength?: number): number {
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_BYTES || partSize > MAX_PART_BYTES - 65_536) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', `partSize must be an integer from ${MIN_PART_BYTES} (5 MiB, S3's minimum) to 5 GiB`);
  }
  let chunks = Math.ceil(partSize / chunkSize);
  if (plaintextLength !== undefined) {
    if (!Number.isSafeInteger(plaintextLength) || plaintextLength < 0) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'size must be a non-negative safe integer');
    }
    chunks = Math.max(chunks, Math.ceil(chunkCount(plaintextLength, chunkSize) / MAX_PARTS));
    const objectBytes = plaintextLength + chunkCount(plaintextLength, chunkSize) * TAG_BYTES;
    if (objectBytes > MAX_OBJECT_BYTES || chunks * (chunkSize + TAG_BYTES) > MAX_PART_BYTES - 65_536) {
      throw new SealboxError('ERR_LIMIT', `a ${plaintextLength}-byte message is larger than an S3 object may be (5 TiB)`);
    }
  }
  return chunks;
}

/** Chunks in a message of `plaintextLength` bytes, the short final one included. */
export function chunkCount(plaintextLength: number, chunkSize: number): number {
  return Math.floor(plaintextLength / chunkSize) + 1;
}

/** Parts of a message of `plaintextLength` bytes. */
export function partCount(plaintextLength: number, chunkSize: number, partChunks: number): number {
  return Math.ceil(chunkCount(plaintextLength, chunkSize) / partChunks);
}

/** The plaintext bytes part `partNumber` (from 1) covers: [start, end) of the message, clipped to its length when known. */
export function partPlaintextRange(partNumber: number, chunkSize: number, partChunks: number, plaintextLength = Infinity): { start: number; end: number } {
  const bytes = partChunks * chunkSize;
  const start = Math.min((partNumber - 1) * bytes, plaintextLength);
  return { start, end: Math.min(start + bytes, plaintextLength) };
}

/** The bytes part `partNumber` holds in S3, for a message of `plaintextLength` bytes and a head of `headLength`. */
export function partByteLength(partNumber: number, plaintextLength: number, chunkSize: number, partChunks: number, headLength: number): number {
  const parts = partCount(plaintextLength, chunkSize, partChunks);
  const { start, end } = partPlaintextRange(partNumber, chunkSize, partChunks, plaintextLength);
  const last = partNumber === parts;
  const chunks = last ? chunkCount(plaintextLength, chunkSize) - (partNumber - 1) * partChunks : partChunks;
  return (partNumber === 1 ? headLength : 0) + (end - start) + chunks * TAG_BYTES;
}
