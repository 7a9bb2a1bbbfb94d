/**
 * The streams' batched path, for a `ChunkEngine` (Workers): the written bytes are copied into a
 * batch buffer (1 MiB of chunks by default), and each full batch is handed to the engine whole, its
 * buffer transferred; the results go through the same in-order window as single chunks, a window of
 * two batches per Worker, so memory stays bounded by the batches in flight. Opening holds a full
 * batch back until more bytes show it does not end the stream (the final chunk must be the short
 * one), and checks the end exactly as the in-thread path does.
 */
import { SealboxError } from '../errors.js';
import { type MessageKeys, TAG_BYTES } from '../payload/cobblestone.js';
import { BATCHES_PER_WORKER, type ChunkEngine, batchChunks } from '../payload/engine.js';
import { OrderedWindow } from '../payload/parallel.js';

export class Batcher {
  readonly window: OrderedWindow<Uint8Array>;
  readonly #op: 'seal' | 'open';
  readonly #engine: ChunkEngine;
  readonly #keys: MessageKeys;
  readonly #chunkSize: number;
  readonly #unit: number;
  readonly #capacity: number;
  /** Seal: the batch buffer has room for the tags too, so the Worker seals it in place. */
  readonly #room: number;
  #buffer: Uint8Array<ArrayBuffer> | undefined;
  #fill = 0;
  #first = 0;
  #stopped = false;

  constructor(
    op: 'seal' | 'open',
    engine: ChunkEngine,
    keys: MessageKeys,
    chunkSize: number,
    emit: (bytes: Uint8Array) => void,
    fail: (error: unknown) => void,
  ) {
    this.#op = op;
    this.#engine = engine;
    this.#keys = keys;
    this.#chunkSize = chunkSize;
    this.#unit = op === 'seal' ? chunkSize : chunkSize + TAG_BYTES;
    this.#capacity = batchChunks(chunkSize) * this.#unit;
    this.#room = op === 'seal' ? (batchChunks(chunkSize) + 1) * (chunkSize + TAG_BYTES) : this.#capacity;
    // An enqueue that throws means the reader went away (cancelled): stop quietly, as the in-thread
    // path does, so the pending write ends without an error of its own.
    const emitOrStop = (bytes: Uint8Array) => {
      try {
        emit(bytes);
      } catch (error) {
        this.stop(error);
      }
    };
    this.window = new OrderedWindow<Uint8Array>(Math.max(2, engine.size * BATCHES_PER_WORKER), emitOrStop, fail);
  }

  push(data: Uint8Array): Promise<void> {
    return this.#push(data).catch((error: unknown) => {
      if (!this.#stopped) throw error;
    });
  }

  async #push(data: Uint8Array): Promise<void> {
    let at = 0;
    while (at < data.length) {
      if (this.#fill === this.#capacity) await this.#send(false);
      this.#buffer ??= new Uint8Array(this.#room);
      const n = Math.min(this.#capacity - this.#fill, data.length - at);
      this.#buffer.set(data.subarray(at, at + n), this.#fill);
      this.#fill += n;
      at += n;
    }
    // Sealing needs no look-ahead: a full batch goes at once.
    if (this.#op === 'seal' && this.#fill === this.#capacity) await this.#send(false);
  }

  /** Sends the rest as the message's end, after the checks the in-thread path makes. */
  end(): Promise<void> {
    return this.#end().catch((error: unknown) => {
      if (!this.#stopped) throw error;
    });
  }

  async #end(): Promise<void> {
    if (this.#op === 'open') {
      // Earlier chunks first: if one of them fails, that is the error the reader sees.
      await this.window.drain();
      const rest = this.#fill % this.#unit;
      if (this.#fill > 0 && rest === 0) {
        throw new SealboxError('ERR_TRUNCATED', 'the stream ended on a full-size chunk: the short final chunk is missing, it was truncated');
      }
      if (rest < TAG_BYTES) {
        throw new SealboxError(
          'ERR_TRUNCATED',
          rest === 0 ? 'the stream ended without its final chunk: it was truncated' : 'the stream ended inside a chunk tag: it was truncated',
        );
      }
    }
    await this.#send(true);
    await this.window.drain();
  }

  async #send(final: boolean): Promise<void> {
    const full = this.window.room();
    if (full) await full;
    const buffer = this.#buffer ?? new Uint8Array(0);
    const data = new Uint8Array(buffer.buffer, 0, this.#fill);
    const count = Math.floor(this.#fill / this.#unit);
    const first = this.#first;
    this.#first += count;
    this.#buffer = undefined;
    this.#fill = 0;
    this.window.add(this.#engine.run({ op: this.#op, keys: this.#keys, chunkSize: this.#chunkSize, first, data, final }));
  }

  stop(error: unknown): void {
    this.#stopped = true;
    this.window.stop(error);
    this.#buffer = undefined;
    this.#fill = 0;
  }
}
