/**
 * RSA-OAEP with SHA-256 (MGF1-SHA-256) and an empty label: the scheme AWS KMS calls
 * RSAES_OAEP_SHA_256, so a data key wrapped here with a KMS key's public key unwraps there.
 */
import { SealboxError } from '../errors.js';
import { requireSubtle } from './backend.js';
import { copyBytes, fromBase64, isBytes } from './bytes.js';

export type RsaKeyInput = CryptoKey | Uint8Array | string;

const ALGORITHM: RsaHashedImportParams = { name: 'RSA-OAEP', hash: 'SHA-256' };
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 4096;

function pemBody(pem: string, kind: 'PUBLIC' | 'PRIVATE'): Uint8Array {
  if (/-----BEGIN RSA (PUBLIC|PRIVATE) KEY-----/.test(pem)) {
    throw new SealboxError(
      'ERR_INVALID_ARGUMENT',
      `PKCS#1 PEM ("BEGIN RSA ${kind} KEY") is not supported by WebCrypto; convert it to ${kind === 'PUBLIC' ? 'SPKI' : 'PKCS#8'} ` +
        `(openssl ${kind === 'PUBLIC' ? 'rsa -RSAPublicKey_in -pubout' : 'pkcs8 -topk8 -nocrypt'})`,
    );
  }
  const match = new RegExp(`-----BEGIN ${kind} KEY-----([^-]+)-----END ${kind} KEY-----`).exec(pem);
  if (!match) throw new SealboxError('ERR_INVALID_ARGUMENT', `expected a PEM "${kind} KEY" block`);
  return fromBase64(match[1]!.replace(/\s+/g, ''));
}

function checkModulus(key: CryptoKey): CryptoKey {
  const algorithm = key.algorithm as Partial<RsaHashedKeyAlgorithm>;
  if (algorithm.name !== 'RSA-OAEP' || (algorithm.hash as KeyAlgorithm | undefined)?.name !== 'SHA-256') {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'RSA keys must be RSA-OAEP keys with SHA-256');
  }
  const bits = algorithm.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', `RSA keys must be ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits, not ${bits}`);
  }
  return key;
}

async function importRsa(input: RsaKeyInput, kind: 'PUBLIC' | 'PRIVATE'): Promise<CryptoKey> {
  if (typeof CryptoKey !== 'undefined' && input instanceof CryptoKey) return checkModulus(input);
  if (!(typeof input === 'string' || isBytes(input))) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'an RSA key must be a CryptoKey, DER bytes or a PEM string');
  }
  const subtle = requireSubtle('RSA-OAEP');
  const der = typeof input === 'string' ? pemBody(input, kind) : copyBytes(input);
  try {
    const key =
      kind === 'PUBLIC'
        ? await subtle.importKey('spki', der as BufferSource, ALGORITHM, true, ['encrypt', 'wrapKey'])
        : await subtle.importKey('pkcs8', der as BufferSource, ALGORITHM, false, ['decrypt', 'unwrapKey']);
    return checkModulus(key);
  } catch (cause) {
    if (cause instanceof SealboxError) throw cause;
    throw new SealboxError('ERR_INVALID_ARGUMENT', `not a valid RSA ${kind === 'PUBLIC' ? 'SPKI public' : 'PKCS#8 private'} key`, { cause });
  }
}

export const importRsaPublicKey = (input: RsaKeyInput) => importRsa(input, 'PUBLIC');
export const importRsaPrivateKey = (input: RsaKeyInput) => importRsa(input, 'PRIVATE');

export async function rsaOaepEncrypt(publicKey: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  const subtle = requireSubtle('RSA-OAEP');
  return new Uint8Array(await subtle.encrypt({ name: 'RSA-OAEP' }, publicKey, data as BufferSource));
}

/**
 * The most leading zero bytes a 32-byte message may lose in an engine's RSA-OAEP decrypt. WebKitGTK
 * returns the OAEP message as a number, so a data key that starts with zero bytes (one in 256 does)
 * comes back short; eight lost bytes is a 2^-64 event, so anything shorter is a different message.
 */
const MAX_DROPPED_ZEROS = 8;
/** A wrapped data key's length (keyring/types.ts DATA_KEY_BYTES; the crypto layer does not import keyrings). */
const DATA_KEY_LENGTH = 32;

/**
 * Restores the leading zero bytes an engine dropped from a 32-byte message. Safe to accept: OAEP
 * already authenticated the message, and anyone with the public key could wrap the padded value.
 */
function restoreLeadingZeros(message: Uint8Array): Uint8Array | undefined {
  if (message.length === DATA_KEY_LENGTH) return message;
  if (message.length > DATA_KEY_LENGTH || message.length < DATA_KEY_LENGTH - MAX_DROPPED_ZEROS) return undefined;
  const padded = new Uint8Array(DATA_KEY_LENGTH);
  padded.set(message, DATA_KEY_LENGTH - message.length);
  message.fill(0);
  return padded;
}

/**
 * Unwraps a 32-byte data key. With `unwrapKey` usage the key goes straight into a non-extractable
 * HMAC SHA-512 CryptoKey; with only `decrypt` usage (or where the engine's unwrapKey chokes on a
 * message that lost its leading zeros, see {@link restoreLeadingZeros}) it comes back as bytes.
 * Resolves to `undefined` when OAEP decoding fails (a different key, or a damaged wrapped key).
 */
export async function rsaOaepUnwrapDataKey(privateKey: CryptoKey, wrapped: Uint8Array): Promise<CryptoKey | Uint8Array | undefined> {
  const subtle = requireSubtle('RSA-OAEP');
  if (privateKey.usages.includes('unwrapKey')) {
    try {
      return await subtle.unwrapKey('raw', wrapped as BufferSource, privateKey, { name: 'RSA-OAEP' }, { name: 'HMAC', hash: 'SHA-512', length: 256 }, false, ['sign']);
    } catch {
      if (!privateKey.usages.includes('decrypt')) return undefined;
    }
  }
  try {
    return restoreLeadingZeros(new Uint8Array(await subtle.decrypt({ name: 'RSA-OAEP' }, privateKey, wrapped as BufferSource)));
  } catch {
    return undefined;
  }
}

export async function spkiOf(publicKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await requireSubtle('RSA-OAEP').exportKey('spki', publicKey));
}
