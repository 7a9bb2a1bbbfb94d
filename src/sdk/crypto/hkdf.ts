/**
 * HKDF-Expand (RFC 5869 §2.3) with SHA-512. WebCrypto's HKDF always runs Extract first, and
 * Cobblestone uses Expand alone, so this is built on HMAC-SHA-512.
 */
import { SealboxError } from '../errors.js';
import { loadNoble, subtleOrUndefined } from './backend.js';
import { copyBytes } from './bytes.js';

const HASH_BYTES = 64;

/**
 * Input keying material: raw bytes, or a WebCrypto HMAC SHA-512 key (what an RSA `unwrapKey`
 * produces, so the data key never exists as bytes in JavaScript).
 */
export type PrkInput = Uint8Array | CryptoKey;

export async function importHmacSha512Key(raw: Uint8Array, extractable = false): Promise<CryptoKey> {
  const subtle = subtleOrUndefined();
  if (!subtle) throw new SealboxError('ERR_UNSUPPORTED', 'HMAC CryptoKeys need WebCrypto');
  return subtle.importKey('raw', copyBytes(raw), { name: 'HMAC', hash: 'SHA-512' }, extractable, ['sign']);
}

export async function hkdfExpandSha512(prk: PrkInput, info: Uint8Array, length: number): Promise<Uint8Array> {
  if (length > 255 * HASH_BYTES) throw new SealboxError('ERR_INVALID_ARGUMENT', 'HKDF-Expand output too long');
  const mac = await hmacSha512(prk);
  const out = new Uint8Array(length);
  let previous = new Uint8Array(0);
  for (let block = 1, offset = 0; offset < length; block++) {
    const input = new Uint8Array(previous.length + info.length + 1);
    input.set(previous, 0);
    input.set(info, previous.length);
    input[input.length - 1] = block;
    previous = await mac(input);
    out.set(previous.subarray(0, Math.min(HASH_BYTES, length - offset)), offset);
    offset += HASH_BYTES;
  }
  return out;
}

async function hmacSha512(prk: PrkInput): Promise<(data: Uint8Array) => Promise<Uint8Array<ArrayBuffer>>> {
  if (!(prk instanceof Uint8Array)) {
    const key = prk;
    return async (data) => new Uint8Array(await crypto.subtle.sign('HMAC', key, data as BufferSource));
  }
  const subtle = subtleOrUndefined();
  if (subtle) {
    const key = await importHmacSha512Key(prk);
    return async (data) => new Uint8Array(await subtle.sign('HMAC', key, data as BufferSource));
  }
  const noble = await loadNoble();
  const raw = copyBytes(prk);
  return async (data) => copyBytes(noble.hmacSha512(raw, data));
}
