/**
 * The streaming core of Cobblestone-256, without any envelope: transformers that seal a plaintext
 * stream into chunks and open a chunk stream again, pipelined and in order. `EncryptStream` and
 * `DecryptStream` put the Sealbox header in front; `CobblestoneDecryptStream` reads bare
 * Cobblestone (salt ‖ commitment ‖ chunks), which is what the Wycheproof vectors are.
 *
 * Memory: at most `chunksInFlight` chunks are being sealed or opened at once, one partial chunk is
 * buffered (copied, into a recycled buffer), whole chunks inside a written piece are used as
 * views, never copied, and outputs are enqueued as they come, or joined into pieces of 64 KiB where
 * that pays (workerd: ./output.ts). The readable side queues up to `inFlightBytes` before the writer is held
 * back; one huge write still produces all of its output before the next write is taken (write
 * pieces of a few MiB at most).
 */
import { SealboxError } from '../errors.js';
import { isBytes } from '../crypto/bytes.js';
import { COBBLESTONE_HEADER_BYTES, type MessageKeys, STANDARD_CHUNK_SIZE, TAG_BYTES, openChunk, sealChunk } from '../payload/cobblestone.js';
import { DEFAULT_IN_FLIGHT_BYTES, OrderedWindow, chunksInFlight } from '../payload/parallel.js';
import { type ChunkOutput, chunkOutput } from './output.js';
import { ByteCollector, Rechunker } from './rechunk.js';
import { type ResolvedEngine, type WorkerOptions, resolveEngine } from '../payload/engine.js';
import { Batcher } from './batched.js';

export interface StreamTuning extends WorkerOptions {
  /**
   * Bytes of chunks sealed or opened concurrently (default 1 MiB: 64 chunks of 16 KiB, 4 of
   * 256 KiB). More overlaps more WebCrypto calls; the memory a stream holds grows with it.
   */
  inFlightBytes?: number;
}

export interface SealSession {
  /** Bytes emitted before the first chunk (envelope header, salt, commitment). */
  head: Uint8Array;
  keys: MessageKeys;
  chunkSize: number;
}

function notBytes(): SealboxError {
  return new SealboxError('ERR_INVALID_ARGUMENT', 'the stream must be written Uint8Array chunks');
}

/**
 * WebCrypto copies a chunk before `encrypt`/`decrypt` return (the spec's "get a copy of the bytes
 * held by"), so the buffer it was given can be refilled at once; the noble fallback reads it
 * later, after an await, so it must get buffers of its own.
 */
function copiesInput(keys: MessageKeys): boolean {
  return 'subtle' in keys.aead;
}

export function abortedError(reason: unknown): SealboxError {
  return reason instanceof SealboxError && reason.code === 'ERR_ABORTED'
    ? reason
    : new SealboxError('ERR_ABORTED', 'the stream was cancelled', reason === undefined ? {} : { cause: reason });
}

/** Queuing strategies for the two sides: counted in bytes, a window's worth on the readable side. */
export function byteStrategies(inFlightBytes: number | undefined): [QueuingStrategy<Uint8Array>, QueuingStrategy<Uint8Array>] {
  const bytes = inFlightBytes ?? DEFAULT_IN_FLIGHT_BYTES;
  const size = (chunk: Uint8Array) => (isBytes(chunk) ? chunk.byteLength : 1);
  return [
    { highWaterMark: bytes, size },
    { highWaterMark: bytes, size },
  ];
}

export function checkTuning(tuning: StreamTuning | undefined): void {
  const bytes = tuning?.inFlightBytes;
  if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes > 0)) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'inFlightBytes must be a positive integer');
  }
}

/**
 * Seals a plaintext stream: emits `head`, then chunk 0, 1, … as they fill, and the short final
 * chunk (possibly empty) on flush. The output depends only on the keys and the bytes, never on how
 * the input was cut into pieces.
 */
export class SealTransformer implements Transformer<Uint8Array, Uint8Array> {
  readonly #begin: () => Promise<SealSession>;
  readonly #inFlightBytes: number | undefined;
  readonly #tuning: StreamTuning | undefined;
  #keys: MessageKeys | undefined;
  #rechunk: Rechunker | undefined;
  #window: OrderedWindow<Uint8Array> | undefined;
  #output: ChunkOutput | undefined;
  #index = 0;
  #engine: ResolvedEngine | undefined;
  #batcher: Batcher | undefined;

  constructor(begin: () => Promise<SealSession>, tuning?: StreamTuning) {
    this.#begin = begin;
    this.#inFlightBytes = tuning?.inFlightBytes;
    this.#tuning = tuning;
  }

  async start(controller: TransformStreamDefaultController<Uint8Array>): Promise<void> {
    const session = await this.#begin();
    this.#keys = session.keys;
    const engine = (this.#engine = await resolveEngine(this.#tuning, session.keys));
    if (engine) {
      this.#batcher = new Batcher('seal', engine.engine, session.keys, session.chunkSize, (bytes) => controller.enqueue(bytes), (error) => {
        engine.release();
        controller.error(error);
      });
      controller.enqueue(session.head);
      return;
    }
    this.#rechunk = new Rechunker(session.chunkSize, false, copiesInput(session.keys));
    const output = (this.#output = chunkOutput((bytes) => controller.enqueue(bytes)));
    this.#window = new OrderedWindow<Uint8Array>(
      chunksInFlight(session.chunkSize, this.#inFlightBytes),
      (sealed) => output.push(sealed),
      (error) => controller.error(error),
      () => output.flush(),
    );
    controller.enqueue(session.head);
  }

  async transform(data: Uint8Array): Promise<void> {
    if (!isBytes(data)) throw notBytes();
    if (this.#batcher) return this.#batcher.push(data);
    const keys = this.#keys!;
    const window = this.#window!;
    for (const block of this.#rechunk!.push(data)) {
      const full = window.room();
      if (full) await full;
      window.add(sealChunk(keys, this.#index++, block));
    }
  }

  async flush(): Promise<void> {
    if (this.#batcher) {
      try {
        return await this.#batcher.end();
      } finally {
        this.#engine?.release();
      }
    }
    const window = this.#window!;
    const full = window.room();
    if (full) await full;
    window.add(sealChunk(this.#keys!, this.#index++, this.#rechunk!.end()));
    await window.drain();
    this.#output!.flush();
  }

  cancel(reason: unknown): void {
    this.#batcher?.stop(abortedError(reason));
    this.#engine?.release();
    this.#window?.stop(abortedError(reason));
    this.#rechunk?.clear();
    this.#output?.clear();
  }
}

export interface OpenSession {
  keys: MessageKeys;
  chunkSize: number;
}

/** How a decrypting stream reads what comes before the first chunk. */
export interface HeadReader {
  /** How many bytes the head takes, given the bytes buffered so far (may grow as it is parsed). */
  needed(buffered: ByteCollector): number;
  /** Checks the head (commitment included) and returns the keys. */
  open(head: Uint8Array): Promise<OpenSession>;
  /** The error for an input that ends before the head is complete. */
  incomplete(buffered: ByteCollector): SealboxError;
}

/**
 * Opens a chunk stream. A chunk's plaintext is emitted only after its tag verified, in order. The
 * last whole sealed chunk is held back until more input shows it is not the last: the final chunk
 * must be the short one, so an input that ends on a full-size chunk, inside a tag or without any
 * chunk fails with ERR_TRUNCATED, never with a clean end.
 */
export class OpenTransformer implements Transformer<Uint8Array, Uint8Array> {
  readonly #head: HeadReader;
  readonly #inFlightBytes: number | undefined;
  #collector: ByteCollector | undefined = new ByteCollector();
  #keys: MessageKeys | undefined;
  #rechunk: Rechunker | undefined;
  #window: OrderedWindow<Uint8Array> | undefined;
  #controller: TransformStreamDefaultController<Uint8Array> | undefined;
  #output: ChunkOutput | undefined;
  #index = 0;
  #cancelled: SealboxError | undefined;
  readonly #tuning: StreamTuning | undefined;
  #engine: ResolvedEngine | undefined;
  #batcher: Batcher | undefined;

  constructor(head: HeadReader, tuning?: StreamTuning) {
    this.#head = head;
    this.#inFlightBytes = tuning?.inFlightBytes;
    this.#tuning = tuning;
  }

  start(controller: TransformStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  /** Not `async`: once the head is read, a piece goes straight to `#write` (no extra promise). */
  transform(data: Uint8Array): Promise<void> {
    if (!isBytes(data)) return Promise.reject(notBytes());
    if (this.#batcher) return this.#batcher.push(data);
    return this.#rechunk ? this.#write(data) : this.#readHead(data);
  }

  async #readHead(data: Uint8Array): Promise<void> {
    const collector = this.#collector!;
    collector.push(data);
    const needed = this.#head.needed(collector);
    if (collector.length < needed) return;
    const head = collector.first(needed);
    const rest = collector.takeAfter(needed);
    this.#collector = undefined;
    const { keys, chunkSize } = await this.#head.open(head);
    if (this.#cancelled) throw this.#cancelled;
    const controller = this.#controller!;
    this.#keys = keys;
    const engine = (this.#engine = await resolveEngine(this.#tuning, keys));
    if (this.#cancelled) {
      engine?.release();
      throw this.#cancelled;
    }
    if (engine) {
      const batcher = (this.#batcher = new Batcher('open', engine.engine, keys, chunkSize, (bytes) => controller.enqueue(bytes), (error) => {
        engine.release();
        controller.error(error);
      }));
      for (const part of rest) await batcher.push(part);
      return;
    }
    this.#rechunk = new Rechunker(chunkSize + TAG_BYTES, true, copiesInput(keys));
    const output = (this.#output = chunkOutput((bytes) => controller.enqueue(bytes)));
    this.#window = new OrderedWindow<Uint8Array>(
      chunksInFlight(chunkSize, this.#inFlightBytes),
      (plaintext) => output.push(plaintext),
      (error) => controller.error(error),
      () => output.flush(),
    );
    for (const part of rest) await this.#write(part);
  }

  async #write(data: Uint8Array): Promise<void> {
    const keys = this.#keys!;
    const window = this.#window!;
    for (const sealed of this.#rechunk!.push(data)) {
      const full = window.room();
      if (full) await full;
      window.add(openChunk(keys, this.#index++, sealed));
    }
  }

  async flush(): Promise<void> {
    if (this.#batcher) {
      try {
        return await this.#batcher.end();
      } finally {
        this.#engine?.release();
      }
    }
    if (!this.#rechunk) throw this.#head.incomplete(this.#collector ?? new ByteCollector());
    const window = this.#window!;
    // Earlier chunks first: if one of them fails, that is the error the reader sees.
    await window.drain();
    const rest = this.#rechunk.end();
    const sealedSize = this.#rechunk.size;
    if (rest.length === sealedSize) {
      throw new SealboxError('ERR_TRUNCATED', 'the stream ended on a full-size chunk: the short final chunk is missing, it was truncated');
    }
    if (rest.length < TAG_BYTES) {
      throw new SealboxError(
        'ERR_TRUNCATED',
        rest.length === 0 ? 'the stream ended without its final chunk: it was truncated' : 'the stream ended inside a chunk tag: it was truncated',
      );
    }
    const full = window.room();
    if (full) await full;
    window.add(openChunk(this.#keys!, this.#index++, rest));
    await window.drain();
    this.#output!.flush();
  }

  cancel(reason: unknown): void {
    this.#cancelled = abortedError(reason);
    this.#batcher?.stop(this.#cancelled);
    this.#engine?.release();
    this.#window?.stop(this.#cancelled);
    this.#rechunk?.clear();
    this.#collector?.clear();
    this.#output?.clear();
  }
}

/** A head of bare Cobblestone: the 56 bytes of salt and commitment. */
export function cobblestoneHead(keysFor: (saltAndCommitment: Uint8Array) => Promise<MessageKeys>, chunkSize = STANDARD_CHUNK_SIZE): HeadReader {
  return {
    needed: () => COBBLESTONE_HEADER_BYTES,
    open: async (head) => ({ keys: await keysFor(head), chunkSize }),
    incomplete: () => new SealboxError('ERR_TRUNCATED', 'the stream ended inside the salt and commitment'),
  };
}

export interface CobblestoneDecryptStreamOptions extends StreamTuning {
  /** Derives the message keys from the 56 bytes of salt and commitment, and checks the commitment. */
  keys: (saltAndCommitment: Uint8Array) => Promise<MessageKeys>;
  chunkSize?: number;
}

/**
 * Decrypts bare Cobblestone-256 (no Sealbox header): salt ‖ commitment ‖ chunks. The same core as
 * `DecryptStream`; exposed for test vectors and for formats that carry the key elsewhere.
 */
export class CobblestoneDecryptStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor(options: CobblestoneDecryptStreamOptions) {
    checkTuning(options);
    super(new OpenTransformer(cobblestoneHead(options.keys, options.chunkSize), options), ...byteStrategies(options.inFlightBytes));
  }
}

export interface CobblestoneEncryptStreamOptions extends StreamTuning {
  keys: MessageKeys;
  /** The 24-byte salt the keys were derived with; it is emitted first, with the commitment. */
  salt: Uint8Array;
  chunkSize?: number;
}

/** Encrypts into bare Cobblestone-256 with keys derived by the caller. */
export class CobblestoneEncryptStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor(options: CobblestoneEncryptStreamOptions) {
    checkTuning(options);
    const head = new Uint8Array(COBBLESTONE_HEADER_BYTES);
    head.set(options.salt, 0);
    head.set(options.keys.commitment, options.salt.length);
    const session: SealSession = { head, keys: options.keys, chunkSize: options.chunkSize ?? STANDARD_CHUNK_SIZE };
    super(new SealTransformer(async () => session, options), ...byteStrategies(options.inFlightBytes));
  }
}
