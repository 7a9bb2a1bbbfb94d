/**
 * What a Worker of an engine does with one request, whatever posts it (a dedicated Worker in the
 * browser, Deno or Bun; a worker_threads Worker in Node): keep the message keys it was last sent,
 * read a Blob slice when the batch names one, seal or open the batch, and turn a failure into a
 * reply the pool rebuilds as the same SealboxError. The keys arrive as the non-extractable AES-GCM
 * CryptoKey and the base nonce; nothing else about the message.
 */
import { SealboxError } from '../errors.js';
import { readBlobRange, runBatchOn } from '../payload/batch.js';

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

/** Answers requests in one Worker; `post` sends a reply, transferring the result's buffer. */
export function createBatchHandler(post: (reply: WorkerReply, transfer: ArrayBuffer[]) => void): (request: WorkerRequest) => void {
  /** The last keys this Worker was sent (the pool sends them again when they change). */
  let current: { id: number; key: CryptoKey; baseNonce: Uint8Array } | undefined;

  async function run(request: WorkerRequest): Promise<Uint8Array<ArrayBuffer>> {
    if (request.key && request.baseNonce) current = { id: request.keyId, key: request.key, baseNonce: request.baseNonce };
    if (current?.id !== request.keyId) throw new SealboxError('ERR_UNSUPPORTED', 'the Sealbox worker lost the keys of this batch');
    const { key, baseNonce } = current;
    const input = request.blob ? await readBlobRange(request.blob, request.op === 'seal' ? request.chunkSize : 0) : request.data!;
    const keys = { aead: { subtle: key }, baseNonce, commitment: new Uint8Array(0) };
    return runBatchOn(request.op, keys, request.chunkSize, request.first, input, request.final, true);
  }

  return (request) => {
    run(request).then(
      (bytes) => post({ id: request.id, bytes }, [bytes.buffer]),
      (error: unknown) =>
        post(
          {
            id: request.id,
            error:
              error instanceof SealboxError
                ? { code: error.code, message: error.message }
                : { code: 'ERR_UNSUPPORTED', message: `the worker failed: ${error instanceof Error ? error.message : String(error)}` },
          },
          [],
        ),
    );
  };
}
