/**
 * `sealbox/workers`: a pool of dedicated Workers that seal and open chunks in batches, so the work
 * per chunk leaves the page's thread, and `encryptBlob`/`decryptBlob`, where the Workers read their
 * own slices of a Blob or File.
 *
 * One message per batch (1 MiB of chunks; 4 MiB read from a Blob); input and output buffers are transferred, never
 * copied. The worker script is `sealbox-worker.js` beside this module (dist/browser/ for the browser
 * bundle, dist/sdk/workers/ for bundlers, which find it through `new URL(…, import.meta.url)`), or
 * the URL given as `workerUrl`. It is a module worker, so a CSP with `worker-src 'self'` (no `blob:`,
 * no `eval`) runs it. Keys reach the Workers as the non-extractable AES-GCM `CryptoKey` and the base
 * nonce of the message, structured-cloned; the data key never does.
 *
 * @example
 * ```ts
 * import { SealboxWorkerPool, encryptBlob } from 'sealbox/workers';
 * const pool = new SealboxWorkerPool({ size: 2 });
 * const body = await encryptBlob(file, { keyring, workers: pool });
 * const plaintext = (await fetch(url)).body!.pipeThrough(new DecryptStream({ keyring, workers: pool }));
 * ```
 * @packageDocumentation
 */
export { SealboxWorkerPool, type SealboxWorkerPoolOptions } from './worker-pool.js';
export type { ChunkBatch, ChunkEngine, WorkerOptions } from '../payload/batching.js';
export { encryptBlob, decryptBlob, type EncryptBlobOptions, type DecryptBlobOptions, type DecryptedBlobStream } from './blob.js';
