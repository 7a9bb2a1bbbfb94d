/**
 * Where a multipart upload goes. A small interface, so that any store with S3-style multipart
 * uploads (S3, R2, GCS's XML API, the dev server's own store, a test double) is a page of code;
 * `s3MultipartTarget` implements it over presigned URLs.
 */

/** A part that landed in the store. */
export interface UploadedPart {
  /** 1 … 10,000. */
  partNumber: number;
  /** The store's ETag for the part, as it gave it (S3: quoted hex MD5). */
  etag: string;
  /** The part's length in bytes. */
  size: number;
}

/** What the target learns when an upload starts. */
export interface UploadInit {
  /**
   * Everything part 1 starts with: the envelope header (wrapped data keys, protected header), the
   * salt and the key commitment. Not secret. A store that cannot read parts back before the upload
   * completes (S3 cannot) keeps these bytes beside the upload id, so that `readHead` can give them
   * back to `resumeUpload`.
   */
  head: Uint8Array;
  /** The plaintext length, when the source's size is known. */
  size?: number;
}

/**
 * An S3-style multipart upload, seen from the uploader. Every method rejects with a `SealboxError`
 * (code `ERR_STORAGE`, with the HTTP `status` when there was one) when the store refuses or cannot
 * be reached; `uploadEncrypted` retries `uploadPart` on errors without a status, 5xx, 408 and 429
 * (the others are final: a 403 will not heal by itself), and calls nothing else twice.
 */
export interface MultipartTarget {
  /**
   * Starts an upload and resolves to its id. Called once, before any part. Reject when the store
   * refuses; no part is sent then.
   */
  create(init: UploadInit): Promise<string>;
  /**
   * Stores `body` as part `partNumber` (1 … 10,000) and resolves to the part's ETag, once the store
   * has acknowledged it. Several calls run at once (different part numbers); the same part number
   * may come again after a failure, and replaces what an earlier attempt stored. Stop and reject
   * (with `signal.reason` or an `ERR_ABORTED` error) when `signal` aborts. Reject with
   * `ERR_STORAGE` when the answer carries no ETag (an S3 bucket's CORS rules must expose `ETag`).
   */
  uploadPart(uploadId: string, partNumber: number, body: Uint8Array, signal: AbortSignal): Promise<string>;
  /**
   * Assembles the object from `parts` (every part, in order). Resolves once the object exists, with
   * its ETag when the store says it (Ceph's RGW answers an empty one).
   */
  complete(uploadId: string, parts: readonly UploadedPart[]): Promise<{ etag?: string } | void>;
  /**
   * Drops the upload and the parts stored so far: no object is created. Called after a final
   * failure or an abort signal. Its own failure is ignored there (the caller sees the error that
   * stopped the upload), so resolve for an upload that is already gone.
   */
  abort(uploadId: string): Promise<void>;
  /** The parts stored so far (all of them: follow the store's pagination), in any order. */
  listParts(uploadId: string): Promise<UploadedPart[]>;
  /**
   * Gives back the `head` that `create` received for this upload, or `undefined` when it was not
   * kept. Optional: `resumeUpload` also takes the head from its options.
   */
  readHead?(uploadId: string): Promise<Uint8Array | undefined>;
}
