import { SealboxError } from '../errors.js';
import { isBytes } from '../crypto/bytes.js';
import { resolveLimits } from '../format/constants.js';
import { type EncryptionContext, type HeaderInfo, headerInfo, parseEnvelopeHeader } from '../format/header.js';
import { COBBLESTONE_HEADER_BYTES, TAG_BYTES, layoutFromCiphertextLength, openChunk } from '../payload/cobblestone.js';
import { chunksInFlight, forEachIndex } from '../payload/parallel.js';
import { runBatches } from '../payload/batches.js';
import { resolveEngine } from '../payload/engine.js';
import { type DecryptOptions, startDecryption } from './session.js';

/**
 * What `decrypt` gives: the plaintext, the envelope's encryption context and its header.
 *
 * @example
 * ```ts
 * const { plaintext, context, header } = await decrypt(envelope, { keyring });
 * console.log(header.recipients.length, context.tenant);
 * ```
 */
export interface DecryptResult {
  plaintext: Uint8Array;
  context: EncryptionContext;
  header: HeaderInfo;
}

/**
 * Decrypts a whole envelope in memory. Every chunk is authenticated before any plaintext is
 * returned: on any failure the caller gets an error and no bytes.
 *
 * @example
 * ```ts
 * const { plaintext, context } = await decrypt(envelope, { keyring, expectContext: { tenant: 'acme' } });
 * ```
 */
export async function decrypt(envelope: Uint8Array, options: DecryptOptions): Promise<DecryptResult> {
  if (!isBytes(envelope)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'decrypt expects the envelope as a Uint8Array');
  const parsed = parseEnvelopeHeader(envelope, resolveLimits(options?.limits));
  const body = envelope.subarray(parsed.headerLength);
  const { chunkSize } = parsed.protected;
  const layout = layoutFromCiphertextLength(body.length, chunkSize);
  const keys = await startDecryption(parsed, body.subarray(0, COBBLESTONE_HEADER_BYTES), options);

  const plaintext = new Uint8Array(layout.plaintextLength);
  const sealedSize = chunkSize + TAG_BYTES;
  const engine = await resolveEngine(options, keys);
  const work = engine
    ? runBatches(engine.engine, 'open', keys, chunkSize, body.subarray(COBBLESTONE_HEADER_BYTES), plaintext).finally(() => engine.release())
    : forEachIndex(layout.chunkCount, chunksInFlight(chunkSize), async (index) => {
    const start = COBBLESTONE_HEADER_BYTES + index * sealedSize;
    const end = index === layout.chunkCount - 1 ? body.length : start + sealedSize;
    plaintext.set(await openChunk(keys, index, body.subarray(start, end)), index * chunkSize);
  });
  await work.catch((error: unknown) => {
    plaintext.fill(0);
    throw error;
  });
  return { plaintext, context: { ...parsed.protected.context }, header: headerInfo(parsed) };
}
