/** The Worker pool itself; `sealbox/workers` (./pool.ts) exports it. */
import { SealboxError } from '../errors.js';
import type { WorkerReply } from './batch-handler.js';
import { type WorkerEvents, type WorkerHandle, WorkerDispatcher } from './dispatcher.js';

export interface SealboxWorkerPoolOptions {
  /** Workers to start: a number, or `'auto'` (the cores the browser reports, 1 to 4). Default `'auto'`. */
  size?: number | 'auto';
  /** The worker script's URL, for apps that serve it themselves. */
  workerUrl?: string | URL;
}

function autoSize(): number {
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 2;
  return Math.max(1, Math.min(4, cores));
}

function startWorker(url: string | URL, events: WorkerEvents): WorkerHandle {
  const worker = new Worker(url, { type: 'module', name: 'sealbox' });
  worker.onmessage = (event: MessageEvent<WorkerReply>) => events.reply(event.data);
  worker.onerror = (event) => {
    event.preventDefault?.();
    events.fail(`the Sealbox worker failed to load or crashed: ${event.message || 'no details'} (is workerUrl right, and does the CSP allow it as worker-src?)`);
  };
  worker.onmessageerror = () => events.fail('a message from the Sealbox worker could not be read');
  return { post: (request, transfer) => worker.postMessage(request, transfer), terminate: () => worker.terminate() };
}

/**
 * Dedicated Workers that seal and open batches of chunks. Pass one as `workers` to `EncryptStream`,
 * `DecryptStream`, `encrypt`, `decrypt`, `encryptBlob`, `decryptBlob`; several streams may share it.
 * A batch goes to the Worker with the fewest batches in hand. `terminate()` ends the Workers; batches
 * still in flight then fail with ERR_ABORTED. In Node, `NodeWorkerPool` from `sealbox/node` is the
 * same engine on worker_threads.
 */
export class SealboxWorkerPool extends WorkerDispatcher {
  constructor(options: SealboxWorkerPoolOptions = {}) {
    if (typeof Worker !== 'function') throw new SealboxError('ERR_UNSUPPORTED', 'this runtime has no Worker: leave `workers` unset to run in this thread');
    const url = options.workerUrl ?? new URL('./sealbox-worker.js', import.meta.url);
    super(options.size === undefined || options.size === 'auto' ? autoSize() : options.size, (events) => startWorker(url, events));
  }
}
