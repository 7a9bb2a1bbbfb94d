/**
 * A `RangeSource` over HTTP `Range` requests: an S3 object through a presigned GET URL, or any
 * server that answers `206 Partial Content`. The first answer fixes the object: its size (from
 * `Content-Range`) and its `ETag`, which every later request sends as `If-Match`, so a read that
 * spans a replacement of the object fails (ERR_SOURCE_CHANGED) instead of mixing two versions.
 */
import { SealboxError } from '../errors.js';
import { type Fetch, failed, send } from './http.js';

export interface HttpRangeSourceOptions {
  /** Headers for every request (e.g. `Authorization`); `Range` and `If-Match` are set here. */
  headers?: Record<string, string>;
  fetch?: Fetch;
  /** Aborts requests in flight and fails later ones (ERR_ABORTED). */
  signal?: AbortSignal;
}

/** A `RangeSource` for `decryptRange`, whose size and ETag are known after the first read. */
export interface HttpRangeSource {
  /** Bytes [start, end) of the object; fewer only at its end, none past it. */
  read(start: number, end: number): Promise<Uint8Array>;
  /** The object's size, once an answer has given it. */
  readonly size: number | undefined;
  /** The ETag pinned by the first answer (undefined until then, or if the server sends none). */
  readonly etag: string | undefined;
  /**
   * The object from `start` as a stream of ranged reads of `pieceBytes` (default 8 MiB), pinned to
   * the same ETag: for `DecryptStream`, resumable per piece and safe against a replaced object.
   */
  stream(options?: { start?: number; pieceBytes?: number }): ReadableStream<Uint8Array>;
}

function changed(detail: string): SealboxError {
  return new SealboxError('ERR_SOURCE_CHANGED', `the object changed while it was being read (${detail})`);
}

/** Content-Range: `bytes a-b/N`, or `bytes` then an asterisk then `/N` (416). */
function parseContentRange(value: string | null): { start?: number; end?: number; size?: number } | undefined {
  const match = value ? /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim()) : null;
  if (!match) return undefined;
  return {
    ...(match[1] === undefined ? {} : { start: Number(match[1]), end: Number(match[2]) + 1 }),
    ...(match[3] === '*' ? {} : { size: Number(match[3]) }),
  };
}

/** Reads at most `limit` bytes of a body and drops the rest. */
async function readUpTo(response: Response, skip: number, limit: number): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const out = new Uint8Array(limit);
  let have = 0;
  try {
    while (have < limit) {
      const { value, done } = await reader.read();
      if (done) break;
      let piece = value;
      if (skip > 0) {
        const dropped = Math.min(skip, piece.length);
        skip -= dropped;
        piece = piece.subarray(dropped);
      }
      const n = Math.min(piece.length, limit - have);
      out.set(piece.subarray(0, n), have);
      have += n;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return have === limit ? out : out.slice(0, have);
}

/**
 * A range source over HTTP for `decryptRange` (and, through `stream()`, `DecryptStream`). In a
 * browser reading S3, the bucket's CORS rules must allow the `Range` and `If-Match` request headers
 * and expose `Content-Range` and `ETag`. Every failure is a SealboxError: ERR_STORAGE (with the
 * HTTP `status`) for refusals and network failures, ERR_SOURCE_CHANGED when the object is not the
 * one the first answer described.
 *
 * @example
 * ```ts
 * const source = httpRangeSource(presignedGetUrl);
 * // Reads the header, the salt and commitment, and the chunks covering bytes 1 MiB … 1 MiB + 64 KiB.
 * const preview = await decryptRange(source, { keyring, offset: 1 << 20, length: 65536 });
 * ```
 */
export function httpRangeSource(url: string, options: HttpRangeSourceOptions = {}): HttpRangeSource {
  if (typeof url !== 'string' || url === '') throw new SealboxError('ERR_INVALID_ARGUMENT', 'httpRangeSource needs a URL');
  const fetchImpl: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  let size: number | undefined;
  let etag: string | undefined;
  let answered = false;

  const learnSize = (value: number | undefined) => {
    if (value === undefined) return;
    if (size !== undefined && size !== value) throw changed(`its size went from ${size} to ${value} bytes`);
    size = value;
  };

  async function read(start: number, end: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'a range is two non-negative safe integers');
    }
    if (end <= start || (size !== undefined && start >= size)) return new Uint8Array(0);
    if (options.signal?.aborted) throw new SealboxError('ERR_ABORTED', 'the read was aborted', { cause: options.signal.reason });
    const headers = new Headers(options.headers);
    headers.set('Range', `bytes=${start}-${end - 1}`);
    if (etag !== undefined) headers.set('If-Match', etag);
    const what = `reading bytes ${start}-${end - 1}`;
    const response = await send(fetchImpl, url, { headers, ...(options.signal ? { signal: options.signal } : {}) }, what);
    if (response.status === 412) {
      await response.body?.cancel().catch(() => {});
      throw changed('the store answered 412 to If-Match');
    }
    const tag = response.headers.get('etag') ?? undefined;
    if (answered && etag !== undefined && tag !== undefined && tag !== etag) {
      await response.body?.cancel().catch(() => {});
      throw changed(`its ETag went from ${etag} to ${tag}`);
    }
    if (response.status === 416) {
      await response.body?.cancel().catch(() => {});
      learnSize(parseContentRange(response.headers.get('content-range'))?.size);
      if (!answered) {
        answered = true;
        etag = tag;
      }
      return new Uint8Array(0);
    }
    if (!response.ok) throw await failed(response, what);
    if (!answered) {
      answered = true;
      etag = tag;
    }
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      if (range?.start !== undefined && range.start !== start) {
        await response.body?.cancel().catch(() => {});
        throw new SealboxError('ERR_STORAGE', `${what}: the server answered bytes from ${range.start}`, { status: 206 });
      }
      learnSize(range?.size);
      const bytes = await readUpTo(response, 0, end - start);
      const expected = range?.end !== undefined ? Math.min(range.end, end) - start : undefined;
      if (expected !== undefined && bytes.length !== expected) {
        throw new SealboxError('ERR_STORAGE', `${what}: the answer ended after ${bytes.length} of ${expected} bytes`, { status: 206 });
      }
      return bytes;
    }
    // 200: the server ignored Range and sends the whole object; keep the part asked for.
    const length = response.headers.get('content-length');
    if (length !== null && /^\d+$/.test(length)) learnSize(Number(length));
    return readUpTo(response, start, end - start);
  }

  return {
    read,
    get size() {
      return size;
    },
    get etag() {
      return etag;
    },
    stream({ start = 0, pieceBytes = 8 * 1024 * 1024 } = {}) {
      if (!Number.isSafeInteger(pieceBytes) || pieceBytes <= 0) throw new SealboxError('ERR_INVALID_ARGUMENT', 'pieceBytes must be a positive integer');
      let position = start;
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            const bytes = await read(position, position + pieceBytes);
            position += bytes.length;
            if (bytes.length > 0) controller.enqueue(bytes);
            if (bytes.length < pieceBytes || (size !== undefined && position >= size)) controller.close();
          },
        },
        { highWaterMark: 0 },
      );
    },
  };
}
