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

export async function aesGcmSeal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
  if ('subtle' in key) {
    const params: AesGcmParams = { name: 'AES-GCM', iv: nonce as BufferSource };
    if (aad) params.additionalData = aad as BufferSource;
    return new Uint8Array(await crypto.subtle.encrypt(params, key.subtle, plaintext as BufferSource));
  }
  const noble = await loadNoble();
  return noble.aesGcmEncrypt(key.raw, nonce, plaintext, aad);
}

/** Returns the plaintext, or `undefined` when the tag does not verify. */
export async function aesGcmOpen(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Promise<Uint8Array | undefined> {
  if (sealed.length < GCM_TAG_BYTES) return undefined;
  if ('subtle' in key) {
    const params: AesGcmParams = { name: 'AES-GCM', iv: nonce as BufferSource };
    if (aad) params.additionalData = aad as BufferSource;
    try {
      return new Uint8Array(await crypto.subtle.decrypt(params, key.subtle, sealed as BufferSource));
    } catch {
      return undefined;
    }
  }
  const noble = await loadNoble();
  try {
    return noble.aesGcmDecrypt(key.raw, nonce, sealed, aad);
  } catch {
    return undefined;
  }
}
