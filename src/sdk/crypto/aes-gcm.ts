/** AES-256-GCM with a 12-byte nonce and a 16-byte tag appended to the ciphertext. */
import { SealboxError } from '../errors.js';
import { loadNoble, subtleOrUndefined } from './backend.js';
import { copyBytes } from './bytes.js';

export const AES_KEY_BYTES = 32;
export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/** A ready-to-use key: a non-extractable WebCrypto key, or raw bytes for the noble fallback. */
export type AeadKey = { readonly subtle: CryptoKey } | { readonly raw: Uint8Array };

export async function importAeadKey(raw: Uint8Array): Promise<AeadKey> {
  if (raw.length !== AES_KEY_BYTES) throw new SealboxError('ERR_INVALID_ARGUMENT', `AES-256 keys are 32 bytes, not ${raw.length}`);
  const subtle = subtleOrUndefined();
  if (subtle) {
    return { subtle: await subtle.importKey('raw', copyBytes(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']) };
  }
  await loadNoble();
  return { raw: copyBytes(raw) };
}

const toBytes = (buffer: ArrayBuffer): Uint8Array => new Uint8Array(buffer);

/**
 * A synchronous AES-256-GCM over the same WebCrypto keys, installed by a runtime-specific module
 * (`sealbox/node` installs node:crypto's): each chunk then costs one call in this thread instead of a
 * hop to WebCrypto's thread pool and back. It produces the bytes WebCrypto would.
 */
export interface AeadAccelerator {
  /** The ciphertext with its tag; throws when it cannot take this key (then WebCrypto runs). */
  seal(key: CryptoKey, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined): Uint8Array;
  /** The plaintext, or `undefined` when the tag does not verify; throws when it cannot take this key. */
  open(key: CryptoKey, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined): Uint8Array | undefined;
}

let accelerator: AeadAccelerator | undefined;

/** Installs (or with `undefined` removes) the accelerator used for WebCrypto keys. */
export function installAeadAccelerator(next: AeadAccelerator | undefined): void {
  accelerator = next;
}

const UNHANDLED = Symbol('unhandled');

function acceleratedOpen(key: CryptoKey, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined): Uint8Array | undefined | typeof UNHANDLED {
  try {
    return accelerator!.open(key, nonce, sealed, aad);
  } catch {
    return UNHANDLED;
  }
}

function gcmParams(nonce: Uint8Array, aad: Uint8Array | undefined): AesGcmParams {
  return aad ? { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: aad as BufferSource } : { name: 'AES-GCM', iv: nonce as BufferSource };
}

/**
 * Not `async`: on the WebCrypto path the result is one `.then` away from `encrypt`, which saves
 * promise ticks per chunk in the streams. Synchronous throws still come back as rejections.
 */
export function aesGcmSeal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
  if ('subtle' in key) {
    if (accelerator) {
      try {
        return Promise.resolve(accelerator.seal(key.subtle, nonce, plaintext, aad));
      } catch {
        // A key it cannot take: WebCrypto below.
      }
    }
    try {
      return crypto.subtle.encrypt(gcmParams(nonce, aad), key.subtle, plaintext as BufferSource).then(toBytes);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return loadNoble().then((noble) => noble.aesGcmEncrypt(key.raw, nonce, plaintext, aad));
}

/**
 * Decrypts and verifies; when the tag does not verify, settles with what `failed` returns (or
 * rejects with what it throws). One promise step on the WebCrypto path, as in `aesGcmSeal`.
 */
function openOr<F>(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined, failed: () => F): Promise<Uint8Array | F> {
  if ('subtle' in key && sealed.length >= GCM_TAG_BYTES && accelerator) {
    const opened = acceleratedOpen(key.subtle, nonce, sealed, aad);
    if (opened instanceof Uint8Array) return Promise.resolve(opened);
    if (opened === undefined) return new Promise((resolve) => resolve(failed()));
  }
  if ('subtle' in key && sealed.length >= GCM_TAG_BYTES) {
    let decrypting: Promise<ArrayBuffer> | undefined;
    try {
      decrypting = crypto.subtle.decrypt(gcmParams(nonce, aad), key.subtle, sealed as BufferSource);
    } catch {
      // WebCrypto throws synchronously only for arguments it cannot take: a failure as well.
    }
    if (decrypting) return decrypting.then(toBytes, failed);
  }
  // A throwing `failed` rejects the promise (the executor's throw).
  if ('subtle' in key || sealed.length < GCM_TAG_BYTES) return new Promise((resolve) => resolve(failed()));
  return loadNoble().then((noble) => {
    let plaintext: Uint8Array;
    try {
      plaintext = noble.aesGcmDecrypt(key.raw, nonce, sealed, aad);
    } catch {
      return failed();
    }
    return plaintext;
  });
}

const noPlaintext = (): undefined => undefined;

/** Returns the plaintext, or `undefined` when the tag does not verify. */
export function aesGcmOpen(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Promise<Uint8Array | undefined> {
  return openOr(key, nonce, sealed, aad, noPlaintext);
}

/** Returns the plaintext, or rejects with `failure()` when the tag does not verify. */
export function aesGcmOpenOrReject(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, failure: () => unknown, aad?: Uint8Array): Promise<Uint8Array> {
  return openOr(key, nonce, sealed, aad, (): never => {
    throw failure();
  });
}
