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

/**
 * A Blob slice, read through `stream()` into one buffer. Chromium answers each `arrayBuffer()` with
 * a fixed cost of milliseconds: 1 MiB slices read at 260–320 MB/s there, a stream at 800 MB/s.
 * With `chunkSize`, the buffer has room for every chunk's tag behind the bytes, so the batch can be
 * sealed in place. One reader for every Blob range the SDK reads (Workers, the in-thread path,
 * headers).
 */
export async function readBlobRange(slice: { blob: Blob; start: number; end: number }, chunkSize = 0): Promise<Uint8Array<ArrayBuffer>> {
  const length = slice.end - slice.start;
  const room = chunkSize > 0 ? (Math.floor(length / chunkSize) + 1) * TAG_BYTES : 0;
  const bytes = new Uint8Array(new ArrayBuffer(length + room), 0, length);
  const reader = slice.blob.slice(slice.start, slice.end).stream().getReader();
  let at = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > length) throw new SealboxError('ERR_UNSUPPORTED', 'the Blob gave more bytes than its slice holds');
    bytes.set(value, at);
    at += value.length;
  }
  if (at !== length) throw new SealboxError('ERR_TRUNCATED', `the Blob gave ${at} of the slice's ${length} bytes`);
  return bytes;
}
