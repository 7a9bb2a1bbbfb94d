/**
 * `sealbox/node`: Node-only speed-ups for the SDK (`sealbox`, `sealbox/storage`, the streams).
 *
 * @example
 * ```ts
 * import { useNodeCrypto } from 'sealbox/node';
 * useNodeCrypto(); // AES-GCM chunks through node:crypto, in this thread
 * ```
 * @packageDocumentation
 */
import { installAeadAccelerator } from '../../sdk/crypto/aes-gcm.js';
import { nodeAeadAccelerator } from './aes-gcm.js';

/**
 * Seals and opens the envelope's chunks with node:crypto, synchronously in the calling thread,
 * instead of WebCrypto's promise per chunk on libuv's thread pool: the same bytes, about 1.6× the
 * AES-GCM throughput per core and less CPU per byte, which is what an upload competing with other
 * work for the CPUs needs. Keys stay non-extractable CryptoKeys; a key node:crypto cannot take is
 * left to WebCrypto. `useNodeCrypto(false)` goes back to WebCrypto. The CLI turns it on.
 *
 * @example
 * ```ts
 * import { useNodeCrypto } from 'sealbox/node';
 * import { uploadEncrypted } from 'sealbox/storage';
 * useNodeCrypto();
 * await uploadEncrypted(file, { keyring, target });
 * ```
 */
export function useNodeCrypto(enabled = true): void {
  installAeadAccelerator(enabled ? nodeAeadAccelerator : undefined);
}
