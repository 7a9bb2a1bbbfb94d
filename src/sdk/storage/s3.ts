/**
 * A `MultipartTarget` for S3 (and S3-compatible stores: R2, Ceph RGW, MinIO) that never holds
 * credentials: the page only sends requests to URLs presigned by the app's server. Plain `fetch`
 * and a few lines of S3's XML; no AWS SDK.
 */
import { SealboxError } from '../errors.js';
import { type Fetch, type PresignedRequest, failed, requestOf, send, xmlElements, xmlEscape, xmlValue } from './http.js';
import type { MultipartTarget, UploadInit, UploadedPart } from './target.js';

/**
 * Mode (a), the shape an app usually has: its server creates, completes, aborts and lists the
 * upload with its own credentials (e.g. with `sealbox`'s Node helper, `s3Presigner`) and presigns
 * each part URL; the page only PUTs parts. Each function is a call to the app's server.
 */
export interface S3ServerCallbacks {
  /** CreateMultipartUpload; resolves to the UploadId. `init.head` may be kept for `readHead`. */
  create(init: UploadInit): Promise<string>;
  /** A URL presigned for UploadPart of this part (called again for each retry of the part). */
  presignPart(uploadId: string, partNumber: number): Promise<PresignedRequest>;
  /** CompleteMultipartUpload with these parts. */
  complete(uploadId: string, parts: readonly UploadedPart[]): Promise<{ etag?: string } | void>;
  /** AbortMultipartUpload; resolves for an upload that is already gone. */
  abort(uploadId: string): Promise<void>;
  /** ListParts, every page. */
  listParts(uploadId: string): Promise<UploadedPart[]>;
  /** The head `create` kept, for `resumeUpload`. */
  readHead?(uploadId: string): Promise<Uint8Array | undefined>;
  fetch?: Fetch;
}

/** One S3 request of a multipart upload, to be presigned. */
export type S3Operation =
  | { op: 'create' }
  | { op: 'uploadPart'; uploadId: string; partNumber: number }
  | { op: 'complete'; uploadId: string }
  | { op: 'abort'; uploadId: string }
  | { op: 'listParts'; uploadId: string; partNumberMarker?: number };

/**
 * Mode (b), everything presigned: the app's server presigns each request of the upload (for one
 * object key), and the page sends them all itself.
 */
export interface S3PresignCallbacks {
  /** A URL presigned for `operation` (POST ?uploads, PUT ?partNumber&uploadId, POST ?uploadId, DELETE ?uploadId, GET ?uploadId). */
  presign(operation: S3Operation): Promise<PresignedRequest>;
  /** The head, for `resumeUpload`, if the app keeps it. */
  readHead?(uploadId: string): Promise<Uint8Array | undefined>;
  fetch?: Fetch;
}

async function putPart(fetchImpl: Fetch, presigned: PresignedRequest, partNumber: number, body: Uint8Array, signal: AbortSignal): Promise<string> {
  const { url, headers } = requestOf(presigned);
  const what = `uploading part ${partNumber}`;
  const response = await send(fetchImpl, url, { method: 'PUT', headers, body: body as BodyInit, signal }, what);
  if (!response.ok) throw await failed(response, what);
  await response.arrayBuffer().catch(() => {});
  const etag = response.headers.get('etag');
  if (!etag) {
    throw new SealboxError('ERR_STORAGE', `${what}: the answer carries no ETag; the bucket's CORS rules must expose it (ExposeHeaders: ETag)`, {
      status: response.status,
    });
  }
  return etag;
}

async function call(fetchImpl: Fetch, presigned: PresignedRequest, method: string, what: string, body?: string): Promise<{ response: Response; text: string }> {
  const { url, headers } = requestOf(presigned);
  const response = await send(fetchImpl, url, { method, headers, ...(body === undefined ? {} : { body }) }, what);
  if (!response.ok) throw await failed(response, what);
  const text = await response.text();
  // S3 may answer CompleteMultipartUpload 200 with an error in the body.
  if (text.includes('<Error>')) {
    throw new SealboxError('ERR_STORAGE', `${what}: ${xmlValue(text, 'Code') ?? 'error'}: ${xmlValue(text, 'Message') ?? ''}`, { status: response.status });
  }
  return { response, text };
}

export function completeBody(parts: readonly UploadedPart[]): string {
  const items = parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag></Part>`).join('');
  return `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${items}</CompleteMultipartUpload>`;
}

export function parseListParts(xml: string): { parts: UploadedPart[]; next?: number } {
  const parts = xmlElements(xml, 'Part').map((item) => ({
    partNumber: Number(xmlValue(item, 'PartNumber')),
    etag: xmlValue(item, 'ETag') ?? '',
    size: Number(xmlValue(item, 'Size')),
  }));
  const truncated = xmlValue(xml, 'IsTruncated') === 'true';
  const marker = Number(xmlValue(xml, 'NextPartNumberMarker'));
  return truncated && marker > 0 ? { parts, next: marker } : { parts };
}

/**
 * A `MultipartTarget` over presigned S3 URLs, in one of two modes: (a) `S3ServerCallbacks`, the
 * app's server creates, completes, aborts and lists, and presigns part URLs; (b)
 * `S3PresignCallbacks`, every request is presigned and sent from here. Parts go out with `fetch`
 * (`PUT`), and the part's `ETag` is read from the answer: in a browser, the bucket's CORS rules
 * must allow the page's origin to `PUT` and expose `ETag`.
 *
 * @example
 * ```ts
 * // (a) the app's server does the rest; the page PUTs parts to presigned URLs.
 * const target = s3MultipartTarget({
 *   create: () => api('POST', '/uploads', { key }).then((r) => r.uploadId),
 *   presignPart: (uploadId, partNumber) => api('POST', '/uploads/part-url', { key, uploadId, partNumber }).then((r) => r.url),
 *   complete: (uploadId, parts) => api('POST', '/uploads/complete', { key, uploadId, parts }),
 *   abort: (uploadId) => api('POST', '/uploads/abort', { key, uploadId }),
 *   listParts: (uploadId) => api('POST', '/uploads/parts', { key, uploadId }).then((r) => r.parts),
 * });
 * // (b) everything presigned:
 * const target2 = s3MultipartTarget({ presign: (operation) => api('POST', '/presign', { key, operation }).then((r) => r.url) });
 * ```
 */
export function s3MultipartTarget(options: S3ServerCallbacks | S3PresignCallbacks): MultipartTarget {
  if (!options || typeof options !== 'object') throw new SealboxError('ERR_INVALID_ARGUMENT', 's3MultipartTarget needs callbacks');
  const fetchImpl: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const readHead = options.readHead ? { readHead: options.readHead.bind(options) } : {};
  if ('presign' in options && typeof options.presign === 'function') {
    const presign = (operation: S3Operation) => options.presign(operation);
    return {
      async create() {
        const { text } = await call(fetchImpl, await presign({ op: 'create' }), 'POST', 'creating the upload');
        const uploadId = xmlValue(text, 'UploadId');
        if (!uploadId) throw new SealboxError('ERR_STORAGE', 'creating the upload: the answer has no UploadId');
        return uploadId;
      },
      async uploadPart(uploadId, partNumber, body, signal) {
        return putPart(fetchImpl, await presign({ op: 'uploadPart', uploadId, partNumber }), partNumber, body, signal);
      },
      async complete(uploadId, parts) {
        const { text } = await call(fetchImpl, await presign({ op: 'complete', uploadId }), 'POST', 'completing the upload', completeBody(parts));
        const etag = xmlValue(text, 'ETag');
        return etag ? { etag } : {};
      },
      async abort(uploadId) {
        try {
          await call(fetchImpl, await presign({ op: 'abort', uploadId }), 'DELETE', 'aborting the upload');
        } catch (error) {
          if (!(error instanceof SealboxError && error.status === 404)) throw error;
        }
      },
      async listParts(uploadId) {
        const out: UploadedPart[] = [];
        let marker: number | undefined;
        do {
          const operation: S3Operation = marker === undefined ? { op: 'listParts', uploadId } : { op: 'listParts', uploadId, partNumberMarker: marker };
          const { text } = await call(fetchImpl, await presign(operation), 'GET', 'listing the parts');
          const page = parseListParts(text);
          out.push(...page.parts);
          marker = page.next;
        } while (marker !== undefined);
        return out;
      },
      ...readHead,
    };
  }
  const server = options as S3ServerCallbacks;
  for (const name of ['create', 'presignPart', 'complete', 'abort', 'listParts'] as const) {
    if (typeof server[name] !== 'function') {
      throw new SealboxError('ERR_INVALID_ARGUMENT', `s3MultipartTarget needs either presign(operation), or create, presignPart, complete, abort and listParts (${name} is missing)`);
    }
  }
  return {
    create: (init) => server.create(init),
    async uploadPart(uploadId, partNumber, body, signal) {
      return putPart(fetchImpl, await server.presignPart(uploadId, partNumber), partNumber, body, signal);
    },
    complete: (uploadId, parts) => server.complete(uploadId, parts),
    abort: (uploadId) => server.abort(uploadId),
    listParts: (uploadId) => server.listParts(uploadId),
    ...readHead,
  };
}
