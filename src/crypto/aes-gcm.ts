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
const failed = (): undefined => undefined;

function gcmParams(nonce: Uint8Array, aad: Uint8Array | undefined): AesGcmParams {
  return aad ? { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: aad as BufferSource } : { name: 'AES-GCM', iv: nonce as BufferSource };
}

/**
 * Not `async`: on the WebCrypto path the result is one `.then` away from `encrypt`, which saves
 * promise ticks per chunk in the streams. Synchronous throws still come back as rejections.
 */
export function aesGcmSeal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
  if ('subtle' in key) {
    try {
      return crypto.subtle.encrypt(gcmParams(nonce, aad), key.subtle, plaintext as BufferSource).then(toBytes);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return loadNoble().then((noble) => noble.aesGcmEncrypt(key.raw, nonce, plaintext, aad));
}

/** Returns the plaintext, or `undefined` when the tag does not verify. */
export function aesGcmOpen(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Promise<Uint8Array | undefined> {
  if (sealed.length < GCM_TAG_BYTES) return Promise.resolve(undefined);
  if ('subtle' in key) {
    try {
      return crypto.subtle.decrypt(gcmParams(nonce, aad), key.subtle, sealed as BufferSource).then(toBytes, failed);
    } catch {
      return Promise.resolve(undefined);
    }
  }
  return loadNoble().then((noble) => {
    try {
      return noble.aesGcmDecrypt(key.raw, nonce, sealed, aad);
    } catch {
      return undefined;
    }
  });
}
