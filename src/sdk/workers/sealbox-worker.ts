/**
 * The worker script of `SealboxWorkerPool` (shipped as dist/browser/sealbox-worker.js, a module
 * worker): seals or opens the batches of chunks the pool posts, reading Blob slices itself when the
 * batch names one, and posts each result back with its buffer transferred. The keys arrive as the
 * non-extractable AES-GCM CryptoKey and the base nonce; nothing else about the message.
 */
import { SealboxError } from '../errors.js';
import { runBatchOn } from '../payload/batch.js';

export interface WorkerRequest {
  id: number;
  op: 'seal' | 'open';
  /** Numbers the message keys within the pool; `key` and `baseNonce` come only when they change. */
  keyId: number;
  key?: CryptoKey;
  baseNonce?: Uint8Array;
  chunkSize: number;
  first: number;
  final: boolean;
  data?: Uint8Array<ArrayBuffer>;
  blob?: { blob: Blob; start: number; end: number };
}

export type WorkerReply = { id: number; bytes: Uint8Array<ArrayBuffer> } | { id: number; error: { code: string; message: string } };

interface WorkerScope {
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

/** The last keys this Worker was sent (the pool sends them again when they change). */
let current: { id: number; key: CryptoKey; baseNonce: Uint8Array } | undefined;

async function handle(request: WorkerRequest): Promise<Uint8Array<ArrayBuffer>> {
  if (request.key && request.baseNonce) current = { id: request.keyId, key: request.key, baseNonce: request.baseNonce };
  if (current?.id !== request.keyId) throw new SealboxError('ERR_UNSUPPORTED', 'the Sealbox worker lost the keys of this batch');
  const { key, baseNonce } = current;
  const input = request.blob ? await readSlice(request.blob) : request.data!;
  const keys = { aead: { subtle: key }, baseNonce, commitment: new Uint8Array(0) };
  return runBatchOn(request.op, keys, request.chunkSize, request.first, input, request.final, true);
}

/**
 * A Blob slice. Sealing it writes a new buffer (the slice's has no room for the tags).
 */
async function readSlice(slice: { blob: Blob; start: number; end: number }): Promise<Uint8Array> {
  return new Uint8Array(await slice.blob.slice(slice.start, slice.end).arrayBuffer());
}

// A call, not an assignment: bundlers keep it under the package's "sideEffects": false.
scope.addEventListener('message', (event) => {
  const request = event.data;
  handle(request).then(
    (bytes) => scope.postMessage({ id: request.id, bytes }, [bytes.buffer]),
    (error: unknown) =>
      scope.postMessage({
        id: request.id,
        error:
          error instanceof SealboxError
            ? { code: error.code, message: error.message }
            : { code: 'ERR_UNSUPPORTED', message: `the worker failed: ${error instanceof Error ? error.message : String(error)}` },
      }),
  );
});
