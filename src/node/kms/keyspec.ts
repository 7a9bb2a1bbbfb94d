/** Key specs, their algorithms and the node:crypto operations behind them. */
import {
  constants,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPair,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  publicEncrypt,
  randomBytes,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { ecdsaSignDigest, ecdsaVerifyDigest, pssSignDigest, pssVerifyDigest } from './prehash.js';
import type { KeySpec, KeyUsage, KeyVersion } from './store.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface SpecInfo {
  usages: KeyUsage[];
  encryptionAlgorithms?: string[];
  signingAlgorithms?: string[];
  macAlgorithms?: string[];
  rsaBits?: number;
  curve?: string;
  /** Secret length for symmetric and HMAC keys. */
  bytes?: number;
}

const RSA_ENC = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
const RSA_SIGN = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
];

export const SPECS: Record<KeySpec, SpecInfo> = {
  SYMMETRIC_DEFAULT: { usages: ['ENCRYPT_DECRYPT'], encryptionAlgorithms: ['SYMMETRIC_DEFAULT'], bytes: 32 },
  RSA_2048: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], encryptionAlgorithms: RSA_ENC, signingAlgorithms: RSA_SIGN, rsaBits: 2048 },
  RSA_3072: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], encryptionAlgorithms: RSA_ENC, signingAlgorithms: RSA_SIGN, rsaBits: 3072 },
  RSA_4096: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], encryptionAlgorithms: RSA_ENC, signingAlgorithms: RSA_SIGN, rsaBits: 4096 },
  ECC_NIST_P256: { usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_256'], curve: 'prime256v1' },
  ECC_NIST_P384: { usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_384'], curve: 'secp384r1' },
  ECC_NIST_P521: { usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_512'], curve: 'secp521r1' },
  // secp256k1: signing only (AWS: "ECC_SECG_P256K1 ... SIGN_VERIFY").
  ECC_SECG_P256K1: { usages: ['SIGN_VERIFY'], signingAlgorithms: ['ECDSA_SHA_256'], curve: 'secp256k1' },
  HMAC_224: { usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: ['HMAC_SHA_224'], bytes: 28 },
  HMAC_256: { usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: ['HMAC_SHA_256'], bytes: 32 },
  HMAC_384: { usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: ['HMAC_SHA_384'], bytes: 48 },
  HMAC_512: { usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: ['HMAC_SHA_512'], bytes: 64 },
};

export const isKeySpec = (s: string): s is KeySpec => Object.prototype.hasOwnProperty.call(SPECS, s);

/** Algorithms listed in DescribeKey / GetPublicKey for a key of this spec and usage. */
export function algorithmsFor(
  spec: KeySpec,
  usage: KeyUsage,
): { EncryptionAlgorithms?: string[]; SigningAlgorithms?: string[]; MacAlgorithms?: string[]; KeyAgreementAlgorithms?: string[] } {
  const info = SPECS[spec];
  if (usage === 'ENCRYPT_DECRYPT') return { EncryptionAlgorithms: info.encryptionAlgorithms ?? [] };
  if (usage === 'SIGN_VERIFY') return { SigningAlgorithms: info.signingAlgorithms ?? [] };
  if (usage === 'KEY_AGREEMENT') return { KeyAgreementAlgorithms: ['ECDH'] };
  return { MacAlgorithms: info.macAlgorithms ?? [] };
}

/** AWS's value sets, as its validation messages list them (the SDK's enums). */
export const KEY_SPEC_VALUES = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'SYMMETRIC_DEFAULT',
  'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ECC_NIST_EDWARDS25519',
] as const;
export const KEY_USAGE_VALUES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
export const SIGNING_ALGORITHM_VALUES = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512', 'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512', 'SM2DSA', 'ML_DSA_SHAKE_256', 'ED25519_SHA_512', 'ED25519_PH_SHA_512',
] as const;
export const DATA_KEY_PAIR_SPEC_VALUES = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'SM2', 'ECC_NIST_EDWARDS25519',
] as const;

/** A fresh key pair (PKCS#8 DER private key, SPKI DER public key) for GenerateDataKeyPair. */
export async function generateKeyPairDer(spec: string): Promise<{ privateKey: Buffer; publicKey: Buffer }> {
  const encoding = { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } } as const;
  const pair =
    spec === 'ECC_NIST_EDWARDS25519'
      ? await generateKeyPairAsync('ed25519', encoding)
      : spec.startsWith('RSA_')
        ? await generateKeyPairAsync('rsa', { modulusLength: Number(spec.slice(4)), publicExponent: 65537, ...encoding })
        : await generateKeyPairAsync('ec', { namedCurve: SPECS[spec as KeySpec].curve!, ...encoding });
  return { privateKey: pair.privateKey as unknown as Buffer, publicKey: pair.publicKey as unknown as Buffer };
}

/** ECDH between the key's private key and a DER SPKI public key; undefined when the public key is not a point of the key's curve. */
export function ecdh(v: KeyVersion, spec: KeySpec, peerSpki: Uint8Array): Buffer | undefined {
  let peer: KeyObject;
  try {
    peer = createPublicKey({ key: Buffer.from(peerSpki), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
  if (peer.asymmetricKeyType !== 'ec' || peer.asymmetricKeyDetails?.namedCurve !== SPECS[spec].curve) return undefined;
  try {
    return diffieHellman({ privateKey: privateOf(v), publicKey: peer });
  } catch {
    return undefined;
  }
}

export async function generateMaterial(spec: KeySpec): Promise<{ material: string; publicKey?: string }> {
  const info = SPECS[spec];
  if (info.bytes !== undefined) return { material: randomBytes(info.bytes).toString('base64') };
  const pair = info.rsaBits
    ? await generateKeyPairAsync('rsa', {
        modulusLength: info.rsaBits,
        publicExponent: 65537,
        publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'der' },
      })
    : await generateKeyPairAsync('ec', {
        namedCurve: info.curve!,
        publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'der' },
      });
  return { material: (pair.privateKey as Buffer).toString('base64'), publicKey: (pair.publicKey as Buffer).toString('base64') };
}

/**
 * Checks given material (seed file, import) for a spec; returns normalised material. Asymmetric
 * material is a PKCS#8 private key (DER base64 or PEM).
 */
export function normaliseMaterial(spec: KeySpec, material: string): { material: string; publicKey?: string } {
  const info = SPECS[spec];
  if (info.bytes !== undefined) {
    const bytes = Buffer.from(material, 'base64');
    if (bytes.length !== info.bytes) throw new Error(`${spec} material must be ${info.bytes} bytes (base64)`);
    return { material: bytes.toString('base64') };
  }
  const key = material.includes('-----BEGIN')
    ? createPrivateKey(material)
    : createPrivateKey({ key: Buffer.from(material, 'base64'), format: 'der', type: 'pkcs8' });
  const details = key.asymmetricKeyDetails ?? {};
  if (info.rsaBits ? key.asymmetricKeyType !== 'rsa' || details.modulusLength !== info.rsaBits : key.asymmetricKeyType !== 'ec' || details.namedCurve !== info.curve) {
    throw new Error(`the private key does not match ${spec}`);
  }
  return {
    material: key.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
    publicKey: createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

// Parsed key objects and raw secrets, cached per version object.
const privateCache = new WeakMap<KeyVersion, KeyObject>();
const publicCache = new WeakMap<KeyVersion, KeyObject>();
const secretCache = new WeakMap<KeyVersion, Buffer>();

export function secretOf(v: KeyVersion): Buffer {
  let s = secretCache.get(v);
  if (!s) {
    s = Buffer.from(v.material, 'base64');
    secretCache.set(v, s);
  }
  return s;
}

function privateOf(v: KeyVersion): KeyObject {
  let k = privateCache.get(v);
  if (!k) {
    k = createPrivateKey({ key: Buffer.from(v.material, 'base64'), format: 'der', type: 'pkcs8' });
    privateCache.set(v, k);
  }
  return k;
}

function publicOf(v: KeyVersion): KeyObject {
  let k = publicCache.get(v);
  if (!k) {
    k = createPublicKey({ key: Buffer.from(v.publicKey!, 'base64'), format: 'der', type: 'spki' });
    publicCache.set(v, k);
  }
  return k;
}

const oaepHash = (alg: string) => (alg === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256');

/** Largest plaintext RSA-OAEP can take: k − 2·hLen − 2. */
export function rsaMaxPlaintext(spec: KeySpec, alg: string): number {
  const k = SPECS[spec].rsaBits! / 8;
  const h = alg === 'RSAES_OAEP_SHA_1' ? 20 : 32;
  return k - 2 * h - 2;
}

export function rsaEncrypt(v: KeyVersion, alg: string, plaintext: Uint8Array): Buffer {
  return publicEncrypt({ key: publicOf(v), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash(alg) }, plaintext);
}

/** Returns undefined when decryption fails. */
export function rsaDecrypt(v: KeyVersion, alg: string, ciphertext: Uint8Array): Buffer | undefined {
  try {
    return privateDecrypt({ key: privateOf(v), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash(alg) }, ciphertext);
  } catch {
    return undefined;
  }
}

export function publicKeyDer(v: KeyVersion): Buffer {
  return Buffer.from(v.publicKey!, 'base64');
}

function hashOf(alg: string): 'sha224' | 'sha256' | 'sha384' | 'sha512' {
  return alg.endsWith('224') ? 'sha224' : alg.endsWith('384') ? 'sha384' : alg.endsWith('512') ? 'sha512' : 'sha256';
}

const DIGEST_LEN = { sha224: 28, sha256: 32, sha384: 48, sha512: 64 } as const;
// DER DigestInfo prefixes for PKCS#1 v1.5 signatures over a precomputed digest.
const DIGEST_INFO: Record<string, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

export class SignInputError extends Error {}

/** DIGEST: the message is the digest itself and must have the algorithm's hash length (AWS: ValidationException otherwise). */
function checkDigest(alg: string, message: Uint8Array): void {
  const n = DIGEST_LEN[hashOf(alg)];
  if (message.length !== n) throw new SignInputError(`Digest is invalid length for algorithm ${alg}.`);
}

/** Signs RAW messages (hashed here) or DIGEST values (the hash given), for every signing algorithm. */
export function signMessage(v: KeyVersion, alg: string, message: Uint8Array, messageType: string): Buffer {
  const hash = hashOf(alg);
  const key = privateOf(v);
  if (messageType === 'DIGEST') {
    checkDigest(alg, message);
    if (alg.startsWith('RSASSA_PKCS1_V1_5')) {
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([Buffer.from(DIGEST_INFO[hash]!, 'hex'), message]));
    }
    if (alg.startsWith('RSASSA_PSS')) return pssSignDigest(key, hash, message);
    return ecdsaSignDigest(key, message);
  }
  if (alg.startsWith('RSASSA_PSS')) {
    return cryptoSign(hash, message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_LEN[hash] });
  }
  if (alg.startsWith('RSASSA_PKCS1')) return cryptoSign(hash, message, { key, padding: constants.RSA_PKCS1_PADDING });
  return cryptoSign(hash, message, { key, dsaEncoding: 'der' });
}

export function verifyMessage(v: KeyVersion, alg: string, message: Uint8Array, messageType: string, signature: Uint8Array): boolean {
  const hash = hashOf(alg);
  const key = publicOf(v);
  if (messageType === 'DIGEST') checkDigest(alg, message);
  try {
    if (messageType === 'DIGEST') {
      if (alg.startsWith('RSASSA_PKCS1_V1_5')) {
        const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
        const expected = Buffer.concat([Buffer.from(DIGEST_INFO[hash]!, 'hex'), message]);
        return recovered.length === expected.length && timingSafeEqual(recovered, expected);
      }
      if (alg.startsWith('RSASSA_PSS')) return pssVerifyDigest(key, hash, message, signature);
      return ecdsaVerifyDigest(privateOf(v), message, signature);
    }
    if (alg.startsWith('RSASSA_PSS')) {
      return cryptoVerify(hash, message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_LEN[hash] }, signature);
    }
    if (alg.startsWith('RSASSA_PKCS1')) return cryptoVerify(hash, message, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    return cryptoVerify(hash, message, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

export function hmac(v: KeyVersion, alg: string, message: Uint8Array): Buffer {
  return createHmac(hashOf(alg), secretOf(v)).update(message).digest();
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
