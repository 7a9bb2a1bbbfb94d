/**
 * `NodeWorkerPool`: the SDK's Worker engine on node:worker_threads, for Node, which has no Web
 * `Worker`. Each thread seals and opens its batches with node:crypto; keys cross as non-extractable
 * CryptoKeys (structured-cloned), buffers are transferred. An idle pool does not hold the process
 * open, so a forgotten `terminate()` does not hang a CLI.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { WorkerReply } from '../../sdk/workers/batch-handler.js';
import { type WorkerEvents, type WorkerHandle, WorkerDispatcher } from '../../sdk/workers/dispatcher.js';

export interface NodeWorkerPoolOptions {
  /** Threads to start: a number, or `'auto'` (one per core, 1 to 4). Default `'auto'`. */
  size?: number | 'auto';
}

/**
 * The thread's script, chunk-worker.js beside this module. When the TypeScript sources run under
 * tsx (the test suite, the benches), the thread gets no loader of its own (tsx does not register
 * itself in worker_threads), so a one-line module registers it first and then imports the .ts file.
 */
function newThread(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./chunk-worker.js', import.meta.url), { name: 'sealbox', execArgv: threadExecArgv() });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const script = JSON.stringify(new URL('./chunk-worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${script}); })`, { eval: true, name: 'sealbox' });
}

/**
 * The process's Node flags minus those about its own entry point: a thread inherits execArgv, and
 * `node --input-type=module -e …` (a script run that way) would make every thread fail to start.
 */
export function threadExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '-e' || flag === '--eval' || flag === '-p' || flag === '--print' || flag === '--input-type') i++;
    else if (!flag.startsWith('--input-type=') && !flag.startsWith('--eval=') && !flag.startsWith('--print=')) kept.push(flag);
  }
  return kept;
}

function startThread(events: WorkerEvents): WorkerHandle {
  const worker = newThread();
  worker.unref();
  worker.on('message', (reply: WorkerReply) => events.reply(reply));
  worker.on('error', (error) => events.fail(`the Sealbox worker thread failed: ${error.message}`));
  worker.on('messageerror', () => events.fail('a message from the Sealbox worker thread could not be read'));
  worker.on('exit', (code) => events.fail(`the Sealbox worker thread exited (code ${code})`));
  return {
    post: (request, transfer) => worker.postMessage(request, transfer),
    terminate: () => void worker.terminate(),
    // A thread with batches in hand keeps the process alive until they are answered; an idle one does not.
    busy: (busy) => (busy ? worker.ref() : worker.unref()),
  };
}

/**
 * Threads that seal and open batches of chunks with node:crypto. Pass one as `workers` to
 * `EncryptStream`, `DecryptStream`, `encrypt`, `decrypt` or `uploadEncrypted`; several operations may
 * share it. The bytes are the ones the calling thread would produce. `terminate()` ends the
 * threads; batches still in flight then fail with ERR_ABORTED.
 *
 * @example
 * ```ts
 * import { NodeWorkerPool } from 'sealbox/node';
 * import { uploadEncrypted } from 'sealbox/storage';
 * const pool = new NodeWorkerPool({ size: 2 });
 * await uploadEncrypted(file, { keyring, target, workers: pool });
 * pool.terminate();
 * ```
 */
export class NodeWorkerPool extends WorkerDispatcher {
  constructor(options: NodeWorkerPoolOptions = {}) {
    super(options.size === undefined || options.size === 'auto' ? Math.max(1, Math.min(4, availableParallelism())) : options.size, startThread);
  }
}
