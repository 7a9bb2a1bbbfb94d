/** Picks the engine for an operation: none (in-thread), a shared one, or a pool started for it. */
import { SealboxError } from '../errors.js';
import type { MessageKeys } from './cobblestone.js';
import { type ResolvedEngine, type WorkerOptions, hasWorkers, startThreadEngine } from './batching.js';

export type { ChunkBatch, ChunkEngine, ResolvedEngine, ThreadEngineFactory, WorkerOptions } from './batching.js';
export { BATCHES_PER_WORKER, WORKER_BATCH_BYTES, batchChunks, installThreadEngine } from './batching.js';

/** The engine the options ask for, or undefined for the in-thread path. */
export async function resolveEngine(options: WorkerOptions | undefined, keys?: MessageKeys): Promise<ResolvedEngine | undefined> {
  const workers = options?.workers;
  if (workers === undefined || workers === 0) return undefined;
  if (keys && !('subtle' in keys.aead)) return undefined;
  if (typeof workers === 'object' && workers !== null && typeof workers.run === 'function') return { engine: workers, release() {} };
  if (workers !== 'auto' && !(Number.isSafeInteger(workers) && (workers as number) > 0)) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', "workers must be a positive integer, 'auto' or a SealboxWorkerPool");
  }
  if (!hasWorkers()) return startThreadEngine(workers === 'auto' ? 'auto' : (workers as number));
  // The whole module, not one name: so the lazy chunk keeps every export of sealbox/workers.
  const workersModule: typeof import('../workers/pool.js') = await import('../workers/pool.js').then((module) => module);
  const { SealboxWorkerPool } = workersModule;
  const pool = new SealboxWorkerPool({ size: workers === 'auto' ? 'auto' : (workers as number), ...(options?.workerUrl ? { workerUrl: options.workerUrl } : {}) });
  return { engine: pool, release: () => pool.terminate() };
}

