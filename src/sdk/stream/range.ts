/**
 * Ranged decryption: a slice of the plaintext from a ciphertext that lives elsewhere (a `Blob`, an
 * HTTP server that honours `Range`, an S3 object), reading only the header and the chunks that
 * cover the slice. Chunk k sits at a fixed offset, and authenticates at index k only, so a chunk
 * read out of place fails; the final chunk is always the short one, so the true length is known
 * once the final chunk has been authenticated.
 */
import { SealboxError } from '../errors.js';
import { isBytes } from '../crypto/bytes.js';
import { type EnvelopeLimits, PREFIX_BYTES, resolveLimits } from '../format/constants.js';
import { parseEnvelopeHeader, readPrefix } from '../format/header.js';
import { type DecryptOptions, startDecryption } from '../envelope/session.js';
import { COBBLESTONE_HEADER_BYTES, type MessageKeys, TAG_BYTES, layoutFromCiphertextLength, openChunk } from '../payload/cobblestone.js';
import { chunksInFlight, forEachIndex } from '../payload/parallel.js';

/**
 * Reads bytes `start` (inclusive) to `end` (exclusive) of the ciphertext. It may return fewer bytes
 * than asked only at the end of the object (as an HTTP server does for a range that runs past the
 * end; answer an empty array where the server says 416), never more.
 *
 * @example
 * ```ts
 * const read: RangeReader = async (start, end) => new Uint8Array(await (await fetch(url, { headers: { range: `bytes=${start}-${end}` } })).arrayBuffer());
 * ```
 */
export type RangeReader = (start: number, end: number) => Promise<Uint8Array>;

/**
 * Where the ciphertext is: a `Blob` (a `File`, whose `size` gives the length), a reader function,
 * or a reader with the object's total size (from `Content-Length` of a HEAD, or S3's
 * `ContentLength`), which may stay undefined until the first read has learnt it (`httpRangeSource`).
 *
 * @example
 * ```ts
 * await decryptRange({ read, size: objectSize }, { keyring, offset, length });
 * ```
 */
export type RangeSource = Blob | RangeReader | { read: RangeReader; size?: number };

/**
 * Options of `decryptRange`: those of `decrypt`, plus the plaintext range wanted.
 *
 * @example
 * ```ts
 * await decryptRange(source, { keyring, offset: 0, length: 1024 });
 * ```
 */
export interface DecryptRangeOptions extends DecryptOptions {
  /** First plaintext byte wanted. */
  offset: number;
  /** Number of plaintext bytes wanted (may be 0). */
  length: number;
  /**
   * The ciphertext's total size in bytes, when the source is a function and you know it. Without
   * it (and without a Blob), the end of the object is learnt from short reads: a range that lies
   * wholly past the end then costs a few 1-byte probes to find the final chunk.
   */
  size?: number;
}

/** A reader (offsets from the start of what it reads) and, when known, the total size. */
export interface SizedReader {
  read: RangeReader;
  size: number | undefined;
}

/** A Blob from another realm (a worker, an iframe) fails `instanceof Blob`. */
function isBlobLike(value: unknown): boolean {
  const blob = value as Partial<Blob> | null;
  return typeof blob === 'object' && blob !== null && typeof blob.slice === 'function' && typeof blob.size === 'number' && typeof blob.arrayBuffer === 'function';
}

function toSource(source: RangeSource, size: number | undefined): SizedReader {
  if ((typeof Blob !== 'undefined' && source instanceof Blob) || isBlobLike(source)) {
    const blob = source as Blob;
    return { read: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()), size: blob.size };
  }
  if (typeof source === 'function') return { read: source, size };
  if (source && typeof source === 'object' && typeof (source as { read?: unknown }).read === 'function') {
    const object = source as { read: RangeReader; size?: number };
    // A getter: a source may learn its size from its first answer (httpRangeSource does).
    return {
      read: (start, end) => object.read(start, end),
      get size() {
        return object.size ?? size;
      },
    };
  }
  throw new SealboxError('ERR_INVALID_ARGUMENT', 'decryptRange reads from a Blob, a (start, end) => Promise<Uint8Array> function, or { read, size }');
}

async function readChecked(source: SizedReader, start: number, end: number): Promise<Uint8Array> {
  if (end <= start) return new Uint8Array(0);
  const bytes = await source.read(start, end);
  if (!isBytes(bytes)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'the range source must resolve to a Uint8Array');
  if (bytes.length > end - start) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', `the range source returned ${bytes.length} bytes for a ${end - start}-byte range`);
  }
  return bytes;
}

function checkSize(name: string, value: number | undefined, allowUndefined: boolean): void {
  if (value === undefined && allowUndefined) return;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', `${name} must be a non-negative safe integer`);
  }
}

/**
 * Decrypts `length` bytes of plaintext from `offset`, reading only the envelope header, the salt
 * and commitment, and the chunks that cover the range. The key commitment is checked before any
 * chunk is read. Every chunk read is authenticated at its index before a byte of it is returned. A
 * range that runs past the end fails with ERR_RANGE, once the final chunk has been authenticated
 * (so a truncated or modified object is not mistaken for a short one).
 *
 * @example
 * ```ts
 * const bytes = await decryptRange(blob, { keyring, offset: 1_000_000, length: 4096 });
 * ```
 */
export async function decryptRange(source: RangeSource, options: DecryptRangeOptions): Promise<Uint8Array> {
  if (!options || typeof options !== 'object') throw new SealboxError('ERR_INVALID_ARGUMENT', 'decryptRange needs options with a keyring, offset and length');
  checkSize('offset', options.offset, false);
  checkSize('length', options.length, false);
  checkSize('size', options.size, true);
  const src = toSource(source, options.size);
  checkSize('size', src.size, true);
  const limits: EnvelopeLimits = resolveLimits(options.limits);

  const prefix = await readChecked(src, 0, PREFIX_BYTES);
  const cborLength = readPrefix(prefix, limits);
  const headerLength = PREFIX_BYTES + cborLength;
  const rest = await readChecked(src, PREFIX_BYTES, headerLength + COBBLESTONE_HEADER_BYTES);
  const head = new Uint8Array(PREFIX_BYTES + rest.length);
  head.set(prefix, 0);
  head.set(rest, PREFIX_BYTES);
  const parsed = parseEnvelopeHeader(head.subarray(0, Math.min(head.length, headerLength)), limits);
  if (head.length < headerLength + COBBLESTONE_HEADER_BYTES) {
    throw new SealboxError('ERR_TRUNCATED', 'the envelope ends inside its salt and commitment');
  }
  const keys = await startDecryption(parsed, head.subarray(headerLength), options);
  return readCobblestoneRange(
    { read: (start, end) => readChecked(src, headerLength + start, headerLength + end), size: src.size === undefined ? undefined : src.size - headerLength },
    keys,
    parsed.protected.chunkSize,
    options.offset,
    options.length,
  );
}

/**
 * The ranged read over bare Cobblestone (offsets from the salt), once the keys are known and the
 * commitment checked. `source.read` must already refuse over-long answers.
 */
export async function readCobblestoneRange(source: SizedReader, keys: MessageKeys, chunkSize: number, offset: number, length: number): Promise<Uint8Array> {
  const sealedSize = chunkSize + TAG_BYTES;
  const chunkStart = (index: number) => COBBLESTONE_HEADER_BYTES + index * sealedSize;
  const end = offset + length;
  const first = Math.floor(offset / chunkSize);
  const last = length === 0 ? first : Math.floor((end - 1) / chunkSize);
  const pastEnd = () => new SealboxError('ERR_RANGE', `the range ${offset}–${end} runs past the end of the plaintext`);

  let readEnd = chunkStart(last) + sealedSize;
  if (source.size !== undefined) {
    const layout = layoutFromCiphertextLength(source.size, chunkSize);
    if (end > layout.plaintextLength) {
      await openFinal(source, keys, layout.chunkCount - 1, chunkStart(layout.chunkCount - 1), source.size, sealedSize);
      throw pastEnd();
    }
    readEnd = Math.min(readEnd, source.size);
  }
  const bytes = await source.read(chunkStart(first), readEnd);
  if (source.size !== undefined && bytes.length !== readEnd - chunkStart(first)) {
    throw new SealboxError('ERR_TRUNCATED', 'the source returned fewer bytes than its size promised');
  }
  if (bytes.length === 0) {
    // Unknown size and nothing at chunk `first`: the object ends before it. Find the final chunk.
    const final = await findLastChunk(source, chunkStart, first);
    if (final < 0) throw new SealboxError('ERR_TRUNCATED', 'the ciphertext has no chunks: it was truncated');
    await openFinal(source, keys, final, chunkStart(final), chunkStart(final) + sealedSize, sealedSize);
    throw pastEnd();
  }

  const count = Math.ceil(bytes.length / sealedSize);
  const lastPiece = bytes.length - (count - 1) * sealedSize;
  const endsShort = lastPiece < sealedSize;
  if (!endsShort && first + count - 1 < last) {
    throw new SealboxError('ERR_TRUNCATED', 'the ciphertext ends on a full-size chunk: the short final chunk is missing');
  }
  if (endsShort && lastPiece < TAG_BYTES) throw new SealboxError('ERR_TRUNCATED', 'the ciphertext ends inside a chunk tag');

  const out = new Uint8Array(length);
  let available = (first + count) * chunkSize;
  await forEachIndex(count, chunksInFlight(chunkSize), async (i) => {
    const index = first + i;
    const sealed = bytes.subarray(i * sealedSize, Math.min(bytes.length, (i + 1) * sealedSize));
    const isFinal = endsShort && i === count - 1;
    const plaintext = await openChunk(keys, index, sealed);
    if (isFinal) available = index * chunkSize + plaintext.length;
    const from = Math.max(offset, index * chunkSize);
    const to = Math.min(end, index * chunkSize + plaintext.length);
    if (to > from) out.set(plaintext.subarray(from - index * chunkSize, to - index * chunkSize), from - offset);
  });
  if (end > available || offset > available) throw pastEnd();
  return out;
}

/** Reads and authenticates the final chunk (it must be shorter than a full sealed chunk). */
async function openFinal(source: SizedReader, keys: MessageKeys, index: number, start: number, end: number, sealedSize: number): Promise<void> {
  const sealed = await source.read(start, end);
  if (sealed.length >= sealedSize || sealed.length < TAG_BYTES) {
    throw new SealboxError('ERR_TRUNCATED', 'the ciphertext does not end with a short final chunk: it was truncated');
  }
  await openChunk(keys, index, sealed);
}

/** The largest chunk index below `bound` that has at least one byte, by binary search of 1-byte reads; −1 if none. */
async function findLastChunk(source: SizedReader, chunkStart: (index: number) => number, bound: number): Promise<number> {
  let lo = -1; // known to exist (or −1)
  let hi = bound; // known not to exist
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const probe = await source.read(chunkStart(mid), chunkStart(mid) + 1);
    if (probe.length > 0) lo = mid;
    else hi = mid;
  }
  return lo;
}
