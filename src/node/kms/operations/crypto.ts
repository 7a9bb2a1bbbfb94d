/**
 * Local KMS operations. Cryptography: GenerateDataKey(WithoutPlaintext), GenerateDataKeyPair(WithoutPlaintext),
 * GenerateRandom, Encrypt, Decrypt, ReEncrypt, GetPublicKey, Sign, Verify, GenerateMac, VerifyMac, DeriveSharedSecret.
 *
 * Each operation reads and checks its whole input before it looks the key up, so a malformed request
 * answers ValidationException whether or not the key exists (as AWS validates before it authorizes).
 */
import { timingSafeEqual } from 'node:crypto';
import { encryptionContextKeys } from '../../../edge/policy/index.js';
import { openBlob, parseBlob, sealBlob } from '../blob.js';
import { randomBytesFast } from '../random.js';
import { AwsError } from '../../../edge/aws/errors.js';
import { invalidCiphertext, invalidKeyUsage, invalidMac, invalidSignature, unsupportedOperation, validation } from '../errors.js';
import { Input, b64, constraint } from '../input.js';
import {
  DATA_KEY_PAIR_SPEC_VALUES,
  SIGNING_ALGORITHM_VALUES,
  SPECS,
  SignInputError,
  algorithmsFor,
  ecdh,
  generateKeyPairDer,
  hmac,
  publicKeyDer,
  rsaDecrypt,
  rsaEncrypt,
  rsaMaxPlaintext,
  secretOf,
  signMessage,
  verifyMessage,
} from '../keyspec.js';
import { type KeyRecord, type KeyVersion } from '../store.js';
import { materialId, type Ctx, type KmsCore } from '../core.js';

/**
 * False when `JSON.stringify(map).length` is surely at most `limit`: each character takes at most 6
 * in JSON (`\uXXXX`), plus quotes, colon and comma per entry and the braces.
 */
function jsonLengthMayExceed(map: Record<string, string>, limit: number): boolean {
  let bound = 2;
  for (const k in map) bound += 6 * (k.length + map[k]!.length) + 6;
  return bound > limit;
}

function readContext(core: KmsCore, ctx: Ctx, input: Input, name = 'EncryptionContext'): Record<string, string> | undefined {
  const c = input.map(name);
  if (c && Object.keys(c).length > 0) {
    if (jsonLengthMayExceed(c, 8192) && JSON.stringify(c).length > 8192) throw validation('The encryption context is too large.');
    ctx.audit.encryptionContext = ctx.audit.encryptionContext ? { ...ctx.audit.encryptionContext, ...c } : c;
  }
  return c;
}

function symEncrypt(core: KmsCore, key: KeyRecord, plaintext: Uint8Array, context: Record<string, string> | undefined): Uint8Array {
  const v = key.versions[key.versions.length - 1]!;
  return sealBlob(key.keyId, v.version, secretOf(v), plaintext, context);
}

/** The KeyMaterialId of a symmetric key's current material (what Encrypt-side operations use). */
function currentMaterialId(key: KeyRecord): string {
  return materialId(key, key.versions[key.versions.length - 1]!);
}

/** Data keys and data key pairs are encrypted under a symmetric encryption key. */
function requireSymmetric(core: KmsCore, key: KeyRecord, op: string): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw invalidKeyUsage(`${core.arn(key)} key usage is ${key.keyUsage} which is not valid for ${op}.`);
}

export async function generateDataKey(core: KmsCore, ctx: Ctx, input: Input, withPlaintext: boolean): Promise<Record<string, unknown>> {
  const keyId = input.str('KeyId', { required: true });
  const context = readContext(core, ctx, input);
  const spec = input.str('KeySpec', { enum: ['AES_256', 'AES_128'] });
  const n = input.int('NumberOfBytes', { min: 1, max: 1024 });
  if ((spec === undefined) === (n === undefined)) throw validation('Please specify either number of bytes or key spec.');
  if (input.has('Recipient')) throw unsupportedOperation('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.');
  const key = await core.resolve(ctx, keyId, { allowAlias: true });
  core.authorize(ctx, key, withPlaintext ? 'kms:GenerateDataKey' : 'kms:GenerateDataKeyWithoutPlaintext', encryptionContextKeys(context), context);
  core.requireEnabled(key);
  requireSymmetric(core, key, withPlaintext ? 'GenerateDataKey' : 'GenerateDataKeyWithoutPlaintext');
  core.dryRun(input);
  const plaintext = randomBytesFast(n ?? (spec === 'AES_128' ? 16 : 32));
  const blob = symEncrypt(core, key, plaintext, context);
  const out: Record<string, unknown> = { CiphertextBlob: b64(blob), KeyId: core.arn(key) };
  if (withPlaintext) out.Plaintext = plaintext.toString('base64');
  out.KeyMaterialId = currentMaterialId(key);
  return out;
}

/**
 * GenerateDataKeyPair(WithoutPlaintext): a fresh key pair whose private key (PKCS#8 DER) comes back
 * encrypted under a symmetric KMS key (and, with plaintext, in the clear), with its public key (SPKI DER).
 */
export async function generateDataKeyPair(core: KmsCore, ctx: Ctx, input: Input, withPlaintext: boolean): Promise<Record<string, unknown>> {
  const keyId = input.str('KeyId', { required: true });
  const context = readContext(core, ctx, input);
  const pairSpec = input.str('KeyPairSpec', { required: true, enum: DATA_KEY_PAIR_SPEC_VALUES });
  if (input.has('Recipient')) throw unsupportedOperation('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.');
  input.bool('DryRun');
  const op = withPlaintext ? 'GenerateDataKeyPair' : 'GenerateDataKeyPairWithoutPlaintext';
  const key = await core.resolve(ctx, keyId, { allowAlias: true });
  core.authorize(ctx, key, `kms:${op}`, { ...encryptionContextKeys(context), 'kms:DataKeyPairSpec': pairSpec }, context);
  core.requireEnabled(key);
  requireSymmetric(core, key, op);
  if (pairSpec === 'SM2') throw unsupportedOperation('SM2 is supported only in China Regions; the local KMS does not offer it.');
  core.dryRun(input);
  ctx.audit.params = { keyPairSpec: pairSpec };
  const { privateKey, publicKey } = await generateKeyPairDer(pairSpec);
  const blob = symEncrypt(core, key, privateKey, context);
  const out: Record<string, unknown> = { PrivateKeyCiphertextBlob: b64(blob) };
  if (withPlaintext) out.PrivateKeyPlaintext = privateKey.toString('base64');
  out.PublicKey = publicKey.toString('base64');
  out.KeyId = core.arn(key);
  out.KeyPairSpec = pairSpec;
  out.KeyMaterialId = currentMaterialId(key);
  privateKey.fill(0);
  return out;
}

export async function generateRandom(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const n = input.int('NumberOfBytes', { min: 1, max: 1024 });
  if (n === undefined) throw constraint('NumberOfBytes', 'Member must not be null', null);
  if (input.has('CustomKeyStoreId')) throw unsupportedOperation('Custom key stores are not supported by the local KMS.');
  ctx.audit.params = { numberOfBytes: n };
  return { Plaintext: randomBytesFast(n).toString('base64') };
}

async function encryptWith(core: KmsCore, ctx: Ctx, key: KeyRecord, plaintext: Uint8Array, context: Record<string, string> | undefined, algorithm: string): Promise<Uint8Array> {
  core.requireUsage(key, 'ENCRYPT_DECRYPT', 'Encrypt');
  const algs = SPECS[key.keySpec].encryptionAlgorithms ?? [];
  if (!algs.includes(algorithm)) throw invalidKeyUsage(`${algorithm} is not a valid encryption algorithm for ${core.arn(key)}.`);
  if (key.keySpec === 'SYMMETRIC_DEFAULT') return symEncrypt(core, key, plaintext, context);
  if (context && Object.keys(context).length > 0) throw validation('EncryptionContext is not supported with asymmetric keys.');
  const max = rsaMaxPlaintext(key.keySpec, algorithm);
  if (plaintext.length > max) throw validation(`Plaintext is too long for ${key.keySpec} with ${algorithm}: at most ${max} bytes.`);
  return rsaEncrypt(key.versions[key.versions.length - 1]!, algorithm, plaintext);
}

export async function encrypt(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyId = input.str('KeyId', { required: true });
  const plaintext = input.blob('Plaintext', { required: true, min: 1, max: 4096 });
  const context = readContext(core, ctx, input);
  const algorithm = input.str('EncryptionAlgorithm', { enum: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] }) ?? 'SYMMETRIC_DEFAULT';
  const key = await core.resolve(ctx, keyId, { allowAlias: true });
  core.authorize(ctx, key, 'kms:Encrypt', { ...encryptionContextKeys(context), 'kms:EncryptionAlgorithm': algorithm }, context);
  core.requireEnabled(key);
  const blob = await encryptWith(core, ctx, key, plaintext, context, algorithm);
  core.dryRun(input);
  return { CiphertextBlob: b64(blob), KeyId: core.arn(key), EncryptionAlgorithm: algorithm };
}

/** Shared by Decrypt and ReEncrypt (source side). */
async function decryptWith(core: KmsCore,
  ctx: Ctx,
  blob: Uint8Array,
  keyIdInput: string | undefined,
  context: Record<string, string> | undefined,
  algorithm: string,
  action: string,
  dryRun: Input | undefined,
): Promise<{ key: KeyRecord; plaintext: Uint8Array; version?: KeyVersion }> {
  let key: KeyRecord | undefined;
  if (keyIdInput !== undefined) key = await core.resolve(ctx, keyIdInput, { allowAlias: true });
  if (key && key.keySpec !== 'SYMMETRIC_DEFAULT') {
    core.authorize(ctx, key, action, { 'kms:EncryptionAlgorithm': algorithm });
    core.requireEnabled(key);
    core.requireUsage(key, 'ENCRYPT_DECRYPT', 'Decrypt');
    if (!(SPECS[key.keySpec].encryptionAlgorithms ?? []).includes(algorithm)) {
      throw invalidKeyUsage(`${algorithm} is not a valid encryption algorithm for ${core.arn(key)}.`);
    }
    if (context && Object.keys(context).length > 0) throw validation('EncryptionContext is not supported with asymmetric keys.');
    if (dryRun) core.dryRun(dryRun);
    const pt = rsaDecrypt(key.versions[key.versions.length - 1]!, algorithm, blob);
    if (!pt) throw invalidCiphertext();
    return { key, plaintext: new Uint8Array(pt) };
  }
  if (algorithm !== 'SYMMETRIC_DEFAULT') {
    if (key) throw invalidKeyUsage(`${algorithm} is not a valid encryption algorithm for ${core.arn(key)}.`);
    throw validation('KeyId is required to decrypt with an asymmetric encryption algorithm.');
  }
  const parsed = parseBlob(blob);
  if (!parsed) throw invalidCiphertext();
  if (key) {
    if (parsed.keyId !== key.keyId) throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
  } else {
    // The caller's own key, else (as AWS, whose blobs carry the key ARN) the key of another account
    // in this region: key ids are unique, and the key policy and grants decide.
    key =
      core.store.getKey(ctx.region, ctx.caller.account, parsed.keyId) ??
      core.store.allKeys().find((k) => k.region === ctx.region && k.keyId === parsed.keyId);
    if (key) key = await core.upkeep(ctx, key);
    if (!key) throw invalidCiphertext();
    ctx.audit.keyId = core.arn(key);
  }
  core.authorize(ctx, key, action, { ...encryptionContextKeys(context), 'kms:EncryptionAlgorithm': algorithm }, context);
  core.requireEnabled(key);
  if (dryRun) core.dryRun(dryRun);
  const version = key.versions.find((v) => v.version === parsed.materialVersion);
  if (!version) throw invalidCiphertext();
  const pt = openBlob(parsed, secretOf(version), context);
  if (!pt) throw invalidCiphertext();
  return { key, plaintext: pt, version };
}

export async function decrypt(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const blob = input.blob('CiphertextBlob', { required: true, min: 1, max: 6144 });
  const context = readContext(core, ctx, input);
  const algorithm = input.str('EncryptionAlgorithm', { enum: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] }) ?? 'SYMMETRIC_DEFAULT';
  if (input.has('Recipient')) throw unsupportedOperation('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.');
  const { key, plaintext, version } = await decryptWith(core, ctx, blob, input.str('KeyId'), context, algorithm, 'kms:Decrypt', input);
  const out: Record<string, unknown> = { KeyId: core.arn(key), Plaintext: b64(plaintext), EncryptionAlgorithm: algorithm };
  // AWS: "present only when the operation uses a symmetric encryption KMS key".
  if (version !== undefined) out.KeyMaterialId = materialId(key, version);
  return out;
}

export async function reEncrypt(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const blob = input.blob('CiphertextBlob', { required: true, min: 1, max: 6144 });
  const srcContext = readContext(core, ctx, input, 'SourceEncryptionContext');
  const dstContext = readContext(core, ctx, input, 'DestinationEncryptionContext');
  const algs = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;
  const srcAlg = input.str('SourceEncryptionAlgorithm', { enum: algs }) ?? 'SYMMETRIC_DEFAULT';
  const dstAlg = input.str('DestinationEncryptionAlgorithm', { enum: algs }) ?? 'SYMMETRIC_DEFAULT';
  const destId = input.str('DestinationKeyId', { required: true });
  const srcId = input.str('SourceKeyId');
  input.bool('DryRun');
  const dest = await core.resolve(ctx, destId, { allowAlias: true, field: 'DestinationKeyId' });
  const { key: src, plaintext, version: srcVersion } = await decryptWith(core, ctx, blob, srcId, srcContext, srcAlg, 'kms:ReEncryptFrom', undefined);
  core.authorize(ctx, dest, 'kms:ReEncryptTo', { ...encryptionContextKeys(dstContext), 'kms:EncryptionAlgorithm': dstAlg }, dstContext);
  core.requireEnabled(dest);
  const out = await encryptWith(core, ctx, dest, plaintext, dstContext, dstAlg);
  core.dryRun(input);
  ctx.audit.keyId = core.arn(dest);
  ctx.audit.params = { sourceKeyId: core.arn(src), destinationKeyId: core.arn(dest) };
  const result: Record<string, unknown> = {
    CiphertextBlob: b64(out),
    SourceKeyId: core.arn(src),
    KeyId: core.arn(dest),
    SourceEncryptionAlgorithm: srcAlg,
    DestinationEncryptionAlgorithm: dstAlg,
  };
  if (srcVersion !== undefined) result.SourceKeyMaterialId = materialId(src, srcVersion);
  if (dest.keySpec === 'SYMMETRIC_DEFAULT') result.DestinationKeyMaterialId = currentMaterialId(dest);
  return result;
}

export async function getPublicKey(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
  core.authorize(ctx, key, 'kms:GetPublicKey');
  core.requireEnabled(key);
  if (!SPECS[key.keySpec].rsaBits && !SPECS[key.keySpec].curve) throw unsupportedOperation(`${core.arn(key)} is not an asymmetric key.`);
  return {
    KeyId: core.arn(key),
    PublicKey: publicKeyDer(key.versions[key.versions.length - 1]!).toString('base64'),
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    KeyUsage: key.keyUsage,
    ...algorithmsFor(key.keySpec, key.keyUsage),
  };
}

interface SigningInput {
  keyId: string;
  message: Uint8Array;
  messageType: string;
  algorithm: string;
  signature?: Uint8Array;
}

/** Sign/Verify's members, checked before the key is looked up (AWS validates first). */
function readSigningInput(input: Input, withSignature: boolean): SigningInput {
  const keyId = input.str('KeyId', { required: true });
  const message = input.blob('Message', { required: true, min: 1, max: 4096 });
  const messageType = input.str('MessageType', { enum: ['RAW', 'DIGEST', 'EXTERNAL_MU'] }) ?? 'RAW';
  const signature = withSignature ? input.blob('Signature', { required: true, min: 1, max: 6144 }) : undefined;
  const algorithm = input.str('SigningAlgorithm', { required: true, enum: SIGNING_ALGORITHM_VALUES });
  input.bool('DryRun');
  return { keyId, message, messageType, algorithm, ...(signature ? { signature } : {}) };
}

function checkSigning(core: KmsCore, ctx: Ctx, key: KeyRecord, s: SigningInput, action: string): void {
  core.authorize(ctx, key, action, { 'kms:SigningAlgorithm': s.algorithm, 'kms:MessageType': s.messageType });
  core.requireEnabled(key);
  core.requireUsage(key, 'SIGN_VERIFY', action.slice(4));
  if (!(SPECS[key.keySpec].signingAlgorithms ?? []).includes(s.algorithm)) {
    throw invalidKeyUsage(`Algorithm ${s.algorithm} is incompatible with key spec ${key.keySpec}.`);
  }
  if (s.messageType === 'EXTERNAL_MU') throw validation('MessageType EXTERNAL_MU is only for ML-DSA keys.');
}

export async function sign(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const s = readSigningInput(input, false);
  const key = await core.resolve(ctx, s.keyId, { allowAlias: true });
  checkSigning(core, ctx, key, s, 'kms:Sign');
  core.dryRun(input);
  let signature: Buffer;
  try {
    signature = signMessage(key.versions[key.versions.length - 1]!, s.algorithm, s.message, s.messageType);
  } catch (e) {
    if (e instanceof SignInputError) throw validation(e.message);
    throw e;
  }
  return { KeyId: core.arn(key), Signature: signature.toString('base64'), SigningAlgorithm: s.algorithm };
}

export async function verify(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const s = readSigningInput(input, true);
  const key = await core.resolve(ctx, s.keyId, { allowAlias: true });
  checkSigning(core, ctx, key, s, 'kms:Verify');
  core.dryRun(input);
  let ok: boolean;
  try {
    ok = verifyMessage(key.versions[key.versions.length - 1]!, s.algorithm, s.message, s.messageType, s.signature!);
  } catch (e) {
    if (e instanceof SignInputError) throw validation(e.message);
    throw e;
  }
  if (!ok) throw invalidSignature();
  return { KeyId: core.arn(key), SignatureValid: true, SigningAlgorithm: s.algorithm };
}

interface MacInput {
  keyId: string;
  message: Uint8Array;
  algorithm: string;
  mac?: Uint8Array;
}

function readMacInput(input: Input, withMac: boolean): MacInput {
  const keyId = input.str('KeyId', { required: true });
  const message = input.blob('Message', { required: true, min: 1, max: 4096 });
  const algorithm = input.str('MacAlgorithm', { required: true, enum: ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] });
  const mac = withMac ? input.blob('Mac', { required: true, min: 1, max: 6144 }) : undefined;
  input.bool('DryRun');
  return { keyId, message, algorithm, ...(mac ? { mac } : {}) };
}

function checkMac(core: KmsCore, ctx: Ctx, key: KeyRecord, m: MacInput, action: string): void {
  core.authorize(ctx, key, action, { 'kms:MacAlgorithm': m.algorithm });
  core.requireEnabled(key);
  core.requireUsage(key, 'GENERATE_VERIFY_MAC', action.slice(4));
  if (!(SPECS[key.keySpec].macAlgorithms ?? []).includes(m.algorithm)) throw invalidKeyUsage(`Algorithm ${m.algorithm} is incompatible with key spec ${key.keySpec}.`);
}

export async function generateMac(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const m = readMacInput(input, false);
  const key = await core.resolve(ctx, m.keyId, { allowAlias: true });
  checkMac(core, ctx, key, m, 'kms:GenerateMac');
  core.dryRun(input);
  return { Mac: hmac(key.versions[key.versions.length - 1]!, m.algorithm, m.message).toString('base64'), MacAlgorithm: m.algorithm, KeyId: core.arn(key) };
}

export async function verifyMac(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const m = readMacInput(input, true);
  const key = await core.resolve(ctx, m.keyId, { allowAlias: true });
  checkMac(core, ctx, key, m, 'kms:VerifyMac');
  core.dryRun(input);
  const expected = hmac(key.versions[key.versions.length - 1]!, m.algorithm, m.message);
  if (expected.length !== m.mac!.length || !timingSafeEqual(expected, m.mac!)) throw invalidMac();
  return { KeyId: core.arn(key), MacValid: true, MacAlgorithm: m.algorithm };
}

/** DeriveSharedSecret: ECDH between a KEY_AGREEMENT key's private key and the caller's public key (DER SPKI); the raw shared secret. */
export async function deriveSharedSecret(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyId = input.str('KeyId', { required: true });
  const algorithm = input.str('KeyAgreementAlgorithm', { required: true, enum: ['ECDH'] });
  const publicKey = input.blob('PublicKey', { required: true, min: 1, max: 8192 });
  if (input.has('Recipient')) throw unsupportedOperation('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.');
  input.bool('DryRun');
  const key = await core.resolve(ctx, keyId, { allowAlias: true });
  core.authorize(ctx, key, 'kms:DeriveSharedSecret', { 'kms:KeyAgreementAlgorithm': algorithm });
  core.requireEnabled(key);
  core.requireUsage(key, 'KEY_AGREEMENT', 'DeriveSharedSecret');
  core.dryRun(input);
  const secret = ecdh(key.versions[key.versions.length - 1]!, key.keySpec, publicKey);
  if (!secret) throw validation(`PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of a point on the curve of ${key.keySpec}.`);
  return { KeyId: core.arn(key), SharedSecret: secret.toString('base64'), KeyAgreementAlgorithm: algorithm, KeyOrigin: key.origin };
}
