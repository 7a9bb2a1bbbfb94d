/** The Worker pool itself; `sealbox/workers` (./pool.ts) exports it. */
import { SealboxError, type SealboxErrorCode } from '../errors.js';
import type { ChunkBatch, ChunkEngine } from '../payload/batching.js';
import type { WorkerReply, WorkerRequest } from './sealbox-worker.js';

export interface SealboxWorkerPoolOptions {
  /** Workers to start: a number, or `'auto'` (the cores the browser reports, 1 to 4). Default `'auto'`. */
  size?: number | 'auto';
  /** The worker script's URL, for apps that serve it themselves. */
  workerUrl?: string | URL;
}

interface Pending {
  resolve(bytes: Uint8Array): void;
  reject(error: unknown): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** The keys this Worker holds (it keeps the last ones sent): not cloned again per batch. */
  keyId: number;
}

function autoSize(): number {
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 2;
  return Math.max(1, Math.min(4, cores));
}

/**
 * Dedicated Workers that seal and open batches of chunks. Pass one as `workers` to `EncryptStream`,
 * `DecryptStream`, `encrypt`, `decrypt`, `encryptBlob`, `decryptBlob`; several streams may share it.
 * A batch goes to the Worker with the fewest batches in hand. `terminate()` ends the Workers; batches
 * still in flight then fail with ERR_ABORTED.
 */
export class SealboxWorkerPool implements ChunkEngine {
  readonly size: number;
  #slots: Slot[];
  #nextId = 1;
  #keyIds = new WeakMap<object, number>();
  #nextKeyId = 1;
  #terminated = false;

  constructor(options: SealboxWorkerPoolOptions = {}) {
    if (typeof Worker !== 'function') throw new SealboxError('ERR_UNSUPPORTED', 'this runtime has no Worker: leave `workers` unset to run in this thread');
    const size = options.size === undefined || options.size === 'auto' ? autoSize() : options.size;
    if (!Number.isSafeInteger(size) || size < 1 || size > 64) throw new SealboxError('ERR_INVALID_ARGUMENT', 'size must be an integer from 1 to 64, or auto');
    this.size = size;
    const url = options.workerUrl ?? new URL('./sealbox-worker.js', import.meta.url);
    this.#slots = Array.from({ length: size }, () => this.#start(url));
  }

  #start(url: string | URL): Slot {
    const worker = new Worker(url, { type: 'module', name: 'sealbox' });
    const slot: Slot = { worker, pending: new Map(), keyId: 0 };
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      const pending = slot.pending.get(reply.id);
      if (!pending) return;
      slot.pending.delete(reply.id);
      if ('error' in reply) pending.reject(new SealboxError(reply.error.code as SealboxErrorCode, reply.error.message));
      else pending.resolve(reply.bytes);
    };
    const fail = (message: string) => {
      const error = new SealboxError('ERR_UNSUPPORTED', message);
      for (const pending of slot.pending.values()) pending.reject(error);
      slot.pending.clear();
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      fail(`the Sealbox worker failed to load or crashed: ${event.message || 'no details'} (is workerUrl right, and does the CSP allow it as worker-src?)`);
    };
    worker.onmessageerror = () => fail('a message from the Sealbox worker could not be read');
    return slot;
  }

  /** Batches posted and not answered yet, over all Workers. */
  get pending(): number {
    return this.#slots.reduce((sum, slot) => sum + slot.pending.size, 0);
  }

  run(batch: ChunkBatch): Promise<Uint8Array> {
    if (this.#terminated) return Promise.reject(new SealboxError('ERR_ABORTED', 'the worker pool was terminated'));
    const aead = batch.keys.aead;
    if (!('subtle' in aead)) return Promise.reject(new SealboxError('ERR_UNSUPPORTED', 'the worker pool needs WebCrypto keys'));
    let slot = this.#slots[0]!;
    for (const candidate of this.#slots) if (candidate.pending.size < slot.pending.size) slot = candidate;
    const id = this.#nextId++;
    let keyId = this.#keyIds.get(batch.keys);
    if (keyId === undefined) this.#keyIds.set(batch.keys, (keyId = this.#nextKeyId++));
    const request: WorkerRequest = {
      id,
      op: batch.op,
      keyId,
      chunkSize: batch.chunkSize,
      first: batch.first,
      final: batch.final,
    };
    if (slot.keyId !== keyId) {
      // Messages to one Worker arrive in order: every later batch with this keyId finds the keys.
      request.key = aead.subtle;
      request.baseNonce = batch.keys.baseNonce;
    }
    if (batch.data) request.data = batch.data;
    if (batch.blob) request.blob = batch.blob;
    return new Promise<Uint8Array>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      try {
        slot.worker.postMessage(request, batch.data ? [batch.data.buffer] : []);
        slot.keyId = keyId;
      } catch (error) {
        slot.pending.delete(id);
        reject(error);
      }
    });
  }

  /** Ends the Workers at once; batches in flight fail with ERR_ABORTED, later ones too. */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    const error = new SealboxError('ERR_ABORTED', 'the worker pool was terminated');
    for (const slot of this.#slots) {
      slot.worker.terminate();
      for (const pending of slot.pending.values()) pending.reject(error);
      slot.pending.clear();
    }
  }

  get terminated(): boolean {
    return this.#terminated;
  }
}
