/**
 * The worker_threads script of `NodeWorkerPool`: node:crypto's AES-GCM (synchronous, in this
 * thread) under the same batch handler the browser's Workers run, results transferred back.
 */
import { parentPort } from 'node:worker_threads';
import { installAeadAccelerator } from '../../sdk/crypto/aes-gcm.js';
import { type WorkerRequest, createBatchHandler } from '../../sdk/workers/batch-handler.js';
import { nodeAeadAccelerator } from '../crypto/aes-gcm.js';

if (parentPort) {
  const port = parentPort;
  installAeadAccelerator(nodeAeadAccelerator);
  const handle = createBatchHandler((reply, transfer) => port.postMessage(reply, transfer));
  port.on('message', (request: WorkerRequest) => handle(request));
}
