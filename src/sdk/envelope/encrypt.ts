import { SealboxError } from '../errors.js';
import { isBytes } from '../crypto/bytes.js';
import { COBBLESTONE_HEADER_BYTES, TAG_BYTES, ciphertextLength, sealChunk } from '../payload/cobblestone.js';
import { chunksInFlight, forEachIndex } from '../payload/parallel.js';
import { runBatches } from '../payload/batches.js';
import { resolveEngine } from '../payload/engine.js';
import { type EncryptOptions, startEncryption } from './session.js';

/**
 * Encrypts a whole message in memory. For large inputs use `EncryptStream`.
 *
 * @example
 * ```ts
 * const envelope = await encrypt(new TextEncoder().encode('hello'), { keyring, context: { tenant: 'acme' } });
 * ```
 */
export async function encrypt(plaintext: Uint8Array, options: EncryptOptions): Promise<Uint8Array> {
  if (!isBytes(plaintext)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'encrypt expects the plaintext as a Uint8Array');
  const session = await startEncryption({ ...options, plaintextLength: plaintext.length });
  const { chunkSize, keys, head } = session;
  const base = head.length - COBBLESTONE_HEADER_BYTES;
  const out = new Uint8Array(base + ciphertextLength(plaintext.length, chunkSize));
  out.set(head, 0);
  const chunkCount = Math.floor(plaintext.length / chunkSize) + 1;
  const engine = await resolveEngine(options, keys);
  if (engine) {
    try {
      await runBatches(engine.engine, 'seal', keys, chunkSize, plaintext, out.subarray(head.length));
    } finally {
      engine.release();
    }
    return out;
  }
  await forEachIndex(chunkCount, chunksInFlight(chunkSize), async (index) => {
    const start = index * chunkSize;
    const sealed = await sealChunk(keys, index, plaintext.subarray(start, Math.min(start + chunkSize, plaintext.length)));
    out.set(sealed, head.length + index * (chunkSize + TAG_BYTES));
  });
  return out;
}
