/**
 * A small client for the AWS KMS JSON 1.1 protocol over `fetch`: the operations envelope
 * encryption needs, retries with capped exponential backoff and full jitter, a per-attempt
 * timeout, and errors as `SealboxError`s carrying the KMS request id.
 *
 * It talks to AWS KMS, the Sealbox local KMS or the Sealbox proxy alike. Authentication is a
 * hook (`auth: () => headers`, e.g. a JWT bearer for the proxy) or SigV4 credentials (signed with
 * `aws4fetch`, loaded on first use so that browser bundles that use a bearer token never load it).
 *
 * Inputs and outputs use AWS's field names, with `Uint8Array` where AWS has base64 blobs.
 */
import { SealboxError, type SealboxErrorCode } from '../errors.js';
import { fromBase64, isBytes, toBase64 } from '../crypto/bytes.js';
import type { EncryptionContext } from '../format/header.js';
import { KMS_JSON_CONTENT_TYPE, KMS_TARGET_PREFIX, type KeyInput, type GenerateDataKeyInput, type GenerateDataKeyOutput, type GenerateDataKeyWithoutPlaintextOutput, type EncryptInput, type EncryptOutput, type DecryptInput, type DecryptOutput, type ReEncryptInput, type ReEncryptOutput, type GetPublicKeyOutput, type DescribeKeyOutput } from './wire.js';

/**
 * AWS credentials: the client signs its calls with SigV4.
 *
 * @example
 * ```ts
 * new KmsClient({ endpoint, auth: { accessKeyId, secretAccessKey, sessionToken } });
 * ```
 */
export interface KmsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Signing region; defaults to the client's `region`. */
  region?: string;
}

/**
 * Headers for each attempt (called again on every retry, so a token can be refreshed).
 *
 * @example
 * ```ts
 * new KmsClient({ endpoint: '/kms', auth: async () => ({ authorization: `Bearer ${await getToken()}` }) });
 * ```
 */
export type KmsAuthHook = () => HeadersInit | Promise<HeadersInit>;

/**
 * How the client retries throttled and failed calls (capped exponential backoff, full jitter, `Retry-After`).
 *
 * @example
 * ```ts
 * new KmsClient({ endpoint, retry: { maxAttempts: 6, maxDelayMs: 10_000 } });
 * ```
 */
export interface KmsRetryOptions {
  /** Attempts in all, the first included. Default 4. `1` disables retries. */
  maxAttempts?: number;
  /** First backoff ceiling, doubled per retry. Default 100 ms. */
  baseDelayMs?: number;
  /** Cap of the backoff ceiling. Default 5000 ms. */
  maxDelayMs?: number;
  /** A `Retry-After` longer than this is not waited for: the error surfaces at once. Default 30000 ms. */
  maxRetryAfterMs?: number;
}

/**
 * Options of `KmsClient`.
 *
 * @example
 * ```ts
 * new KmsClient({ endpoint: 'https://kms.eu-west-1.amazonaws.com', region: 'eu-west-1', auth: { accessKeyId, secretAccessKey } });
 * ```
 */
export interface KmsClientOptions {
  /** KMS, local KMS or Sealbox proxy URL, e.g. `https://kms.eu-west-1.amazonaws.com` or `https://app.example/kms`. */
  endpoint: string | URL;
  auth?: KmsAuthHook | KmsCredentials;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Retry policy, or `false` for a single attempt. */
  retry?: KmsRetryOptions | false;
  /** Per-attempt timeout (request and response body). Default 10000 ms. */
  timeoutMs?: number;
  /** Region, for SigV4 signing and for keyrings that route keys by region. */
  region?: string;
}

/**
 * Per-call options of the KmsClient's methods.
 *
 * @example
 * ```ts
 * await client.decrypt({ CiphertextBlob }, { signal: AbortSignal.timeout(5000) });
 * ```
 */
export interface KmsCallOptions {
  /** Aborts the call, including backoff waits, with ERR_ABORTED. */
  signal?: AbortSignal;
}

// ── operation shapes (AWS names; blobs as bytes) ──────────────────────────────────────────────

/**
 * A KMS (or proxy) error answer: a SealboxError that also keeps the KMS's error type (and, like any
 * SealboxError from HTTP, its `status`).
 *
 * @example
 * ```ts
 * if (error instanceof KmsRequestError && error.kmsErrorType === 'NotFoundException') createKey();
 * ```
 */
export class KmsRequestError extends SealboxError {
  /** AWS error type, e.g. `AccessDeniedException` (undefined for network failures and timeouts). */
  readonly kmsErrorType?: string;

  constructor(code: SealboxErrorCode, message: string, options: { cause?: unknown; requestId?: string; kmsErrorType?: string; status?: number }) {
    super(code, message, options);
    if (options.kmsErrorType !== undefined) this.kmsErrorType = options.kmsErrorType;
  }
}

const CODES: Record<string, SealboxErrorCode> = {
  AccessDeniedException: 'ERR_ACCESS_DENIED',
  UnrecognizedClientException: 'ERR_ACCESS_DENIED',
  InvalidSignatureException: 'ERR_ACCESS_DENIED',
  IncompleteSignatureException: 'ERR_ACCESS_DENIED',
  MissingAuthenticationTokenException: 'ERR_ACCESS_DENIED',
  ExpiredTokenException: 'ERR_ACCESS_DENIED',
  ThrottlingException: 'ERR_THROTTLED',
  DisabledException: 'ERR_KEY_DISABLED',
  KMSInvalidStateException: 'ERR_KEY_STATE',
  NotFoundException: 'ERR_NOT_FOUND',
  InvalidCiphertextException: 'ERR_KMS_DECRYPT',
  IncorrectKeyException: 'ERR_KMS_DECRYPT',
};
const BLOBS = ['CiphertextBlob', 'Plaintext', 'PublicKey'];

/** "com.amazonaws.kms#NotFoundException" or "NotFoundException:http://…" → "NotFoundException". */
function errorType(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined;
  return raw.split(':')[0]!.split('#').pop();
}

function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function aborted(signal: AbortSignal | undefined): SealboxError {
  return new SealboxError('ERR_ABORTED', 'the KMS call was aborted', { cause: signal?.reason });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A client of the AWS KMS JSON API (AWS KMS, the local KMS, or a Sealbox proxy): SigV4 or a bearer token, retries with backoff and jitter, typed errors.
 *
 * @example
 * ```ts
 * const client = new KmsClient({ endpoint: 'https://app.example/kms', auth: () => ({ authorization: `Bearer ${jwt}` }) });
 * const { KeyMetadata } = await client.describeKey({ KeyId: 'alias/app' });
 * ```
 */
export class KmsClient {
  readonly endpoint: string;
  readonly region?: string;
  readonly #auth?: KmsAuthHook | KmsCredentials;
  readonly #fetch: typeof fetch;
  readonly #retry: Required<KmsRetryOptions>;
  readonly #timeoutMs: number;
  #signer?: Promise<typeof import('aws4fetch').AwsV4Signer>;
  /** aws4fetch's cache of derived signing keys (one per secret, day and region). */
  readonly #signingKeys = new Map<string, ArrayBuffer>();

  constructor(options: KmsClientOptions) {
    if (!options || (typeof options.endpoint !== 'string' && !(options.endpoint instanceof URL))) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'KmsClient needs an endpoint URL');
    }
    this.endpoint = String(options.endpoint);
    const auth = options.auth;
    if (auth !== undefined && typeof auth !== 'function' && !(typeof auth?.accessKeyId === 'string' && typeof auth.secretAccessKey === 'string')) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'auth must be a function returning headers, or { accessKeyId, secretAccessKey, sessionToken? }');
    }
    this.#auth = auth;
    const region = options.region ?? (typeof auth === 'object' ? auth.region : undefined) ?? /\bkms(?:-fips)?\.([a-z0-9-]+)\.amazonaws\./.exec(this.endpoint)?.[1];
    if (region !== undefined) this.region = region;
    if (typeof auth === 'object' && !this.region) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'SigV4 credentials need a region (options.region or auth.region)');
    }
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new SealboxError('ERR_INVALID_ARGUMENT', 'no fetch available: pass options.fetch');
    // Unbound global fetch throws "Illegal invocation" in browsers.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const retry = options.retry === false ? { maxAttempts: 1 } : (options.retry ?? {});
    this.#retry = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 5000, maxRetryAfterMs: 30_000, ...retry };
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  generateDataKey(input: GenerateDataKeyInput, options?: KmsCallOptions): Promise<GenerateDataKeyOutput> {
    return this.send('GenerateDataKey', input, options);
  }

  /** "Encrypt later": a wrapped data key only, to be unwrapped with `decrypt` when it is needed. */
  generateDataKeyWithoutPlaintext(input: GenerateDataKeyInput, options?: KmsCallOptions): Promise<GenerateDataKeyWithoutPlaintextOutput> {
    return this.send('GenerateDataKeyWithoutPlaintext', input, options);
  }

  /** Direct encryption of up to 4096 bytes by the KMS. */
  encrypt(input: EncryptInput, options?: KmsCallOptions): Promise<EncryptOutput> {
    return this.send('Encrypt', input, options);
  }

  decrypt(input: DecryptInput, options?: KmsCallOptions): Promise<DecryptOutput> {
    return this.send('Decrypt', input, options);
  }

  /** Decrypts and re-encrypts inside the KMS: the caller never sees the plaintext. */
  reEncrypt(input: ReEncryptInput, options?: KmsCallOptions): Promise<ReEncryptOutput> {
    return this.send('ReEncrypt', input, options);
  }

  getPublicKey(input: KeyInput, options?: KmsCallOptions): Promise<GetPublicKeyOutput> {
    return this.send('GetPublicKey', input, options);
  }

  describeKey(input: KeyInput, options?: KmsCallOptions): Promise<DescribeKeyOutput> {
    return this.send('DescribeKey', input, options);
  }

  /**
   * Any KMS JSON operation. `Uint8Array` values in the input are sent as base64; `CiphertextBlob`,
   * `Plaintext` and `PublicKey` in the output come back as bytes.
   */
  async send<T = Record<string, unknown>>(operation: string, input: object, options: KmsCallOptions = {}): Promise<T> {
    // The replacer reads the holder's own value (`this[key]`): JSON.stringify hands it the result of
    // `toJSON()` instead, which for a Node Buffer (a Uint8Array) is `{ type, data }`, not the bytes.
    const body = JSON.stringify(input, function (this: Record<string, unknown>, key: string, value: unknown) {
      const own = this[key];
      return isBytes(own) ? toBase64(own) : value;
    });
    const { maxAttempts, baseDelayMs, maxDelayMs, maxRetryAfterMs } = this.#retry;
    const signal = options.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw aborted(signal);
      const outcome = await this.#attempt<T>(operation, body, signal);
      if (!('error' in outcome)) return outcome.value;
      const { error, retry, wait } = outcome;
      if (!retry || attempt >= maxAttempts || (wait !== undefined && wait > maxRetryAfterMs)) throw error;
      // Full jitter: uniform in [0, min(cap, base · 2^(attempt-1))]. A Retry-After replaces it.
      await sleep(wait ?? Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)), signal);
    }
  }

  async #attempt<T>(operation: string, body: string, signal: AbortSignal | undefined): Promise<{ value: T } | { error: SealboxError; retry: boolean; wait?: number }> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#timeoutMs);
    try {
      const init = await this.#sign(operation, body);
      const response = await this.#fetch(this.endpoint, { ...init, signal: controller.signal });
      const requestId = response.headers.get('x-amzn-requestid') ?? undefined;
      const text = await response.text();
      let json: Record<string, unknown> | undefined;
      try {
        const parsed: unknown = text ? JSON.parse(text) : {};
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
      } catch {
        // Not JSON (a gateway's HTML error page…): reported by status below.
      }
      if (response.ok && json) {
        for (const name of BLOBS) if (typeof json[name] === 'string') json[name] = fromBase64(json[name] as string);
        return { value: json as T };
      }
      const type = errorType(json?.__type) ?? errorType(response.headers.get('x-amzn-errortype')) ?? (response.status === 429 ? 'ThrottlingException' : undefined);
      const message = String(json?.message ?? json?.Message ?? (response.ok ? 'the answer is not a JSON object' : response.statusText || 'no message'));
      const code = CODES[type ?? ''] ?? (response.status === 401 || response.status === 403 ? 'ERR_ACCESS_DENIED' : 'ERR_KMS');
      const opts: ConstructorParameters<typeof KmsRequestError>[2] = { status: response.status };
      if (requestId !== undefined) opts.requestId = requestId;
      if (type !== undefined) opts.kmsErrorType = type;
      const error = new KmsRequestError(code, `KMS ${operation} failed: ${type ?? `HTTP ${response.status}`}: ${message}${requestId ? ` (request id ${requestId})` : ''}`, opts);
      const wait = retryAfterMs(response.headers.get('retry-after'));
      return { error, retry: code === 'ERR_THROTTLED' || response.status >= 500, ...(wait === undefined ? {} : { wait }) };
    } catch (cause) {
      if (cause instanceof SealboxError) return { error: cause, retry: false };
      if (signal?.aborted) return { error: aborted(signal), retry: false };
      const error = timedOut
        ? new KmsRequestError('ERR_TIMEOUT', `KMS ${operation} timed out after ${this.#timeoutMs} ms`, { cause })
        : new KmsRequestError('ERR_KMS', `KMS ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      return { error, retry: true };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async #sign(operation: string, body: string): Promise<RequestInit> {
    const headers = new Headers({ 'content-type': KMS_JSON_CONTENT_TYPE, 'x-amz-target': `${KMS_TARGET_PREFIX}${operation}` });
    const auth = this.#auth;
    if (typeof auth === 'function') {
      new Headers(await auth()).forEach((value, name) => headers.set(name, value));
    } else if (auth) {
      this.#signer ??= import('aws4fetch').then((m) => m.AwsV4Signer);
      const Signer = await this.#signer;
      const signed = await new Signer({
        method: 'POST',
        url: this.endpoint,
        headers,
        body,
        accessKeyId: auth.accessKeyId,
        secretAccessKey: auth.secretAccessKey,
        ...(auth.sessionToken ? { sessionToken: auth.sessionToken } : {}),
        service: 'kms',
        region: auth.region ?? this.region!,
        cache: this.#signingKeys,
      }).sign();
      return { method: 'POST', headers: signed.headers, body };
    }
    return { method: 'POST', headers, body };
  }
}
