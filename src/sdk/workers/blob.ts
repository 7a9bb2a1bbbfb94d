/**
 * `encryptBlob` and `decryptBlob`: a Blob or File in, a stream out, with the Workers reading their
 * own slices of the Blob (a Blob is passed to a Worker by reference; its bytes are read there), so
 * the page's thread only posts one message per batch and enqueues one result per batch. Without
 * Workers (or with `workers` unset) the same batches run in this thread. The bytes are those of
 * `EncryptStream`/`encrypt` for the same keys and salt; decryption checks the key commitment before
 * any chunk, emits a batch only once every chunk in it authenticated, and fails with ERR_TRUNCATED
 * when the Blob's length cannot be a whole envelope, before any plaintext.
 */
import { SealboxError } from '../errors.js';
import { resolveLimits, PREFIX_BYTES } from '../format/constants.js';
import { type HeaderInfo, headerInfo, parseEnvelopeHeader, pendingHeader, readPrefix } from '../format/header.js';
import { type DecryptOptions, type EncryptOptions, startDecryption, startEncryption } from '../envelope/session.js';
import { COBBLESTONE_HEADER_BYTES, type MessageKeys, TAG_BYTES, layoutFromCiphertextLength } from '../payload/cobblestone.js';
import { readBlobRange, runBatchOn } from '../payload/batch.js';
import { BATCHES_PER_WORKER, BLOB_BATCH_BYTES, type ChunkBatch, type ChunkEngine, type ResolvedEngine, batchChunks, hasWorkers, startThreadEngine } from '../payload/batching.js';
import { SealboxWorkerPool } from './worker-pool.js';
import { OrderedWindow } from '../payload/parallel.js';

/** Options of `encryptBlob`: those of `encrypt` (`workers` included). */
export interface EncryptBlobOptions extends EncryptOptions {}
/** Options of `decryptBlob`: those of `decrypt` (`workers` included). */
export interface DecryptBlobOptions extends DecryptOptions {}

/** Runs batches in this thread, reading Blob slices here: the path without Workers. */
const inThread: ChunkEngine = {
  size: 1,
  async run(batch: ChunkBatch) {
    const input = batch.blob ? await readBlobRange(batch.blob) : batch.data!;
    return runBatchOn(batch.op, batch.keys, batch.chunkSize, batch.first, input, batch.final);
  },
};

interface Plan {
  head?: Uint8Array;
  engine: ResolvedEngine;
  batches: number;
  batch(index: number): ChunkBatch;
}

function aborted(reason: unknown): SealboxError {
  return reason instanceof SealboxError && reason.code === 'ERR_ABORTED'
    ? reason
    : new SealboxError('ERR_ABORTED', 'the stream was cancelled', reason === undefined ? {} : { cause: reason });
}

/** A stream of the plan's batches, in order, a window of two per Worker, pulled by the reader. */
function batchedStream(prepare: () => Promise<Plan>): ReadableStream<Uint8Array> {
  let plan: Plan | undefined;
  let window: OrderedWindow<Uint8Array> | undefined;
  let next = 0;
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    plan?.engine.release();
  };
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        plan = await prepare();
        window = new OrderedWindow<Uint8Array>(
          Math.max(2, plan.engine.engine.size * BATCHES_PER_WORKER),
          (bytes) => controller.enqueue(bytes),
          (error) => {
            release();
            controller.error(error);
          },
        );
        if (plan.head) controller.enqueue(plan.head);
      },
      async pull(controller) {
        if (next < plan!.batches) {
          const full = window!.room();
          if (full) await full;
          window!.add(plan!.engine.engine.run(plan!.batch(next++)));
          return;
        }
        await window!.drain();
        release();
        controller.close();
      },
      cancel(reason) {
        window?.stop(aborted(reason));
        release();
      },
    },
    { highWaterMark: 1 },
  );
}

/** As `resolveEngine` (../payload/engine.ts), with the in-thread batches as the fallback. */
function engineFor(options: EncryptOptions | DecryptOptions, keys: MessageKeys): ResolvedEngine {
  const workers = options?.workers;
  const none = { engine: inThread, release() {} };
  if (workers === undefined || workers === 0 || !('subtle' in keys.aead)) return none;
  if (typeof workers === 'object' && workers !== null && typeof workers.run === 'function') return { engine: workers, release() {} };
  if (workers !== 'auto' && !(Number.isSafeInteger(workers) && (workers as number) > 0)) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', "workers must be a positive integer, 'auto' or a SealboxWorkerPool");
  }
  if (!hasWorkers()) return startThreadEngine(workers as number | 'auto') ?? none;
  const pool = new SealboxWorkerPool({ size: workers as number | 'auto', ...(options.workerUrl ? { workerUrl: options.workerUrl } : {}) });
  return { engine: pool, release: () => pool.terminate() };
}

function checkBlob(blob: unknown, name: string): asserts blob is Blob {
  if (typeof Blob !== 'function' || !(blob instanceof Blob)) throw new SealboxError('ERR_INVALID_ARGUMENT', `${name} expects a Blob or File`);
}

/**
 * Encrypts a Blob or File into a stream of the envelope, with `workers` reading and sealing its
 * slices. The data key is wrapped when the stream starts; the header comes first.
 *
 * @example
 * ```ts
 * const body = encryptBlob(file, { keyring, context: { tenant }, workers: 2 });
 * await fetch(url, { method: 'PUT', body, duplex: 'half' });
 * ```
 */
export function encryptBlob(blob: Blob, options: EncryptBlobOptions): ReadableStream<Uint8Array> {
  checkBlob(blob, 'encryptBlob');
  return batchedStream(async () => {
    const session = await startEncryption({ ...options, plaintextLength: blob.size });
    const { chunkSize, keys } = session;
    const perBatch = batchChunks(chunkSize, BLOB_BATCH_BYTES);
    const chunkCount = Math.floor(blob.size / chunkSize) + 1;
    const batches = Math.ceil(chunkCount / perBatch);
    return {
      head: session.head,
      engine: engineFor(options, keys),
      batches,
      batch(b) {
        const first = b * perBatch;
        const final = b === batches - 1;
        const start = first * chunkSize;
        return { op: 'seal', keys, chunkSize, first, final, blob: { blob, start, end: final ? blob.size : start + perBatch * chunkSize } };
      },
    };
  });
}

/** What `decryptBlob` returns: the plaintext stream, and the header once the key commitment verified. */
export interface DecryptedBlobStream {
  readable: ReadableStream<Uint8Array>;
  header: Promise<HeaderInfo>;
}

const readSlice = (blob: Blob, start: number, end: number): Promise<Uint8Array> => readBlobRange({ blob, start, end });

/**
 * Decrypts an envelope held in a Blob or File into a plaintext stream, with `workers` reading and
 * opening its slices. Reads the header, unwraps the data key and checks the commitment first;
 * a batch's plaintext is enqueued only after all its chunks authenticated (ERR_TAMPERED otherwise).
 *
 * @example
 * ```ts
 * const { readable } = decryptBlob(file, { keyring, workers: 2 });
 * await readable.pipeTo(writable);
 * ```
 */
export function decryptBlob(blob: Blob, options: DecryptBlobOptions): DecryptedBlobStream {
  checkBlob(blob, 'decryptBlob');
  const { promise: header, resolve: resolveHeader, reject: rejectHeader } = pendingHeader();
  const readable = batchedStream(async () => {
    try {
      const limits = resolveLimits(options?.limits);
      if (blob.size < PREFIX_BYTES) {
        readPrefix(await readSlice(blob, 0, blob.size), limits);
        throw new SealboxError('ERR_TRUNCATED', 'the envelope ended inside its header');
      }
      const cbor = readPrefix(await readSlice(blob, 0, PREFIX_BYTES), limits);
      const headLength = PREFIX_BYTES + cbor + COBBLESTONE_HEADER_BYTES;
      const head = await readSlice(blob, 0, Math.min(blob.size, headLength));
      const parsed = parseEnvelopeHeader(head.subarray(0, Math.min(head.length, PREFIX_BYTES + cbor)), limits);
      if (head.length < headLength) throw new SealboxError('ERR_TRUNCATED', 'the envelope ended inside the salt and commitment');
      const { chunkSize } = parsed.protected;
      const layout = layoutFromCiphertextLength(blob.size - parsed.headerLength, chunkSize);
      const keys = await startDecryption(parsed, head.subarray(parsed.headerLength), options);
      resolveHeader(headerInfo(parsed));
      const perBatch = batchChunks(chunkSize, BLOB_BATCH_BYTES);
      const sealed = chunkSize + TAG_BYTES;
      const body = parsed.headerLength + COBBLESTONE_HEADER_BYTES;
      const batches = Math.ceil(layout.chunkCount / perBatch);
      return {
        engine: engineFor(options, keys),
        batches,
        batch(b): ChunkBatch {
          const first = b * perBatch;
          const final = b === batches - 1;
          const start = body + first * sealed;
          return { op: 'open', keys, chunkSize, first, final, blob: { blob, start, end: final ? blob.size : start + perBatch * sealed } };
        },
      };
    } catch (error) {
      rejectHeader(error);
      throw error;
    }
  });
  return { readable, header };
}
