/**
 * The worker script of `SealboxWorkerPool` (shipped as dist/browser/sealbox-worker.js, a module
 * worker): answers the batches the pool posts (./batch-handler.ts), each result's buffer
 * transferred back.
 */
import { type WorkerReply, type WorkerRequest, createBatchHandler } from './batch-handler.js';

interface WorkerScope {
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
const handle = createBatchHandler((reply, transfer) => scope.postMessage(reply, transfer));

// A call, not an assignment: bundlers keep it under the package's "sideEffects": false.
scope.addEventListener('message', (event) => handle(event.data));
