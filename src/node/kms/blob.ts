/**
 * Symmetric ciphertext blobs of the local KMS (what Encrypt / GenerateDataKey return as
 * `CiphertextBlob` for SYMMETRIC_DEFAULT keys).
 *
 *   offset  size  field
 *   0       3     magic "SBK"
 *   3       1     format version = 0x01
 *   4       1     key id length L (1–64)
 *   5       L     key id (UTF-8, e.g. a UUID or an mrk-… id)
 *   5+L     4     key material version, u32 big-endian (1 = original material, +1 per rotation)
 *   9+L     12    IV (random)
 *   21+L    n     AES-256-GCM ciphertext of the plaintext (n = plaintext length)
 *   21+L+n  16    GCM tag
 *
 * AAD = the header (bytes 0 .. 21+L, i.e. magic through IV) ‖ encodeContext(encryption context).
 *
 * encodeContext: entries sorted by key (UTF-8 byte order; keys are unique), then
 *   u32 BE entry count ‖ for each entry: u32 BE len(key) ‖ key ‖ u32 BE len(value) ‖ value
 * (UTF-8). Every field is length-prefixed, so {"ab":"c"} and {"a":"bc"} encode differently, and
 * the empty context is the 4 zero bytes of a count of 0.
 *
 * The blob names the key but not the region or account: a key is looked up in the caller's account
 * and region, which lets a multi-region replica (same key id and material) decrypt it.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { randomBytesFast as randomBytes } from './random.js';

export const BLOB_MAGIC = new Uint8Array([0x53, 0x42, 0x4b]);
export const BLOB_VERSION = 1;
const IV_LEN = 12;
const TAG_LEN = 16;

export interface ParsedBlob {
  keyId: string;
  materialVersion: number;
  header: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

const encoder = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** A surrogate code unit: where UTF-16 order and UTF-8 byte order can differ (and lone ones become U+FFFD). */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The context's keys in UTF-8 byte order. Without surrogates, UTF-16 code-unit order (plain string
 * comparison) is that order; keys with surrogates are compared by their encoded bytes.
 */
function sortedKeys(context: Record<string, string>): string[] {
  const keys = Object.keys(context);
  if (keys.length < 2) return keys;
  if (keys.some((k) => SURROGATE.test(k))) {
    return keys
      .map((k) => [k, encoder.encode(k)] as const)
      .sort((x, y) => compareBytes(x[1], y[1]))
      .map(([k]) => k);
  }
  return keys.sort();
}

function contextLength(context: Record<string, string>, keys: string[]): number {
  let size = 4;
  for (const k of keys) size += 8 + Buffer.byteLength(k) + Buffer.byteLength(context[k]!);
  return size;
}

/** Writes encodeContext's bytes at `offset` of `out` (sized by contextLength). */
function writeContext(out: Buffer, offset: number, context: Record<string, string>, keys: string[]): void {
  out.writeUInt32BE(keys.length, offset);
  let o = offset + 4;
  for (const k of keys) {
    const kl = out.write(k, o + 4, 'utf8');
    out.writeUInt32BE(kl, o);
    o += 4 + kl;
    const vl = out.write(context[k]!, o + 4, 'utf8');
    out.writeUInt32BE(vl, o);
    o += 4 + vl;
  }
}

export function encodeContext(context: Record<string, string> | undefined): Uint8Array {
  const c = context ?? {};
  const keys = sortedKeys(c);
  const out = new Uint8Array(contextLength(c, keys));
  writeContext(Buffer.from(out.buffer, out.byteOffset, out.byteLength), 0, c, keys);
  return out;
}

/** header ‖ encodeContext(context) in one buffer (the GCM AAD); the header is its first `header.length` bytes. */
function aadOf(header: Uint8Array, context: Record<string, string> | undefined): Buffer {
  const c = context ?? {};
  const keys = sortedKeys(c);
  const aad = Buffer.allocUnsafe(header.length + contextLength(c, keys));
  aad.set(header, 0);
  writeContext(aad, header.length, c, keys);
  return aad;
}

export function sealBlob(
  keyId: string,
  materialVersion: number,
  material: Uint8Array,
  plaintext: Uint8Array,
  context: Record<string, string> | undefined,
): Uint8Array {
  const idLength = Buffer.byteLength(keyId);
  if (idLength < 1 || idLength > 64) throw new Error('key id length out of range');
  const headerLength = 5 + idLength + 4 + IV_LEN;
  // The blob, written in place: header, then ciphertext, then tag.
  const out = new Uint8Array(headerLength + plaintext.length + TAG_LEN);
  const buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  out.set(BLOB_MAGIC, 0);
  out[3] = BLOB_VERSION;
  out[4] = idLength;
  buf.write(keyId, 5, 'utf8');
  buf.writeUInt32BE(materialVersion, 5 + idLength);
  out.set(randomBytes(IV_LEN), 9 + idLength);
  const header = out.subarray(0, headerLength);
  const cipher = createCipheriv('aes-256-gcm', material, out.subarray(9 + idLength, headerLength));
  cipher.setAAD(aadOf(header, context));
  const ct = cipher.update(plaintext);
  cipher.final();
  out.set(ct, headerLength);
  out.set(cipher.getAuthTag(), headerLength + ct.length);
  return out;
}

/** Parses the header; returns undefined when the bytes are not a blob of this format. */
export function parseBlob(blob: Uint8Array): ParsedBlob | undefined {
  if (blob.length < 5 || blob[0] !== 0x53 || blob[1] !== 0x42 || blob[2] !== 0x4b || blob[3] !== BLOB_VERSION) return undefined;
  const l = blob[4]!;
  if (l < 1 || l > 64 || blob.length < 9 + l + IV_LEN + TAG_LEN) return undefined;
  let keyId: string;
  try {
    keyId = new TextDecoder('utf-8', { fatal: true }).decode(blob.subarray(5, 5 + l));
  } catch {
    return undefined;
  }
  const materialVersion = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(5 + l);
  const headerEnd = 9 + l + IV_LEN;
  return {
    keyId,
    materialVersion,
    header: blob.subarray(0, headerEnd),
    iv: blob.subarray(9 + l, headerEnd),
    ciphertext: blob.subarray(headerEnd, blob.length - TAG_LEN),
    tag: blob.subarray(blob.length - TAG_LEN),
  };
}

/** Returns the plaintext, or undefined when authentication fails (tampered blob, wrong context). */
export function openBlob(parsed: ParsedBlob, material: Uint8Array, context: Record<string, string> | undefined): Uint8Array | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', material, parsed.iv);
    decipher.setAAD(aadOf(parsed.header, context));
    decipher.setAuthTag(parsed.tag);
    const pt = decipher.update(parsed.ciphertext);
    decipher.final();
    return new Uint8Array(pt.buffer, pt.byteOffset, pt.byteLength);
  } catch {
    return undefined;
  }
}
