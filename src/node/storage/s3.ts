/**
 * The server side of `s3MultipartTarget`, on `@aws-sdk/client-s3` and
 * `@aws-sdk/s3-request-presigner` (optional dependencies, loaded on first use; Node only): an app's
 * server, the CLI and the demo create, complete, abort and list multipart uploads with their own
 * credentials and hand out presigned URLs for the parts and for ranged GETs.
 *
 * URLs are presigned with `requestChecksumCalculation: 'WHEN_REQUIRED'`: by default a recent SDK
 * signs an `x-amz-checksum-crc32` of an empty body into presigned PUT URLs, which real AWS S3 then
 * holds against the part that arrives.
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { SealboxError } from '../../sdk/errors.js';
import type { S3Operation, S3PresignCallbacks, S3ServerCallbacks } from '../../sdk/storage/s3.js';
import type { UploadInit, UploadedPart } from '../../sdk/storage/target.js';

type S3Module = typeof import('@aws-sdk/client-s3');
type PresignerModule = typeof import('@aws-sdk/s3-request-presigner');

let modules: Promise<{ s3: S3Module; presigner: PresignerModule }> | undefined;
function load(): Promise<{ s3: S3Module; presigner: PresignerModule }> {
  modules ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/s3-request-presigner')]).then(
    ([s3, presigner]) => ({ s3, presigner }),
    (error: unknown) => {
      modules = undefined;
      throw new SealboxError('ERR_UNSUPPORTED', 'S3 support needs the optional packages @aws-sdk/client-s3 and @aws-sdk/s3-request-presigner', { cause: error });
    },
  );
  return modules;
}

export interface S3StorageOptions {
  bucket: string;
  /** An S3Client of your own; otherwise one is made from the fields below and the usual AWS variables. */
  client?: S3Client;
  /** e.g. `http://127.0.0.1:7480` for Ceph RGW or MinIO; path-style addressing is then used. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style URLs (default: true when `endpoint` is given). */
  forcePathStyle?: boolean;
  /** Lifetime of presigned URLs in seconds (default 900). */
  expiresIn?: number;
}

/** What S3 and the presigner do for one bucket, in the shapes `s3MultipartTarget` takes. */
export interface S3Storage {
  readonly bucket: string;
  client(): Promise<S3Client>;
  createMultipart(key: string, options?: { contentType?: string }): Promise<string>;
  presignPart(key: string, uploadId: string, partNumber: number): Promise<string>;
  complete(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<{ etag?: string }>;
  /** Resolves when the upload is gone, also when it was gone already. */
  abort(key: string, uploadId: string): Promise<void>;
  listParts(key: string, uploadId: string): Promise<UploadedPart[]>;
  /** A presigned GET URL (for `httpRangeSource`). */
  presignGet(key: string, options?: { expiresIn?: number }): Promise<string>;
  /** Presigns one request of a multipart upload (mode (b) of `s3MultipartTarget`). */
  presign(key: string, operation: S3Operation): Promise<string>;
  /** Mode (a) callbacks for one object key, for use in the same process (tests, CLI, a server's handlers). */
  callbacks(key: string, options?: { onCreate?: (init: UploadInit, uploadId: string) => void }): S3ServerCallbacks;
  /** Mode (b) callbacks for one object key. */
  presignCallbacks(key: string): S3PresignCallbacks;
  /** Stops the client's sockets. */
  close(): void;
}

/**
 * S3 helpers for one bucket.
 *
 * @example
 * ```ts
 * const s3 = s3Storage({ bucket: 'uploads', endpoint: process.env.S3_ENDPOINT });
 * const target = s3MultipartTarget(s3.callbacks('reports/q3.pdf.sbx'));
 * await uploadEncrypted(file, { keyring, target });
 * const source = httpRangeSource(await s3.presignGet('reports/q3.pdf.sbx'));
 * ```
 */
export function s3Storage(options: S3StorageOptions): S3Storage {
  if (!options || typeof options.bucket !== 'string' || options.bucket === '') throw new SealboxError('ERR_INVALID_ARGUMENT', 's3Storage needs a bucket');
  const { bucket } = options;
  const expiresIn = options.expiresIn ?? 900;
  let clientPromise: Promise<S3Client> | undefined;
  const client = () =>
    (clientPromise ??= load().then(({ s3 }) => {
      if (options.client) return options.client;
      const config: S3ClientConfig = {
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
        region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      };
      if (options.endpoint !== undefined) config.endpoint = options.endpoint;
      if (options.credentials) config.credentials = options.credentials;
      return new s3.S3Client(config);
    }));
  const wrap = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SealboxError) throw error;
      const meta = (error as { $metadata?: { httpStatusCode?: number; requestId?: string }; name?: string; message?: string }) ?? {};
      throw new SealboxError('ERR_STORAGE', `${what}: ${meta.name ?? 'error'}: ${meta.message ?? String(error)}`, {
        cause: error,
        ...(meta.$metadata?.httpStatusCode === undefined ? {} : { status: meta.$metadata.httpStatusCode }),
        ...(meta.$metadata?.requestId === undefined ? {} : { requestId: meta.$metadata.requestId }),
      });
    }
  };
  // getSignedUrl is generic over the command's types; any S3 command will do here.
  const sign = async (command: object, seconds = expiresIn) => {
    const [{ presigner }, c] = await Promise.all([load(), client()]);
    const url = await presigner.getSignedUrl(c, command as Parameters<PresignerModule['getSignedUrl']>[1], { expiresIn: seconds });
    if (/[?&]x-amz-checksum-/i.test(url)) {
      throw new SealboxError(
        'ERR_INVALID_ARGUMENT',
        "the S3 client presigns a checksum of an empty body, which S3 holds against the upload: make it with requestChecksumCalculation: 'WHEN_REQUIRED'",
      );
    }
    return url;
  };

  const storage: S3Storage = {
    bucket,
    client,
    createMultipart: (key, { contentType } = {}) =>
      wrap('creating the upload', async () => {
        const [{ s3 }, c] = await Promise.all([load(), client()]);
        const out = await c.send(new s3.CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType ?? 'application/octet-stream' }));
        if (!out.UploadId) throw new SealboxError('ERR_STORAGE', 'creating the upload: S3 gave no UploadId');
        return out.UploadId;
      }),
    presignPart: (key, uploadId, partNumber) =>
      wrap('presigning a part', async () => sign(new (await load()).s3.UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber }))),
    complete: (key, uploadId, parts) =>
      wrap('completing the upload', async () => {
        const [{ s3 }, c] = await Promise.all([load(), client()]);
        const out = await c.send(
          new s3.CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          }),
        );
        return out.ETag ? { etag: out.ETag } : {};
      }),
    abort: (key, uploadId) =>
      wrap('aborting the upload', async () => {
        const [{ s3 }, c] = await Promise.all([load(), client()]);
        try {
          await c.send(new s3.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
        } catch (error) {
          if ((error as { name?: string }).name !== 'NoSuchUpload') throw error;
        }
      }),
    listParts: (key, uploadId) =>
      wrap('listing the parts', async () => {
        const [{ s3 }, c] = await Promise.all([load(), client()]);
        const parts: UploadedPart[] = [];
        let marker: string | undefined;
        do {
          const out = await c.send(new s3.ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, ...(marker ? { PartNumberMarker: marker } : {}) }));
          for (const p of out.Parts ?? []) parts.push({ partNumber: p.PartNumber!, etag: p.ETag!, size: p.Size! });
          marker = out.IsTruncated ? out.NextPartNumberMarker : undefined;
        } while (marker);
        return parts;
      }),
    presignGet: (key, { expiresIn: seconds } = {}) =>
      wrap('presigning a GET', async () => sign(new (await load()).s3.GetObjectCommand({ Bucket: bucket, Key: key }), seconds)),
    presign: (key, operation) =>
      wrap(`presigning ${operation.op}`, async () => {
        const { s3 } = await load();
        const target = { Bucket: bucket, Key: key };
        switch (operation.op) {
          case 'create':
            return sign(new s3.CreateMultipartUploadCommand(target));
          case 'uploadPart':
            return sign(new s3.UploadPartCommand({ ...target, UploadId: operation.uploadId, PartNumber: operation.partNumber }));
          case 'complete':
            return sign(new s3.CompleteMultipartUploadCommand({ ...target, UploadId: operation.uploadId }));
          case 'abort':
            return sign(new s3.AbortMultipartUploadCommand({ ...target, UploadId: operation.uploadId }));
          case 'listParts':
            return sign(
              new s3.ListPartsCommand({
                ...target,
                UploadId: operation.uploadId,
                ...(operation.partNumberMarker === undefined ? {} : { PartNumberMarker: String(operation.partNumberMarker) }),
              }),
            );
          default:
            throw new SealboxError('ERR_INVALID_ARGUMENT', `unknown S3 operation ${JSON.stringify((operation as { op?: unknown }).op)}`);
        }
      }),
    callbacks: (key, { onCreate } = {}) => ({
      create: async (init) => {
        const uploadId = await storage.createMultipart(key);
        onCreate?.(init, uploadId);
        return uploadId;
      },
      presignPart: (uploadId, partNumber) => storage.presignPart(key, uploadId, partNumber),
      complete: (uploadId, parts) => storage.complete(key, uploadId, parts),
      abort: (uploadId) => storage.abort(key, uploadId),
      listParts: (uploadId) => storage.listParts(key, uploadId),
    }),
    presignCallbacks: (key) => ({ presign: (operation) => storage.presign(key, operation) }),
    close() {
      void clientPromise?.then((c) => {
        if (!options.client) c.destroy();
      });
    },
  };
  return storage;
}
