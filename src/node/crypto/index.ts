/**
 * `sealbox/node`: Node-only speed-ups for the SDK (`sealbox`, `sealbox/storage`, the streams):
 * node:crypto's AES-GCM in the calling thread, and the Worker engine on worker_threads.
 *
 * @example
 * ```ts
 * import { useNodeCrypto, useNodeWorkers } from 'sealbox/node';
 * useNodeCrypto(); // AES-GCM chunks through node:crypto, in this thread
 * useNodeWorkers(); // `workers: n | 'auto'` seals and opens on worker_threads
 * ```
 * @packageDocumentation
 */
import { installAeadAccelerator } from '../../sdk/crypto/aes-gcm.js';
import { installThreadEngine } from '../../sdk/payload/engine.js';
import { NodeWorkerPool } from '../workers/pool.js';
import { nodeAeadAccelerator } from './aes-gcm.js';

export { NodeWorkerPool, type NodeWorkerPoolOptions } from '../workers/pool.js';

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

/**
 * Makes `workers: n` and `workers: 'auto'` work in Node as they do in browsers, Deno and Bun: the
 * operation starts a `NodeWorkerPool` of that many worker_threads (`'auto'`: one per core, 1 to 4),
 * seals or opens its chunks there in 1 MiB batches with node:crypto, and ends the pool after it.
 * Without it Node has no Worker and `workers` runs in the calling thread. It pays where the calling
 * thread has other work, such as an upload's HTTP (`uploadEncrypted`); a long-lived app would
 * rather share one `NodeWorkerPool`. `useNodeWorkers(false)` removes it. The CLI turns it on.
 *
 * @example
 * ```ts
 * import { useNodeCrypto, useNodeWorkers } from 'sealbox/node';
 * import { uploadEncrypted } from 'sealbox/storage';
 * useNodeCrypto();
 * useNodeWorkers();
 * await uploadEncrypted(file, { keyring, target, workers: 'auto' });
 * ```
 */
export function useNodeWorkers(enabled = true): void {
  installThreadEngine(enabled ? (size) => new NodeWorkerPool({ size }) : undefined);
}
