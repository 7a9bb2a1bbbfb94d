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

export function encodeContext(context: Record<string, string> | undefined): Uint8Array {
  const entries = Object.entries(context ?? {}).map(([k, v]) => [encoder.encode(k), encoder.encode(v)] as const);
  entries.sort((x, y) => compareBytes(x[0], y[0]));
  let size = 4;
  for (const [k, v] of entries) size += 8 + k.length + v.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, entries.length);
  let o = 4;
  for (const [k, v] of entries) {
    view.setUint32(o, k.length);
    out.set(k, o + 4);
    o += 4 + k.length;
    view.setUint32(o, v.length);
    out.set(v, o + 4);
    o += 4 + v.length;
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function sealBlob(
  keyId: string,
  materialVersion: number,
  material: Uint8Array,
  plaintext: Uint8Array,
  context: Record<string, string> | undefined,
): Uint8Array {
  const id = encoder.encode(keyId);
  if (id.length < 1 || id.length > 64) throw new Error('key id length out of range');
  const header = new Uint8Array(5 + id.length + 4 + IV_LEN);
  header.set(BLOB_MAGIC, 0);
  header[3] = BLOB_VERSION;
  header[4] = id.length;
  header.set(id, 5);
  new DataView(header.buffer).setUint32(5 + id.length, materialVersion);
  header.set(randomBytes(IV_LEN), 9 + id.length);
  const iv = header.subarray(9 + id.length);
  const cipher = createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(concat(header, encodeContext(context)));
  const ct = cipher.update(plaintext);
  cipher.final();
  return concat(header, ct, cipher.getAuthTag());
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
    decipher.setAAD(concat(parsed.header, encodeContext(context)));
    decipher.setAuthTag(parsed.tag);
    const pt = decipher.update(parsed.ciphertext);
    decipher.final();
    return new Uint8Array(pt.buffer, pt.byteOffset, pt.byteLength);
  } catch {
    return undefined;
  }
}
