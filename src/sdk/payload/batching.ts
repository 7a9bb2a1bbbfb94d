/**
 * Where chunks are sealed and opened (the types and sizes; `resolveEngine` in ./engine.ts): in this thread (the default), or by an engine that takes them
 * in batches, such as `SealboxWorkerPool` (`sealbox/workers`), which runs them in dedicated Workers.
 * A batch is a run of consecutive chunks, `first` onwards, in one buffer that the engine owns (it
 * may transfer it); the result is the run's sealed (or opened) bytes in one buffer. Each chunk is a
 * pure function of the message keys, its index and its bytes, so the output is the same wherever a
 * batch runs.
 */
import { SealboxError } from '../errors.js';
import type { MessageKeys } from './cobblestone.js';

export interface ChunkBatch {
  op: 'seal' | 'open';
  keys: MessageKeys;
  chunkSize: number;
  /** Index of the batch's first chunk. */
  first: number;
  /**
   * Seal: plaintext, whole chunks unless `final`. Open: sealed chunks (chunkSize + 16 bytes each),
   * whole unless `final`, where the last one is the message's short final chunk (16 bytes or more).
   */
  data?: Uint8Array<ArrayBuffer>;
  /** Instead of `data`: the bytes `start`…`end` of a Blob, read by the engine itself. */
  blob?: { blob: Blob; start: number; end: number };
  /** The run ends the message (its last chunk is the final, short one). */
  final: boolean;
}

/** Something that seals and opens batches of chunks (the worker pool implements it). */
export interface ChunkEngine {
  run(batch: ChunkBatch): Promise<Uint8Array>;
  /** Workers in the engine; batches in flight are bounded by a multiple of it. */
  readonly size: number;
}

/** Options that pick the engine: `workers` and `workerUrl`. */
export interface WorkerOptions {
  /**
   * Seal/open chunks in dedicated Workers: a number of Workers, `'auto'` (one per core, 1 to 4), or a
   * shared `SealboxWorkerPool` from `sealbox/workers`. A number or `'auto'` starts Workers for this
   * operation and ends them after it. Where Workers are missing (workerd; Node unless
   * `useNodeWorkers()` from `sealbox/node` was called) or the keys are not WebCrypto keys, chunks
   * run in this thread as without the option; the bytes are the same.
   */
  workers?: number | 'auto' | ChunkEngine;
  /** Where the worker script is (default: `sealbox-worker.js` beside the `sealbox/workers` module). */
  workerUrl?: string | URL;
}

/** Bytes of plaintext per batch: 64 chunks of 16 KiB, 4 of 256 KiB, at least one chunk. */
export const WORKER_BATCH_BYTES = 1024 * 1024;

/**
 * Bytes per batch when the engine reads a Blob itself (`encryptBlob`, `decryptBlob`): 4 MiB. Each
 * batch is one Blob read and one message each way; in Chromium a batch costs milliseconds whatever
 * its size, and 4 MiB batches took the Worker engine from 165 to 222–236 MB/s there (8 MiB: no more).
 */
export const BLOB_BATCH_BYTES = 4 * 1024 * 1024;

export function batchChunks(chunkSize: number, batchBytes = WORKER_BATCH_BYTES): number {
  return Math.max(1, Math.floor(batchBytes / chunkSize));
}

/** Batches in flight per Worker: one being worked on, one queued behind it. */
export const BATCHES_PER_WORKER = 2;

export interface ResolvedEngine {
  engine: ChunkEngine;
  /** Ends Workers started for this operation (a shared pool is left running). */
  release(): void;
}

export function hasWorkers(): boolean {
  return typeof Worker === 'function' && typeof navigator !== 'undefined' && navigator.userAgent !== 'Cloudflare-Workers';
}

/** Starts an engine of threads of the runtime's own kind, for `workers: n | 'auto'` where the Web's Worker is missing. */
export type ThreadEngineFactory = (size: number | 'auto') => ChunkEngine & { terminate(): void };

let threadEngineFactory: ThreadEngineFactory | undefined;

/** Installs (or with `undefined` removes) the factory; `sealbox/node`'s `useNodeWorkers()` installs worker_threads'. */
export function installThreadEngine(factory: ThreadEngineFactory | undefined): void {
  threadEngineFactory = factory;
}

/** An engine of `size` threads started by the installed factory, or undefined (then chunks run in this thread). */
export function startThreadEngine(size: number | 'auto'): ResolvedEngine | undefined {
  if (!threadEngineFactory) return undefined;
  const engine = threadEngineFactory(size);
  return { engine, release: () => engine.terminate() };
}

export function checkWorkerOptions(options: WorkerOptions | undefined): void {
  const workers = options?.workers;
  if (workers === undefined || workers === 'auto' || (typeof workers === 'object' && workers !== null && typeof workers.run === 'function')) return;
  if (!(Number.isSafeInteger(workers) && (workers as number) >= 0)) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', "workers must be a positive integer, 'auto' or a SealboxWorkerPool");
  }
}
