/**
 * Every failure Sealbox reports is a `SealboxError` with a stable `code`. Callers branch on `code`;
 * the message is for people and may change between versions.
 *
 * @example
 * ```ts
 * if (isSealboxError(error, 'ERR_CONTEXT_MISMATCH')) showWrongTenant();
 * ```
 */
export type SealboxErrorCode =
  /** The bytes are not a well-formed envelope (bad magic, bad CBOR, wrong types, unknown fields). */
  | 'ERR_FORMAT'
  /** The envelope declares a format version this library does not implement. */
  | 'ERR_UNSUPPORTED_VERSION'
  /** The envelope names a suite, recipient type or parameter this library does not implement. */
  | 'ERR_UNSUPPORTED'
  /** A declared limit was exceeded (header size, recipients, context, chunk size, input length). */
  | 'ERR_LIMIT'
  /** The key commitment did not match: wrong data key, or a changed protected header or salt. */
  | 'ERR_COMMITMENT'
  /** A chunk failed authentication, or chunks were reordered, duplicated or dropped. */
  | 'ERR_TAMPERED'
  /** The ciphertext ended early: a missing final chunk, or an end mid-chunk. */
  | 'ERR_TRUNCATED'
  /** No keyring could unwrap any recipient of the envelope. */
  | 'ERR_NO_KEYRING_MATCH'
  /** The envelope's encryption context lacks a pair the caller required. */
  | 'ERR_CONTEXT_MISMATCH'
  /** A requested plaintext range lies outside the message. */
  | 'ERR_RANGE'
  /** A caller passed an argument of the wrong type or shape. */
  | 'ERR_INVALID_ARGUMENT'
  /** The stream was cancelled or aborted. */
  | 'ERR_ABORTED'
  /** KMS or proxy refused the caller. */
  | 'ERR_ACCESS_DENIED'
  /** KMS or proxy rate limit; retried with backoff before surfacing. */
  | 'ERR_THROTTLED'
  /** The KMS key is disabled. */
  | 'ERR_KEY_DISABLED'
  /** The KMS key is pending deletion or otherwise unusable. */
  | 'ERR_KEY_STATE'
  /** The KMS key or alias does not exist. */
  | 'ERR_NOT_FOUND'
  /** The KMS could not decrypt the wrapped key (wrong key, changed context). */
  | 'ERR_KMS_DECRYPT'
  /** Any other KMS error, or a network failure talking to it. */
  | 'ERR_KMS'
  /** An upstream call timed out. */
  | 'ERR_TIMEOUT'
  /**
   * Object storage (S3 or another HTTP store) refused a request or could not be reached: an HTTP
   * error status (in `status`), a network failure, or an answer missing what Sealbox needs (an
   * `ETag` the bucket's CORS rules do not expose, a `Content-Range`).
   */
  | 'ERR_STORAGE'
  /**
   * The object changed while it was being read: a later ranged read found another version than
   * the first one (its `ETag` differs, or the store answered 412 to `If-Match`).
   */
  | 'ERR_SOURCE_CHANGED';

export interface SealboxErrorOptions {
  cause?: unknown;
  /** KMS request id, when the error came from a KMS or proxy call. */
  requestId?: string;
  /** The HTTP status, when the error came from an HTTP answer (object storage). */
  status?: number;
}

/**
 * The one error type of the SDK: a stable `code` (see `SealboxErrorCode`) to branch on, and a message for people.
 *
 * @example
 * ```ts
 * try {
 *   await decrypt(envelope, { keyring });
 * } catch (error) {
 *   if (error instanceof SealboxError && error.code === 'ERR_TAMPERED') console.warn('the envelope was changed');
 * }
 * ```
 */
export class SealboxError extends Error {
  readonly code: SealboxErrorCode;
  readonly requestId?: string;
  /** The HTTP status, when the error came from an HTTP answer (object storage). */
  readonly status?: number;

  constructor(code: SealboxErrorCode, message: string, options: SealboxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SealboxError';
    this.code = code;
    if (options.requestId !== undefined) this.requestId = options.requestId;
    if (options.status !== undefined) this.status = options.status;
  }
}

/**
 * Whether `value` is a SealboxError, optionally with the given code.
 *
 * @example
 * ```ts
 * if (isSealboxError(error, 'ERR_THROTTLED')) await retryLater();
 * ```
 */
export function isSealboxError(value: unknown, code?: SealboxErrorCode): value is SealboxError {
  return value instanceof SealboxError && (code === undefined || value.code === code);
}
