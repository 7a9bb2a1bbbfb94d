/**
 * Signatures over a precomputed digest (Sign/Verify with `MessageType: DIGEST`) for RSASSA-PSS and
 * ECDSA, which node:crypto signs only over a message it hashes itself.
 *
 * - RSASSA-PSS: EMSA-PSS encoding (RFC 8017 §9.1, MGF1 with the same hash, salt length = hash
 *   length, as KMS uses) and the raw RSA operation (`privateEncrypt` / `publicDecrypt` without
 *   padding).
 * - ECDSA (FIPS 186-4 §6.4): every point multiplication is OpenSSL's, through `createECDH`
 *   (`setPrivateKey(k)` yields k·G); this file does only the arithmetic modulo the group order.
 *   Verification uses the key's own private scalar d: u1·G + u2·Q = (u1 + u2·d)·G, so it needs no
 *   point addition either. The arithmetic is BigInt, not constant-time: the local KMS is a
 *   development server, and its keys are development keys.
 */
import { constants, createECDH, createHash, privateEncrypt, publicDecrypt, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

type Hash = 'sha224' | 'sha256' | 'sha384' | 'sha512';
const HASH_LEN: Record<Hash, number> = { sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

// ---------------------------------------------------------------------------------------------
// RSASSA-PSS

function mgf1(hash: Hash, seed: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  let done = 0;
  for (let counter = 0; done < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    block.copy(out, done, 0, Math.min(block.length, length - done));
    done += block.length;
  }
  return out;
}

function modulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails!.modulusLength!;
}

export function pssSignDigest(key: KeyObject, hash: Hash, digest: Uint8Array): Buffer {
  const hLen = HASH_LEN[hash];
  const modBits = modulusBits(key);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - 2 * hLen - 2] = 0x01;
  salt.copy(db, emLen - 2 * hLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modBits / 8);
  const block = em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, block);
}

export function pssVerifyDigest(key: KeyObject, hash: Hash, digest: Uint8Array, signature: Uint8Array): boolean {
  const hLen = HASH_LEN[hash];
  const modBits = modulusBits(key);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const k = Math.ceil(modBits / 8);
  if (signature.length !== k) return false;
  let block: Buffer;
  try {
    block = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  const em = block.subarray(block.length - emLen);
  if (block.length > emLen && block.subarray(0, block.length - emLen).some((b) => b !== 0)) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if ((maskedDb[0]! & ~(0xff >> (8 * emLen - emBits)) & 0xff) !== 0) return false;
  const db = mgf1(hash, h, maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= maskedDb[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const psEnd = emLen - 2 * hLen - 2;
  for (let i = 0; i < psEnd; i++) if (db[i] !== 0) return false;
  if (db[psEnd] !== 0x01) return false;
  const salt = db.subarray(psEnd + 1);
  const h2 = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(h, h2);
}

// ---------------------------------------------------------------------------------------------
// ECDSA

/** Group orders (SEC 2, FIPS 186-4 D.1.2) by OpenSSL curve name. */
const ORDERS: Record<string, bigint> = {
  prime256v1: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  secp384r1: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  secp521r1:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  secp256k1: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
};

const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));

function toBytes(x: bigint, length: number): Buffer {
  return Buffer.from(x.toString(16).padStart(length * 2, '0'), 'hex');
}

const mod = (a: bigint, n: bigint): bigint => ((a % n) + n) % n;

function invert(a: bigint, n: bigint): bigint {
  let [r0, r1] = [mod(a, n), n];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, n);
}

const bitLength = (n: bigint): number => n.toString(2).length;

/** The digest as an integer, truncated to the order's bit length (FIPS 186-4 §6.4). */
function digestInt(digest: Uint8Array, n: bigint): bigint {
  const e = toBig(digest);
  const excess = digest.length * 8 - bitLength(n);
  return excess > 0 ? e >> BigInt(excess) : e;
}

/** x coordinate of k·G, by OpenSSL. */
function baseMulX(curve: string, k: bigint): bigint {
  const ecdh = createECDH(curve);
  ecdh.setPrivateKey(toBytes(k, Math.ceil(bitLength(ORDERS[curve]!) / 8)));
  const point = ecdh.getPublicKey(null, 'uncompressed');
  const len = (point.length - 1) / 2;
  return toBig(point.subarray(1, 1 + len));
}

function scalarOf(key: KeyObject): bigint {
  const jwk = key.export({ format: 'jwk' });
  return toBig(Buffer.from(jwk.d!, 'base64url'));
}

function derInt(x: bigint): Buffer {
  const hex = x.toString(16);
  let b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.from([n]) : Buffer.from([0x81, n]);
}

function parseDerSignature(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  let i = 0;
  const readLen = (): number | undefined => {
    const first = sig[i++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    if (first !== 0x81) return undefined;
    const l = sig[i++];
    return l !== undefined && l >= 0x80 ? l : undefined;
  };
  if (sig[i++] !== 0x30) return undefined;
  const total = readLen();
  if (total === undefined || i + total !== sig.length) return undefined;
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (sig[i++] !== 0x02) return undefined;
    const l = readLen();
    if (l === undefined || l === 0 || i + l > sig.length) return undefined;
    const bytes = sig.subarray(i, i + l);
    if (bytes[0]! & 0x80) return undefined;
    if (l > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) === 0) return undefined;
    ints.push(toBig(bytes));
    i += l;
  }
  if (i !== sig.length) return undefined;
  return { r: ints[0]!, s: ints[1]! };
}

export function ecdsaSignDigest(key: KeyObject, digest: Uint8Array): Buffer {
  const curve = key.asymmetricKeyDetails!.namedCurve!;
  const n = ORDERS[curve]!;
  const d = scalarOf(key);
  const e = digestInt(digest, n);
  const nLen = Math.ceil(bitLength(n) / 8);
  for (;;) {
    const k = mod(toBig(randomBytes(nLen + 16)), n - 1n) + 1n;
    const r = mod(baseMulX(curve, k), n);
    if (r === 0n) continue;
    const s = mod(invert(k, n) * (e + r * d), n);
    if (s === 0n) continue;
    const body = Buffer.concat([derInt(r), derInt(s)]);
    return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
  }
}

/** Verifies with the private key's scalar (u1·G + u2·Q = (u1 + u2·d)·G); see the file comment. */
export function ecdsaVerifyDigest(privateKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const curve = privateKey.asymmetricKeyDetails!.namedCurve!;
  const n = ORDERS[curve]!;
  const parsed = parseDerSignature(signature);
  if (!parsed) return false;
  const { r, s } = parsed;
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  const w = invert(s, n);
  const u = mod(digestInt(digest, n) * w + r * w * scalarOf(privateKey), n);
  if (u === 0n) return false;
  return mod(baseMulX(curve, u), n) === r;
}
