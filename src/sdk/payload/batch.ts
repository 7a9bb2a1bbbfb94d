/**
 * Seals or opens one batch of consecutive chunks into one buffer: what a Worker of the pool runs
 * (./../workers/sealbox-worker.ts), and what an in-thread engine would. All chunks of the batch run
 * at once; an open fails with the error of its lowest failing chunk (ERR_TAMPERED, as `openChunk`)
 * and returns no plaintext of the batch.
 */
import { SealboxError } from '../errors.js';
import { type MessageKeys, TAG_BYTES, openChunk, sealChunk } from './cobblestone.js';

/**
 * `inPlace` (WebCrypto keys only): the result is written into `input`'s own buffer when it is large
 * enough (from offset 0), so a batch costs no new buffer. That is safe because WebCrypto copies a
 * chunk's bytes when `encrypt`/`decrypt` is called, and every call is made before any result is
 * written. In Chromium a fresh zeroed 1 MiB buffer per batch (on each side) cut the throughput of
 * the Worker engine by more than half.
 */
export function runBatchOn(
  op: 'seal' | 'open',
  keys: MessageKeys,
  chunkSize: number,
  first: number,
  input: Uint8Array,
  final: boolean,
  inPlace = false,
): Promise<Uint8Array<ArrayBuffer>> {
  const unit = op === 'seal' ? chunkSize : chunkSize + TAG_BYTES;
  const whole = Math.floor(input.length / unit);
  const rest = input.length - whole * unit;
  if (!final && rest !== 0) return Promise.reject(new SealboxError('ERR_INVALID_ARGUMENT', 'a batch that does not end the message must be whole chunks'));
  if (op === 'open' && final && rest < TAG_BYTES) return Promise.reject(new SealboxError('ERR_TRUNCATED', 'the final chunk is shorter than its tag'));
  const count = whole + (final ? 1 : 0);
  const delta = op === 'seal' ? TAG_BYTES : -TAG_BYTES;
  const outLength = input.length + count * delta;
  const out =
    inPlace && 'subtle' in keys.aead && input.byteOffset === 0 && input.buffer instanceof ArrayBuffer && input.buffer.byteLength >= outLength
      ? new Uint8Array(input.buffer, 0, outLength)
      : new Uint8Array(outLength);
  const outUnit = unit + delta;
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const piece = input.subarray(i * unit, Math.min((i + 1) * unit, input.length));
    const done = op === 'seal' ? sealChunk(keys, first + i, piece) : openChunk(keys, first + i, piece);
    tasks.push(done.then((bytes) => out.set(bytes, i * outUnit)));
  }
  return settleInOrder(tasks).then(
    () => out,
    (error: unknown) => {
      out.fill(0);
      throw error;
    },
  );
}

/** Waits for all; rejects with the error of the lowest index that failed. */
async function settleInOrder(tasks: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}
