/**
 * The pool logic shared by every kind of Worker (dedicated Workers in `sealbox/workers`,
 * worker_threads in `sealbox/node`): a batch goes to the Worker with the fewest batches in hand,
 * message keys are sent to a Worker only when they change, replies settle their batch, and a Worker
 * that dies fails what it holds.
 */
import { SealboxError, type SealboxErrorCode } from '../errors.js';
import type { ChunkBatch, ChunkEngine } from '../payload/batching.js';
import type { WorkerReply, WorkerRequest } from './batch-handler.js';

/** One started Worker, as the dispatcher drives it. */
export interface WorkerHandle {
  post(request: WorkerRequest, transfer: ArrayBuffer[]): void;
  terminate(): void;
  /** Told when the Worker goes from idle to busy and back (Node lets an idle Worker not hold the process open). */
  busy?(busy: boolean): void;
}

/** What a started Worker reports back to the dispatcher. */
export interface WorkerEvents {
  reply(reply: WorkerReply): void;
  /** The Worker cannot answer any more (it failed to load, crashed or sent an unreadable message). */
  fail(message: string): void;
}

interface Pending {
  resolve(bytes: Uint8Array): void;
  reject(error: unknown): void;
}

interface Slot {
  handle: WorkerHandle;
  pending: Map<number, Pending>;
  /** The keys this Worker holds (it keeps the last ones sent): not cloned again per batch. */
  keyId: number;
}

/** Checks a pool size: an integer from 1 to 64. */
function checkPoolSize(size: number): number {
  if (!Number.isSafeInteger(size) || size < 1 || size > 64) throw new SealboxError('ERR_INVALID_ARGUMENT', 'size must be an integer from 1 to 64, or auto');
  return size;
}

export class WorkerDispatcher implements ChunkEngine {
  readonly size: number;
  #slots: Slot[];
  #nextId = 1;
  #keyIds = new WeakMap<object, number>();
  #nextKeyId = 1;
  #terminated = false;

  constructor(size: number, spawn: (events: WorkerEvents) => WorkerHandle) {
    this.size = checkPoolSize(size);
    this.#slots = Array.from({ length: size }, () => {
      const pending = new Map<number, Pending>();
      // Events come from the Worker, never during spawn(): `handle` is set by then.
      const handle: WorkerHandle = spawn({
        reply: (reply) => {
          const waiting = pending.get(reply.id);
          if (!waiting) return;
          pending.delete(reply.id);
          if (pending.size === 0) handle.busy?.(false);
          if ('error' in reply) waiting.reject(new SealboxError(reply.error.code as SealboxErrorCode, reply.error.message));
          else waiting.resolve(reply.bytes);
        },
        fail: (message) => {
          const error = new SealboxError('ERR_UNSUPPORTED', message);
          for (const waiting of pending.values()) waiting.reject(error);
          pending.clear();
          handle.busy?.(false);
        },
      });
      return { handle, pending, keyId: 0 };
    });
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
    const request: WorkerRequest = { id, op: batch.op, keyId, chunkSize: batch.chunkSize, first: batch.first, final: batch.final };
    if (slot.keyId !== keyId) {
      // Messages to one Worker arrive in order: every later batch with this keyId finds the keys.
      request.key = aead.subtle;
      request.baseNonce = batch.keys.baseNonce;
    }
    if (batch.data) request.data = batch.data;
    if (batch.blob) request.blob = batch.blob;
    return new Promise<Uint8Array>((resolve, reject) => {
      if (slot.pending.size === 0) slot.handle.busy?.(true);
      slot.pending.set(id, { resolve, reject });
      try {
        slot.handle.post(request, batch.data ? [batch.data.buffer] : []);
        slot.keyId = keyId;
      } catch (error) {
        slot.pending.delete(id);
        if (slot.pending.size === 0) slot.handle.busy?.(false);
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
      slot.handle.terminate();
      for (const pending of slot.pending.values()) pending.reject(error);
      slot.pending.clear();
    }
  }

  get terminated(): boolean {
    return this.#terminated;
  }
}
