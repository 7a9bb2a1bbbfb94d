/**
 * Cobblestone-256: C2SP chunked-encryption v1 instantiated with HKDF-Expand-SHA-512 and
 * AEAD_AES_256_GCM (https://c2sp.org/chunked-encryption).
 *
 *   key ‖ base nonce ‖ commitment = HKDF-Expand(input key,
 *       "c2sp.org/chunked-encryption@v1+" ‖ "AEAD_AES_256_GCM" ‖ 0x00 ‖ salt ‖ context)
 *   ciphertext = salt (24) ‖ commitment (32) ‖ AEAD(chunk 0) ‖ … ‖ AEAD(final chunk)
 *
 * Chunks are `chunkSize` bytes (16 KiB in the standard), the final one always shorter, possibly
 * empty. Chunk k's nonce is the base nonce XOR k as a big-endian 38-bit integer; the AAD is empty.
 * Sealbox allows larger power-of-two chunk sizes with the same construction; the size is bound
 * into the context by the envelope's protected header.
 *
 * This module is the one chunk implementation: one-shot encrypt/decrypt, the streams and ranged
 * decryption all call it.
 */
import { SealboxError } from '../errors.js';
import { type AeadKey, GCM_TAG_BYTES, aesGcmOpenOrReject, aesGcmSeal, importAeadKey } from '../crypto/aes-gcm.js';
import { equalBytesConstantTime, utf8Encode, wipe } from '../crypto/bytes.js';
import { type PrkInput, hkdfExpandSha512 } from '../crypto/hkdf.js';

export const SALT_BYTES = 24;
export const COMMITMENT_BYTES = 32;
export const TAG_BYTES = GCM_TAG_BYTES;
/** Salt and commitment, before the first chunk. */
export const COBBLESTONE_HEADER_BYTES = SALT_BYTES + COMMITMENT_BYTES;
export const STANDARD_CHUNK_SIZE = 16384;
/** The chunk counter is 38 bits wide. */
export const MAX_CHUNK_COUNT = 2 ** 38;
export const INPUT_KEY_BYTES = 32;

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const INFO_PREFIX = utf8Encode('c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM\u0000');

export interface MessageKeys {
  readonly aead: AeadKey;
  readonly baseNonce: Uint8Array;
  readonly commitment: Uint8Array;
}

/** Derives the per-message AEAD key, base nonce and commitment from the data key, salt and context. */
export async function deriveMessageKeys(inputKey: PrkInput, salt: Uint8Array, context: Uint8Array): Promise<MessageKeys> {
  checkInputKey(inputKey);
  if (salt.length !== SALT_BYTES) throw new SealboxError('ERR_INVALID_ARGUMENT', `the salt is ${SALT_BYTES} bytes, not ${salt.length}`);
  const info = new Uint8Array(INFO_PREFIX.length + SALT_BYTES + context.length);
  info.set(INFO_PREFIX, 0);
  info.set(salt, INFO_PREFIX.length);
  info.set(context, INFO_PREFIX.length + SALT_BYTES);
  const okm = await hkdfExpandSha512(inputKey, info, KEY_BYTES + NONCE_BYTES + COMMITMENT_BYTES);
  try {
    return {
      aead: await importAeadKey(okm.subarray(0, KEY_BYTES)),
      baseNonce: okm.slice(KEY_BYTES, KEY_BYTES + NONCE_BYTES),
      commitment: okm.slice(KEY_BYTES + NONCE_BYTES),
    };
  } finally {
    wipe(okm);
  }
}

function checkInputKey(inputKey: PrkInput): void {
  if (inputKey instanceof Uint8Array) {
    if (inputKey.length !== INPUT_KEY_BYTES) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', `the data key is ${INPUT_KEY_BYTES} bytes, not ${inputKey.length}`);
    }
    return;
  }
  const algorithm = inputKey.algorithm as Partial<HmacKeyAlgorithm>;
  if (algorithm.name !== 'HMAC' || algorithm.hash?.name !== 'SHA-512' || algorithm.length !== INPUT_KEY_BYTES * 8) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'a data key CryptoKey must be a 256-bit HMAC SHA-512 key');
  }
}

/** Fails with ERR_COMMITMENT unless the stored commitment equals the derived one (constant time). */
export function checkCommitment(keys: MessageKeys, stored: Uint8Array): void {
  if (!equalBytesConstantTime(keys.commitment, stored)) {
    throw new SealboxError(
      'ERR_COMMITMENT',
      'the key commitment does not match: wrong data key, or the protected header or salt was changed',
    );
  }
}

export function chunkNonce(baseNonce: Uint8Array, index: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_CHUNK_COUNT) {
    throw new SealboxError('ERR_LIMIT', `chunk index ${index} is outside the 38-bit counter`);
  }
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce.set(baseNonce);
  // The low 32 bits, then the 6 bits above them.
  const low = index % 2 ** 32;
  const high = Math.floor(index / 2 ** 32);
  nonce[7]! ^= high & 0x3f;
  nonce[8]! ^= low >>> 24;
  nonce[9]! ^= (low >>> 16) & 0xff;
  nonce[10]! ^= (low >>> 8) & 0xff;
  nonce[11]! ^= low & 0xff;
  return nonce;
}

export function sealChunk(keys: MessageKeys, index: number, plaintext: Uint8Array): Promise<Uint8Array> {
  return aesGcmSeal(keys.aead, chunkNonce(keys.baseNonce, index), plaintext);
}

/** Decrypts chunk `index`; ERR_TAMPERED when it does not authenticate at that index. */
export function openChunk(keys: MessageKeys, index: number, sealed: Uint8Array): Promise<Uint8Array> {
  let nonce: Uint8Array;
  try {
    nonce = chunkNonce(keys.baseNonce, index);
  } catch (error) {
    return Promise.reject(error);
  }
  return aesGcmOpenOrReject(
    keys.aead,
    nonce,
    sealed,
    () =>
      new SealboxError(
        'ERR_TAMPERED',
        `chunk ${index} failed authentication: the ciphertext was modified, or chunks were reordered, duplicated or dropped`,
      ),
  );
}

/** Where chunk k starts, counted from the start of the Cobblestone ciphertext (the salt). */
export function chunkOffset(index: number, chunkSize: number): number {
  return COBBLESTONE_HEADER_BYTES + index * (chunkSize + TAG_BYTES);
}

/** Total Cobblestone ciphertext length for a plaintext of `plaintextLength` bytes. */
export function ciphertextLength(plaintextLength: number, chunkSize: number): number {
  const fullChunks = Math.floor(plaintextLength / chunkSize);
  return chunkOffset(fullChunks, chunkSize) + (plaintextLength - fullChunks * chunkSize) + TAG_BYTES;
}

export interface CiphertextLayout {
  /** Number of chunks, the final short one included. */
  chunkCount: number;
  plaintextLength: number;
  /** Plaintext bytes in the final chunk (0 ≤ n < chunkSize). */
  finalChunkLength: number;
}

/**
 * Works out the chunking from the ciphertext length alone. A length that ends on a whole sealed
 * chunk, or inside the last tag, is truncated: the final chunk must be shorter than a full one.
 */
export function layoutFromCiphertextLength(length: number, chunkSize: number): CiphertextLayout {
  if (length < COBBLESTONE_HEADER_BYTES + TAG_BYTES) {
    throw new SealboxError('ERR_TRUNCATED', 'the ciphertext is too short to hold the salt, the commitment and a final chunk');
  }
  const sealed = chunkSize + TAG_BYTES;
  const body = length - COBBLESTONE_HEADER_BYTES;
  const fullChunks = Math.floor(body / sealed);
  const rest = body - fullChunks * sealed;
  if (rest < TAG_BYTES) {
    throw new SealboxError('ERR_TRUNCATED', 'the ciphertext ends without its short final chunk: it was truncated');
  }
  if (fullChunks + 1 > MAX_CHUNK_COUNT) throw new SealboxError('ERR_LIMIT', 'the ciphertext has more chunks than the 38-bit counter allows');
  const finalChunkLength = rest - TAG_BYTES;
  return { chunkCount: fullChunks + 1, plaintextLength: fullChunks * chunkSize + finalChunkLength, finalChunkLength };
}
