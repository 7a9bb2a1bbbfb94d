/**
 * Encrypting straight into a multipart upload. The object is byte for byte the envelope `encrypt`
 * or `EncryptStream` gives for the same data key and salt; each part is whole chunks (./parts.ts),
 * sealed where it lands, so parts are uploaded concurrently and a stopped upload resumes with only
 * the missing parts, which come out identical because each chunk is a pure function of the data
 * key, the salt and its index.
 */
import { SealboxError } from '../errors.js';
import { isBytes } from '../crypto/bytes.js';
import { type DecryptOptions, type EncryptOptions, startDecryption, startEncryption } from '../envelope/session.js';
import { resolveLimits } from '../format/constants.js';
import { parseEnvelopeHeader } from '../format/header.js';
import { COBBLESTONE_HEADER_BYTES, type MessageKeys, TAG_BYTES } from '../payload/cobblestone.js';
import { sealRun, sealedRunLength } from '../payload/seal-run.js';
import { type ResolvedEngine, resolveEngine } from '../payload/engine.js';
import { MAX_PARTS, MIN_PART_BYTES, partChunksFor } from './parts.js';
import type { MultipartTarget, UploadedPart } from './target.js';

export interface UploadRetryOptions {
  /** Tries per part, the first included (default 3). */
  attempts?: number;
  /** Backoff before the second try, in ms (default 200); doubles each try, with jitter. */
  baseDelayMs?: number;
  /** Cap of one backoff, in ms (default 5000). */
  maxDelayMs?: number;
}

export interface UploadProgress {
  /** Plaintext bytes in the parts the store has acknowledged. */
  bytes: number;
  /** The plaintext length, when the source's size is known. */
  totalBytes?: number;
  /** Parts acknowledged so far (for a resumed upload, those that had landed before included). */
  parts: number;
  /** The number of parts, when the source's size is known. */
  totalParts?: number;
  /** Parts being uploaded at this moment. */
  inFlight: number;
}

interface TransferOptions {
  target: MultipartTarget;
  /**
   * Plaintext bytes per part (default 8 MiB; at least 5 MiB, S3's minimum). Rounded up to whole
   * chunks, and grown when a source of known size would need more than 10,000 parts.
   */
  partSize?: number;
  /**
   * Parts uploaded at once (default 4). Memory holds the parts in flight, the next part (sealed,
   * waiting for room) and, while it is being sealed, its plaintext: about `concurrency + 2` parts,
   * whatever the size of the source.
   */
  concurrency?: number;
  retry?: UploadRetryOptions;
  /** Stops the upload: parts in flight are cancelled, the upload aborted, and the call rejects with ERR_ABORTED. */
  signal?: AbortSignal;
  onProgress?: (progress: UploadProgress) => void;
  /**
   * The plaintext length, for a `ReadableStream` source whose length is known (a Blob has its
   * own). It lets the part size grow for inputs larger than 10,000 parts of `partSize`.
   */
  size?: number;
}

export interface UploadEncryptedOptions extends Omit<EncryptOptions, 'plaintextLength'>, TransferOptions {
  /**
   * Called once the upload exists, before any part is sent, with what a later `resumeUpload`
   * needs: the upload id and the head (envelope header, salt and commitment: not secret). S3 cannot
   * read a part back before the upload completes, so keep both (the page's storage, or the app's
   * server) unless the target's `readHead` gives the head back. Awaited; a rejection aborts the upload.
   */
  onCreate?: (upload: { uploadId: string; head: Uint8Array }) => void | Promise<void>;
}

export interface ResumeUploadOptions extends Pick<DecryptOptions, 'keyring' | 'expectContext' | 'limits' | 'workers' | 'workerUrl'>, TransferOptions {
  uploadId: string;
  /** The head `onCreate` gave; without it, the target's `readHead` must give it. */
  head?: Uint8Array;
}

export interface UploadResult {
  uploadId: string;
  /** Every part of the object, in order. */
  parts: UploadedPart[];
  /** The object's length in bytes (the envelope). */
  size: number;
  /** The plaintext length. */
  plaintextSize: number;
  /** The object's ETag, when the store gave one on completion. */
  etag?: string;
}

/** Plaintext in parts, read in increasing order. */
interface PartSource {
  size: number | undefined;
  /** The source itself when it is a Blob: an engine's Workers then read their own slices of it. */
  blob?: Blob;
  /** Up to `length` bytes from `start` (fewer only at the end); `need: false` may skip reading and return only the length. */
  read(start: number, length: number, need: boolean): Promise<{ length: number; bytes?: Uint8Array }>;
  close(): void;
}

function blobSource(blob: Blob): PartSource {
  return {
    size: blob.size,
    blob,
    async read(start, length, need) {
      const end = Math.min(blob.size, start + length);
      if (!need) return { length: Math.max(0, end - start) };
      const bytes = new Uint8Array(await blob.slice(start, end).arrayBuffer());
      return { length: bytes.length, bytes };
    },
    close() {},
  };
}

function streamSource(stream: ReadableStream<Uint8Array>, size: number | undefined): PartSource {
  if (stream.locked) throw new SealboxError('ERR_INVALID_ARGUMENT', 'the source stream is locked: another reader has it');
  const reader = stream.getReader();
  let position = 0;
  let pending: Uint8Array | undefined;
  let done = false;
  return {
    size,
    async read(start, length) {
      if (start < position) throw new SealboxError('ERR_INVALID_ARGUMENT', 'a stream source is read once, in order');
      // The stream is read anyway; skipped bytes are read into the part's buffer and dropped.
      const out = new Uint8Array(length);
      let have = 0;
      let skip = start - position;
      while (have < length && !done) {
        let piece = pending;
        pending = undefined;
        if (!piece) {
          const next = await reader.read();
          if (next.done) {
            done = true;
            break;
          }
          if (!isBytes(next.value)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'the stream must yield Uint8Array chunks');
          piece = next.value;
        }
        if (skip > 0) {
          const dropped = Math.min(skip, piece.length);
          skip -= dropped;
          position += dropped;
          if (dropped < piece.length) pending = piece.subarray(dropped);
          continue;
        }
        const n = Math.min(piece.length, length - have);
        out.set(piece.subarray(0, n), have);
        if (n < piece.length) pending = piece.subarray(n);
        have += n;
      }
      position += have;
      const bytes = have === length ? out : out.slice(0, have);
      return { length: have, bytes };
    },
    close() {
      reader.cancel().catch(() => {});
    },
  };
}

function toPartSource(source: Blob | ReadableStream<Uint8Array>, size: number | undefined): PartSource {
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return streamSource(source, size);
  const blob = source as Partial<Blob> | null;
  if (blob && typeof blob.slice === 'function' && typeof blob.size === 'number' && typeof blob.arrayBuffer === 'function') {
    if (size !== undefined && size !== blob.size) throw new SealboxError('ERR_INVALID_ARGUMENT', `size ${size} differs from the Blob's size ${blob.size}`);
    return blobSource(source as Blob);
  }
  throw new SealboxError('ERR_INVALID_ARGUMENT', 'the source must be a Blob (a File) or a ReadableStream of Uint8Array');
}

function checkTransfer(options: TransferOptions): { concurrency: number; attempts: number; baseDelayMs: number; maxDelayMs: number } {
  const t = options.target as Partial<MultipartTarget> | undefined;
  if (!t || ['create', 'uploadPart', 'complete', 'abort', 'listParts'].some((m) => typeof t[m as keyof MultipartTarget] !== 'function')) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'options.target must be a MultipartTarget (create, uploadPart, complete, abort, listParts)');
  }
  const int = (name: string, value: number | undefined, fallback: number, min: number) => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < min) throw new SealboxError('ERR_INVALID_ARGUMENT', `${name} must be an integer ≥ ${min}`);
    return value;
  };
  return {
    concurrency: int('concurrency', options.concurrency, 4, 1),
    attempts: int('retry.attempts', options.retry?.attempts, 3, 1),
    baseDelayMs: int('retry.baseDelayMs', options.retry?.baseDelayMs, 200, 0),
    maxDelayMs: int('retry.maxDelayMs', options.retry?.maxDelayMs, 5000, 0),
  };
}

function abortError(reason: unknown): SealboxError {
  return reason instanceof SealboxError && reason.code === 'ERR_ABORTED'
    ? reason
    : new SealboxError('ERR_ABORTED', 'the upload was aborted', reason === undefined ? {} : { cause: reason });
}

/** Any failure as a SealboxError: the target's own errors are kept, others become ERR_STORAGE. */
function storageError(error: unknown, what: string): SealboxError {
  if (error instanceof SealboxError) return error;
  return new SealboxError('ERR_STORAGE', `${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Network failures, 5xx, 408 and 429 may heal; other refusals will not. */
function retryable(error: unknown): boolean {
  if (!(error instanceof SealboxError)) return true;
  if (error.code !== 'ERR_STORAGE' && error.code !== 'ERR_TIMEOUT') return false;
  const status = error.status;
  return status === undefined || status >= 500 || status === 408 || status === 429;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal.reason));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

interface Plan {
  target: MultipartTarget;
  uploadId: string;
  keys: MessageKeys;
  head: Uint8Array;
  chunkSize: number;
  partChunks: number;
  source: PartSource;
  /** Parts already in the store (resume), by number. */
  landed: Map<number, UploadedPart>;
  limits: ReturnType<typeof checkTransfer>;
  signal: AbortSignal | undefined;
  onProgress: ((progress: UploadProgress) => void) | undefined;
  /** Seals the parts in Workers (`workers`), or in this thread when undefined. */
  engine?: ResolvedEngine | undefined;
}

/** `transfer`, with the engine `workers` asks for (started for this upload and ended after it, unless shared). */
async function transferWith(plan: Plan, options: Pick<UploadEncryptedOptions, 'workers' | 'workerUrl'>): Promise<UploadResult> {
  const engine = await resolveEngine(options, plan.keys);
  try {
    return await transfer({ ...plan, engine });
  } finally {
    engine?.release();
  }
}

/**
 * Reads, seals and uploads every part not yet in the store, `concurrency` at once, then completes.
 * On a final failure or an abort, stops, aborts the upload and rejects.
 */
async function transfer(plan: Plan): Promise<UploadResult> {
  const { target, uploadId, keys, head, chunkSize, partChunks, source, limits } = plan;
  const stop = new AbortController();
  let failure: { error: SealboxError } | undefined;
  const fail = (error: SealboxError) => {
    failure ??= { error };
    stop.abort(error);
  };
  const onUserAbort = () => fail(abortError(plan.signal!.reason));
  if (plan.signal?.aborted) onUserAbort();
  plan.signal?.addEventListener('abort', onUserAbort, { once: true });

  const partBytes = partChunks * chunkSize;
  const size = source.size;
  const totalParts = size === undefined ? undefined : Math.ceil((Math.floor(size / chunkSize) + 1) / partChunks);
  const done = new Map<number, UploadedPart>();
  const inFlight = new Set<Promise<void>>();
  let plaintextDone = 0;
  let plaintextSize = 0;
  const progress = () =>
    plan.onProgress?.({
      bytes: plaintextDone,
      ...(size === undefined ? {} : { totalBytes: size }),
      parts: done.size,
      ...(totalParts === undefined ? {} : { totalParts }),
      inFlight: inFlight.size,
    });

  const send = async (partNumber: number, body: Uint8Array, plaintextLength: number) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const etag = await target.uploadPart(uploadId, partNumber, body, stop.signal);
        if (typeof etag !== 'string' || etag === '') throw new SealboxError('ERR_STORAGE', `the store gave no ETag for part ${partNumber}`);
        done.set(partNumber, { partNumber, etag, size: body.length });
        plaintextDone += plaintextLength;
        return;
      } catch (error) {
        if (stop.signal.aborted) return;
        if (attempt >= limits.attempts || !retryable(error)) {
          const cause = storageError(error, `uploading part ${partNumber}`);
          return fail(attempt > 1 ? new SealboxError(cause.code, `${cause.message} (after ${attempt} tries)`, { cause, ...(cause.status === undefined ? {} : { status: cause.status }) }) : cause);
        }
        const cap = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** (attempt - 1));
        try {
          await sleep(cap / 2 + (Math.random() * cap) / 2, stop.signal);
        } catch {
          return;
        }
      }
    }
  };

  try {
    for (let partNumber = 1; !failure; partNumber++) {
      if (partNumber > MAX_PARTS) {
        throw new SealboxError('ERR_LIMIT', `the source needs more than ${MAX_PARTS} parts of ${partBytes} bytes: give its size, or a larger partSize`);
      }
      const start = (partNumber - 1) * partBytes;
      const landed = plan.landed.get(partNumber);
      // With Workers and a Blob, the Workers read the part's slices: this thread only learns its length.
      const workersRead = plan.engine ? source.blob : undefined;
      const read = await source.read(start, partBytes, !landed && !workersRead);
      const final = read.length < partBytes;
      const offset = partNumber === 1 ? head.length : 0;
      const length = offset + sealedRunLength(read.length, chunkSize, final);
      plaintextSize += read.length;
      if (landed && landed.size === length) {
        done.set(partNumber, landed);
        plaintextDone += read.length;
        progress();
      } else {
        if (landed && !read.bytes && !workersRead) {
          // A Blob part that landed with another length: re-read it and upload it again.
          Object.assign(read, await source.read(start, partBytes, true));
        }
        const body = new Uint8Array(length);
        if (partNumber === 1) body.set(head);
        const plaintext = workersRead ? { blob: workersRead, start, end: start + read.length } : read.bytes!;
        await sealRun(keys, chunkSize, (partNumber - 1) * partChunks, plaintext, final, body, offset, plan.engine?.engine);
        read.bytes = undefined;
        while (inFlight.size >= limits.concurrency && !failure) await Promise.race(inFlight);
        if (failure) break;
        const task: Promise<void> = send(partNumber, body, read.length).then(() => {
          inFlight.delete(task);
          if (!failure) progress();
        });
        inFlight.add(task);
      }
      if (final) {
        for (const n of plan.landed.keys()) {
          if (n > partNumber) {
            throw new SealboxError('ERR_INVALID_ARGUMENT', `the upload has part ${n} but this source ends in part ${partNumber}: it is not the source the upload started with`);
          }
        }
        break;
      }
    }
    while (inFlight.size > 0) await Promise.race(inFlight);
    if (failure) throw failure.error;
    const parts = [...done.values()].sort((a, b) => a.partNumber - b.partNumber);
    let completed: { etag?: string } | void;
    try {
      completed = await target.complete(uploadId, parts);
    } catch (error) {
      throw storageError(error, 'completing the upload');
    }
    const result: UploadResult = { uploadId, parts, size: parts.reduce((sum, p) => sum + p.size, 0), plaintextSize };
    if (completed && typeof completed.etag === 'string' && completed.etag !== '') result.etag = completed.etag;
    return result;
  } catch (error) {
    const final = failure?.error ?? (error instanceof SealboxError ? error : storageError(error, 'the upload'));
    fail(final);
    while (inFlight.size > 0) await Promise.race(inFlight);
    await target.abort(uploadId).catch(() => {});
    throw final;
  } finally {
    plan.signal?.removeEventListener('abort', onUserAbort);
    source.close();
  }
}

/**
 * Encrypts `source` into a new multipart upload: one data key from the keyring, then parts of
 * whole chunks (part 1 starts with the envelope header), `concurrency` parts in flight, each
 * failed part retried with capped exponential backoff and jitter. The finished object is the
 * Sealbox envelope, exactly as `encrypt` would make it with the same key and salt, so
 * `decrypt`, `DecryptStream` and `decryptRange` (over `httpRangeSource`) read it. With `workers`,
 * the parts' chunks are sealed in dedicated Workers (the same bytes).
 *
 * @example
 * ```ts
 * const target = s3MultipartTarget({
 *   create: () => api('/uploads', { key }),                 // your server: CreateMultipartUpload
 *   presignPart: (uploadId, n) => api('/uploads/part', { key, uploadId, n }),
 *   complete: (uploadId, parts) => api('/uploads/complete', { key, uploadId, parts }),
 *   abort: (uploadId) => api('/uploads/abort', { key, uploadId }),
 *   listParts: (uploadId) => api('/uploads/parts', { key, uploadId }),
 * });
 * const { uploadId, size } = await uploadEncrypted(file, {
 *   keyring, context: { tenant }, target,
 *   onCreate: ({ uploadId, head }) => saveForResume(file.name, uploadId, head),
 *   onProgress: ({ bytes, totalBytes }) => bar.update(bytes / totalBytes!),
 * });
 * ```
 */
export async function uploadEncrypted(source: Blob | ReadableStream<Uint8Array>, options: UploadEncryptedOptions): Promise<UploadResult> {
  if (!options || typeof options !== 'object') throw new SealboxError('ERR_INVALID_ARGUMENT', 'uploadEncrypted needs options with a keyring and a target');
  const limits = checkTransfer(options);
  if (options.signal?.aborted) throw abortError(options.signal.reason);
  const parts = toPartSource(source, options.size);
  let uploadId: string | undefined;
  try {
    const session = await startEncryption({ ...options, ...(parts.size === undefined ? {} : { plaintextLength: parts.size }) });
    const partChunks = partChunksFor(session.chunkSize, options.partSize, parts.size);
    try {
      uploadId = await options.target.create({ head: session.head, ...(parts.size === undefined ? {} : { size: parts.size }) });
    } catch (error) {
      throw storageError(error, 'creating the upload');
    }
    if (typeof uploadId !== 'string' || uploadId === '') throw new SealboxError('ERR_STORAGE', 'the target gave no upload id');
    if (options.onCreate) {
      try {
        await options.onCreate({ uploadId, head: session.head });
      } catch (error) {
        await options.target.abort(uploadId).catch(() => {});
        throw error;
      }
    }
    return await transferWith(
      {
        target: options.target,
        uploadId,
        keys: session.keys,
        head: session.head,
        chunkSize: session.chunkSize,
        partChunks,
        source: parts,
        landed: new Map(),
        limits,
        signal: options.signal,
        onProgress: options.onProgress,
      },
      options,
    );
  } finally {
    parts.close();
  }
}

/**
 * Finishes an upload that `uploadEncrypted` started and that stopped (a closed tab, a lost
 * network): lists the parts that landed, recovers the data key by unwrapping the head (from
 * `options.head` or the target's `readHead`) through the keyring, checks the key commitment, then
 * seals and uploads only the missing parts and completes. The object is byte-identical to the one
 * an uninterrupted upload would have made. `source` must be the same bytes as before: a part whose
 * stored length does not match is uploaded again, a source that is shorter or longer than the
 * parts in the store is refused, but equal-length different bytes cannot be told apart.
 *
 * @example
 * ```ts
 * const { uploadId, head } = loadForResume(file.name);
 * await resumeUpload(file, { keyring, target, uploadId, head });
 * ```
 */
export async function resumeUpload(source: Blob | ReadableStream<Uint8Array>, options: ResumeUploadOptions): Promise<UploadResult> {
  if (!options || typeof options !== 'object') throw new SealboxError('ERR_INVALID_ARGUMENT', 'resumeUpload needs options with a keyring, a target and an uploadId');
  const limits = checkTransfer(options);
  if (typeof options.uploadId !== 'string' || options.uploadId === '') throw new SealboxError('ERR_INVALID_ARGUMENT', 'resumeUpload needs the uploadId');
  if (options.signal?.aborted) throw abortError(options.signal.reason);
  const { target, uploadId } = options;
  const parts = toPartSource(source, options.size);
  try {
    let head = options.head;
    if (head === undefined && target.readHead) {
      try {
        head = await target.readHead(uploadId);
      } catch (error) {
        throw storageError(error, 'reading the upload head');
      }
    }
    if (!isBytes(head)) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'resumeUpload needs the head that onCreate gave (options.head), or a target whose readHead gives it');
    }
    const parsed = parseEnvelopeHeader(head, resolveLimits(options.limits));
    if (head.length !== parsed.headerLength + COBBLESTONE_HEADER_BYTES) {
      throw new SealboxError('ERR_FORMAT', 'the head must be the envelope header, the salt and the commitment, and nothing else');
    }
    const keys = await startDecryption(parsed, head.subarray(parsed.headerLength), options);
    const chunkSize = parsed.protected.chunkSize;
    let listed: UploadedPart[];
    try {
      listed = await target.listParts(uploadId);
    } catch (error) {
      throw storageError(error, 'listing the parts');
    }
    const landed = new Map(listed.map((p) => [p.partNumber, p]));
    const partChunks = resumedPartChunks(listed, head.length, chunkSize, options.partSize, parts.size);
    return await transferWith({ target, uploadId, keys, head, chunkSize, partChunks, source: parts, landed, limits, signal: options.signal, onProgress: options.onProgress }, options);
  } finally {
    parts.close();
  }
}

/**
 * The part size the first attempt used: read off any full part in the store (its chunk bytes are a
 * whole number of sealed chunks, which a last part's never are), else worked out as
 * `uploadEncrypted` does. A `partSize` that disagrees with the stored parts is refused.
 */
function resumedPartChunks(listed: readonly UploadedPart[], headLength: number, chunkSize: number, partSize: number | undefined, size: number | undefined): number {
  const sealed = chunkSize + TAG_BYTES;
  let seen: number | undefined;
  for (const part of listed) {
    const bytes = part.size - (part.partNumber === 1 ? headLength : 0);
    if (bytes > 0 && bytes % sealed === 0 && bytes >= MIN_PART_BYTES) {
      if (seen !== undefined && seen !== bytes / sealed) {
        throw new SealboxError('ERR_INVALID_ARGUMENT', 'the stored parts have different sizes: this is not an upload uploadEncrypted made');
      }
      seen = bytes / sealed;
    }
  }
  if (seen === undefined) return partChunksFor(chunkSize, partSize, size);
  if (partSize !== undefined && partChunksFor(chunkSize, partSize, size) !== seen) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', `the stored parts hold ${seen} chunks each, not what partSize ${partSize} gives: resume with the first attempt's partSize`);
  }
  return seen;
}
