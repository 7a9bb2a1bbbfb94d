/**
 * The file commands on `s3://bucket/key`: encrypt into a multipart upload (`uploadEncrypted`),
 * decrypt and inspect with ranged GETs (`httpRangeSource`, pinned to the object's ETag), rewrap by
 * writing a new object whose body is copied inside S3. Loaded only when an s3:// URL is used.
 */
import { SealboxError } from '../../../sdk/errors.js';
import type { EncryptionContext } from '../../../sdk/format/header.js';
import type { Keyring } from '../../../sdk/keyring/types.js';
import { inspect } from '../../../sdk/envelope/inspect.js';
import type { HeaderInfo } from '../../../sdk/format/header.js';
import { rewrapHeader, type RewrapOptions } from '../../../sdk/envelope/rewrap.js';
import { layoutFromCiphertextLength } from '../../../sdk/payload/cobblestone.js';
import { uploadEncrypted, type UploadResult } from '../../../sdk/storage/upload.js';
import { s3MultipartTarget } from '../../../sdk/storage/s3.js';
import { httpRangeSource, type HttpRangeSource } from '../../../sdk/storage/http-range.js';
import { openInput, openOutput } from './io.js';
import { Progress } from './progress.js';
import { decryptTransform } from './pipeline.js';
import { formatBytes } from './format.js';
import { type S3Flags, type S3Location, notFound, openS3, readHeadRanged } from './s3.js';

const MiB = 1024 * 1024;
/** Presigned GETs live this long: a long download reuses one URL for all its ranged reads. */
const GET_EXPIRES_SECONDS = 12 * 3600;
/** Objects whose body is at most this are rewrapped by one PutObject (download and upload). */
export const REWRAP_COPY_THRESHOLD = 16 * MiB;
/** Body bytes that go up again with the new header in part 1 (S3's minimum part size). */
export const REWRAP_FIRST_PART_BODY = 5 * MiB;

/** Ctrl-C or SIGTERM aborts the work (and so the multipart upload) instead of leaving it behind. */
function interruptible(): { signal: AbortSignal; interrupted: () => boolean; release: () => void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new SealboxError('ERR_ABORTED', 'interrupted: the upload was aborted, no object was written'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    interrupted: () => controller.signal.aborted,
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export interface EncryptToS3 {
  flags: S3Flags;
  location: S3Location;
  inputPath: string | undefined;
  keyring: Keyring;
  context?: EncryptionContext;
  chunkSize?: number;
  partSize?: number;
  concurrency?: number;
  quiet: boolean;
}

/** Streams a file or stdin through `uploadEncrypted` into a multipart upload; Ctrl-C aborts it. */
export async function encryptToS3(options: EncryptToS3): Promise<UploadResult> {
  const { storage } = await openS3(options.flags, options.location);
  const input = await openInput(options.inputPath);
  const progress = new Progress('encrypt', input.size, !options.quiet && process.stderr.isTTY === true);
  const stop = interruptible();
  let reported = 0;
  try {
    const result = await uploadEncrypted(input.stream, {
      keyring: options.keyring,
      target: s3MultipartTarget(storage.callbacks(options.location.key)),
      signal: stop.signal,
      // Parts sealed on worker_threads (main.ts calls useNodeWorkers), so this thread keeps the HTTP moving.
      workers: 'auto',
      ...(options.context ? { context: options.context } : {}),
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
      ...(options.partSize ? { partSize: options.partSize } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(input.size === undefined ? {} : { size: input.size }),
      onProgress(p) {
        progress.add(p.bytes - reported);
        reported = p.bytes;
      },
    });
    progress.finish();
    return result;
  } catch (error) {
    await input.stream.cancel().catch(() => {});
    throw notFound(error, options.location);
  } finally {
    stop.release();
    storage.close();
  }
}

/** A presigned GET URL and a range source over it. */
async function rangeSource(flags: S3Flags, location: S3Location): Promise<{ source: HttpRangeSource; close: () => void }> {
  const { storage } = await openS3(flags, location);
  try {
    const url = await storage.presignGet(location.key, { expiresIn: GET_EXPIRES_SECONDS });
    return { source: httpRangeSource(url), close: () => storage.close() };
  } catch (error) {
    storage.close();
    throw error;
  }
}

export interface DecryptFromS3 {
  flags: S3Flags;
  location: S3Location;
  output: string | undefined;
  keyring: Keyring;
  expectContext?: EncryptionContext;
  quiet: boolean;
}

/**
 * Ranged GETs of 8 MiB, pinned to the first answer's ETag, through `DecryptStream`: a file output
 * is renamed into place only once every chunk authenticated (stdout may get a partial plaintext
 * before an error, as for files).
 */
export async function decryptFromS3(options: DecryptFromS3): Promise<void> {
  const { source, close } = await rangeSource(options.flags, options.location);
  const output = await openOutput(options.output, { mode: 0o600 });
  const enabled = !options.quiet && process.stderr.isTTY === true;
  let progress: Progress | undefined;
  const counting = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      // The size is known once the first ranged answer came.
      progress ??= new Progress('decrypt', source.size, enabled);
      progress.add(chunk.length);
      controller.enqueue(chunk);
    },
    flush() {
      progress?.finish();
    },
  });
  try {
    const transform = decryptTransform({ keyring: options.keyring, ...(options.expectContext ? { expectContext: options.expectContext } : {}) });
    await source.stream({ pieceBytes: 8 * MiB }).pipeThrough(counting).pipeThrough(transform).pipeTo(output.writable);
    await output.commit();
  } catch (error) {
    await output.abort();
    throw notFound(error, options.location);
  } finally {
    close();
  }
}

export interface InspectedObject {
  header: HeaderInfo;
  size: number | undefined;
  /** Bytes the ranged GETs returned. */
  bytesRead: number;
  plaintextLength: number | null;
  chunkCount: number | null;
  layoutError?: string;
}

/** The header from the object's first bytes (one ranged GET of 4 KiB; a second for a longer header). */
export async function inspectS3(flags: S3Flags, location: S3Location): Promise<InspectedObject> {
  const { source, close } = await rangeSource(flags, location);
  try {
    const { head, read } = await readHeadRanged(source);
    const header = await inspect(head);
    const out: InspectedObject = { header, size: source.size, bytesRead: read, plaintextLength: null, chunkCount: null };
    if (source.size !== undefined) {
      try {
        const layout = layoutFromCiphertextLength(source.size - header.headerLength, header.chunkSize);
        out.plaintextLength = layout.plaintextLength;
        out.chunkCount = layout.chunkCount;
      } catch (error) {
        out.layoutError = (error as Error).message;
      }
    }
    return out;
  } catch (error) {
    throw notFound(error, location);
  } finally {
    close();
  }
}

export interface RewrapS3Result {
  before: HeaderInfo;
  after: HeaderInfo;
  /** 'put': small object, downloaded and written again; 'copy': multipart, the body copied inside S3. */
  method: 'put' | 'copy';
  size: number;
  /** Body bytes that went through this machine (down and up again). */
  bodyBytesTransferred: number;
  /** Body bytes copied inside S3 (UploadPartCopy). */
  bodyBytesCopied: number;
  parts: number;
}

/**
 * S3 cannot change bytes of an object in place, so rewrap writes a new object (to the same key, or
 * to `to`), made of the new header and the unchanged body:
 *  - body ≤ 16 MiB: the body is downloaded (ranged GET, pinned to the ETag) and PutObject writes
 *    the new object;
 *  - larger: a multipart upload whose part 1 is the new header plus the body's first 5 MiB
 *    (downloaded and uploaded again: S3's minimum part size), and whose other parts are
 *    UploadPartCopy of the rest of the body from the old object (`x-amz-copy-source-if-match`
 *    its ETag, so a replaced object fails the copy), done inside S3.
 * Either way the old object stays readable until the new one replaces it at the end. The new
 * object has a new ETag and the default content type; other metadata and tags are not copied.
 */
export async function rewrapS3(flags: S3Flags, location: S3Location, to: S3Location, options: RewrapOptions): Promise<RewrapS3Result> {
  const { storage, s3 } = await openS3(flags, location);
  try {
    const source = httpRangeSource(await storage.presignGet(location.key, { expiresIn: GET_EXPIRES_SECONDS }));
    const { head, headLength } = await readHeadRanged(source);
    const size = source.size;
    const etag = source.etag;
    if (size === undefined) throw new SealboxError('ERR_STORAGE', 'the store did not say the object size (Content-Range)');
    if (size < headLength) throw new SealboxError('ERR_TRUNCATED', 'the object ends inside its header, salt or commitment');
    const oldHead = head.subarray(0, headLength);
    const before = await inspect(oldHead);
    const newHead = await rewrapHeader(oldHead, options);
    const after = await inspect(newHead);
    const body = size - headLength;
    const client = await storage.client();
    const concat = (a: Uint8Array, b: Uint8Array) => {
      const out = new Uint8Array(a.length + b.length);
      out.set(a, 0);
      out.set(b, a.length);
      return out;
    };
    const readBody = async (end: number) => {
      const bytes = await source.read(headLength, end);
      if (bytes.length !== end - headLength) throw new SealboxError('ERR_STORAGE', `reading the body: got ${bytes.length} of ${end - headLength} bytes`);
      return bytes;
    };
    const wrap = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
      try {
        return await run();
      } catch (error) {
        if (error instanceof SealboxError) throw error;
        const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
        throw new SealboxError('ERR_STORAGE', `${what}: ${e.name ?? 'error'}: ${e.message ?? String(error)}`, {
          cause: error,
          ...(e.$metadata?.httpStatusCode === undefined ? {} : { status: e.$metadata.httpStatusCode }),
          ...(e.$metadata?.requestId === undefined ? {} : { requestId: e.$metadata.requestId }),
        });
      }
    };

    if (body <= REWRAP_COPY_THRESHOLD) {
      const bytes = concat(newHead, await readBody(size));
      await wrap('writing the new object', () =>
        client.send(new s3.PutObjectCommand({ Bucket: to.bucket, Key: to.key, Body: bytes, ContentType: 'application/octet-stream', ContentLength: bytes.length })),
      );
      return { before, after, method: 'put', size: bytes.length, bodyBytesTransferred: body, bodyBytesCopied: 0, parts: 1 };
    }

    if (etag === undefined) throw new SealboxError('ERR_STORAGE', 'the store gave no ETag for the object: cannot pin the copy to it');
    const firstEnd = headLength + REWRAP_FIRST_PART_BODY;
    const rest = size - firstEnd;
    // ≤ 10,000 parts in all, each ≤ 5 GiB; 256 MiB copies by default.
    const copySize = Math.max(256 * MiB, Math.ceil(rest / 9_999));
    if (copySize > 5 * 1024 * MiB) throw new SealboxError('ERR_LIMIT', 'the object is too large to rewrap by multipart copy');
    const created = await wrap('creating the upload', () =>
      client.send(new s3.CreateMultipartUploadCommand({ Bucket: to.bucket, Key: to.key, ContentType: 'application/octet-stream' })),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new SealboxError('ERR_STORAGE', 'creating the upload: S3 gave no UploadId');
    const copySource = `${location.bucket}/${location.key.split('/').map(encodeURIComponent).join('/')}`;
    try {
      const parts: { PartNumber: number; ETag: string }[] = [];
      const first = concat(newHead, await readBody(firstEnd));
      const part1 = await wrap('uploading part 1', () =>
        client.send(new s3.UploadPartCommand({ Bucket: to.bucket, Key: to.key, UploadId: uploadId, PartNumber: 1, Body: first, ContentLength: first.length })),
      );
      parts.push({ PartNumber: 1, ETag: part1.ETag! });
      for (let start = firstEnd, partNumber = 2; start < size; start += copySize, partNumber++) {
        const end = Math.min(size, start + copySize);
        const copied = await wrap(`copying part ${partNumber}`, () =>
          client.send(
            new s3.UploadPartCopyCommand({
              Bucket: to.bucket,
              Key: to.key,
              UploadId: uploadId,
              PartNumber: partNumber,
              CopySource: copySource,
              CopySourceRange: `bytes=${start}-${end - 1}`,
              CopySourceIfMatch: etag,
            }),
          ),
        );
        const partEtag = copied.CopyPartResult?.ETag;
        if (!partEtag) throw new SealboxError('ERR_STORAGE', `copying part ${partNumber}: S3 gave no ETag`);
        parts.push({ PartNumber: partNumber, ETag: partEtag });
      }
      await wrap('completing the upload', () =>
        client.send(new s3.CompleteMultipartUploadCommand({ Bucket: to.bucket, Key: to.key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
      );
      return {
        before,
        after,
        method: 'copy',
        size: newHead.length + body,
        bodyBytesTransferred: REWRAP_FIRST_PART_BODY,
        bodyBytesCopied: rest,
        parts: parts.length,
      };
    } catch (error) {
      await client.send(new s3.AbortMultipartUploadCommand({ Bucket: to.bucket, Key: to.key, UploadId: uploadId })).catch(() => {});
      if (error instanceof SealboxError && error.status === 412) {
        throw new SealboxError('ERR_SOURCE_CHANGED', `the object changed while it was being rewrapped (${error.message})`, { cause: error });
      }
      throw error;
    }
  } catch (error) {
    throw notFound(error, location);
  } finally {
    storage.close();
  }
}

export function describeRewrap(result: RewrapS3Result): string {
  return result.method === 'put'
    ? `a new object of ${formatBytes(result.size)} (PutObject; the body went down and up again)`
    : `a new object of ${formatBytes(result.size)} in ${result.parts} parts: header + ${formatBytes(result.bodyBytesTransferred)} uploaded, ${formatBytes(result.bodyBytesCopied)} copied inside S3`;
}
