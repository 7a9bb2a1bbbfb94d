/** Local KMS operations. Cryptography: GenerateDataKey(WithoutPlaintext), GenerateRandom, Encrypt, Decrypt, ReEncrypt, GetPublicKey, Sign, Verify, GenerateMac, VerifyMac. */
import { timingSafeEqual } from 'node:crypto';
import { encryptionContextKeys } from '../../../edge/policy/index.js';
import { openBlob, parseBlob, sealBlob } from '../blob.js';
import { randomBytesFast } from '../random.js';
import { AwsError } from '../../../edge/aws/errors.js';
import { invalidCiphertext, invalidKeyUsage, unsupportedOperation, validation } from '../errors.js';
import { Input, b64, constraint } from '../input.js';
import { SPECS, SignInputError, algorithmsFor, hmac, publicKeyDer, rsaDecrypt, rsaEncrypt, rsaMaxPlaintext, secretOf, signMessage, verifyMessage } from '../keyspec.js';
import { type KeyRecord, type KeySpec, type KeyUsage } from '../store.js';
import { type Ctx, type KmsCore } from '../core.js';

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

export async function generateDataKey(core: KmsCore, ctx: Ctx, input: Input, withPlaintext: boolean): Promise<Record<string, unknown>> {
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
  const context = readContext(core, ctx, input);
  const spec = input.str('KeySpec', { enum: ['AES_256', 'AES_128'] });
  const n = input.int('NumberOfBytes', { min: 1, max: 1024 });
  if ((spec === undefined) === (n === undefined)) throw validation('Please specify either number of bytes or key spec.');
  core.authorize(ctx, key, withPlaintext ? 'kms:GenerateDataKey' : 'kms:GenerateDataKeyWithoutPlaintext', encryptionContextKeys(context), context);
  core.requireEnabled(key);
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw invalidKeyUsage(`${core.arn(key)} is not a symmetric key; data keys need a SYMMETRIC_DEFAULT key.`);
  core.dryRun(input);
  const plaintext = randomBytesFast(n ?? (spec === 'AES_128' ? 16 : 32));
  const blob = symEncrypt(core, key, plaintext, context);
  const out: Record<string, unknown> = { CiphertextBlob: b64(blob), KeyId: core.arn(key) };
  if (withPlaintext) out.Plaintext = plaintext.toString('base64');
  return out;
}

export async function generateRandom(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const n = input.int('NumberOfBytes', { min: 1, max: 1024 });
  if (n === undefined) throw constraint('NumberOfBytes', 'Member must not be null');
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
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
  const plaintext = input.blob('Plaintext', { required: true, min: 1, max: 4096 });
  const context = readContext(core, ctx, input);
  const algorithm = input.str('EncryptionAlgorithm', { enum: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] }) ?? 'SYMMETRIC_DEFAULT';
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
): Promise<{ key: KeyRecord; plaintext: Uint8Array }> {
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
  return { key, plaintext: pt };
}

export async function decrypt(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const blob = input.blob('CiphertextBlob', { required: true, min: 1, max: 6144 });
  const context = readContext(core, ctx, input);
  const algorithm = input.str('EncryptionAlgorithm', { enum: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] }) ?? 'SYMMETRIC_DEFAULT';
  if (input.has('Recipient')) throw unsupportedOperation('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.');
  const { key, plaintext } = await decryptWith(core, ctx, blob, input.str('KeyId'), context, algorithm, 'kms:Decrypt', input);
  return { KeyId: core.arn(key), Plaintext: b64(plaintext), EncryptionAlgorithm: algorithm };
}

export async function reEncrypt(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const blob = input.blob('CiphertextBlob', { required: true, min: 1, max: 6144 });
  const srcContext = readContext(core, ctx, input, 'SourceEncryptionContext');
  const dstContext = readContext(core, ctx, input, 'DestinationEncryptionContext');
  const algs = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;
  const srcAlg = input.str('SourceEncryptionAlgorithm', { enum: algs }) ?? 'SYMMETRIC_DEFAULT';
  const dstAlg = input.str('DestinationEncryptionAlgorithm', { enum: algs }) ?? 'SYMMETRIC_DEFAULT';
  const dest = await core.resolve(ctx, input.str('DestinationKeyId', { required: true }), { allowAlias: true, field: 'DestinationKeyId' });
  const { key: src, plaintext } = await decryptWith(core, ctx, blob, input.str('SourceKeyId'), srcContext, srcAlg, 'kms:ReEncryptFrom', undefined);
  core.authorize(ctx, dest, 'kms:ReEncryptTo', { ...encryptionContextKeys(dstContext), 'kms:EncryptionAlgorithm': dstAlg }, dstContext);
  core.requireEnabled(dest);
  const out = await encryptWith(core, ctx, dest, plaintext, dstContext, dstAlg);
  core.dryRun(input);
  ctx.audit.keyId = core.arn(dest);
  ctx.audit.params = { sourceKeyId: core.arn(src), destinationKeyId: core.arn(dest) };
  return {
    CiphertextBlob: b64(out),
    SourceKeyId: core.arn(src),
    KeyId: core.arn(dest),
    SourceEncryptionAlgorithm: srcAlg,
    DestinationEncryptionAlgorithm: dstAlg,
  };
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

function signingInput(core: KmsCore, ctx: Ctx, key: KeyRecord, input: Input, action: string): { message: Uint8Array; messageType: string; algorithm: string } {
  const message = input.blob('Message', { required: true, min: 1, max: 4096 });
  const messageType = input.str('MessageType', { enum: ['RAW', 'DIGEST', 'EXTERNAL_MU'] }) ?? 'RAW';
  const algorithm = input.str('SigningAlgorithm', { required: true });
  core.authorize(ctx, key, action, { 'kms:SigningAlgorithm': algorithm, 'kms:MessageType': messageType });
  core.requireEnabled(key);
  core.requireUsage(key, 'SIGN_VERIFY', action.slice(4));
  if (!(SPECS[key.keySpec].signingAlgorithms ?? []).includes(algorithm)) {
    throw invalidKeyUsage(`${algorithm} is not a valid signing algorithm for ${core.arn(key)}.`);
  }
  if (messageType === 'EXTERNAL_MU') throw validation('MessageType EXTERNAL_MU is only for ML-DSA keys.');
  return { message, messageType, algorithm };
}

export async function sign(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
  const { message, messageType, algorithm } = signingInput(core, ctx, key, input, 'kms:Sign');
  core.dryRun(input);
  let signature: Buffer;
  try {
    signature = signMessage(key.versions[key.versions.length - 1]!, algorithm, message, messageType);
  } catch (e) {
    if (e instanceof SignInputError) throw validation(e.message);
    throw e;
  }
  return { KeyId: core.arn(key), Signature: signature.toString('base64'), SigningAlgorithm: algorithm };
}

export async function verify(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
  const signature = input.blob('Signature', { required: true, min: 1, max: 6144 });
  const { message, messageType, algorithm } = signingInput(core, ctx, key, input, 'kms:Verify');
  core.dryRun(input);
  let ok: boolean;
  try {
    ok = verifyMessage(key.versions[key.versions.length - 1]!, algorithm, message, messageType, signature);
  } catch (e) {
    if (e instanceof SignInputError) throw validation(e.message);
    throw e;
  }
  if (!ok) throw new AwsError('KMSInvalidSignatureException', 'The signature verification failed.');
  return { KeyId: core.arn(key), SignatureValid: true, SigningAlgorithm: algorithm };
}

function macInput(core: KmsCore, ctx: Ctx, key: KeyRecord, input: Input, action: string): { message: Uint8Array; algorithm: string } {
  const message = input.blob('Message', { required: true, min: 1, max: 4096 });
  const algorithm = input.str('MacAlgorithm', { required: true, enum: ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] });
  core.authorize(ctx, key, action, { 'kms:MacAlgorithm': algorithm });
  core.requireEnabled(key);
  core.requireUsage(key, 'GENERATE_VERIFY_MAC', action.slice(4));
  if (!(SPECS[key.keySpec].macAlgorithms ?? []).includes(algorithm)) throw invalidKeyUsage(`${algorithm} is not a valid MAC algorithm for ${core.arn(key)}.`);
  return { message, algorithm };
}

export async function generateMac(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
  const { message, algorithm } = macInput(core, ctx, key, input, 'kms:GenerateMac');
  core.dryRun(input);
  return { Mac: hmac(key.versions[key.versions.length - 1]!, algorithm, message).toString('base64'), MacAlgorithm: algorithm, KeyId: core.arn(key) };
}

export async function verifyMac(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
  const mac = input.blob('Mac', { required: true, min: 1, max: 6144 });
  const { message, algorithm } = macInput(core, ctx, key, input, 'kms:VerifyMac');
  core.dryRun(input);
  const expected = hmac(key.versions[key.versions.length - 1]!, algorithm, message);
  if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) throw new AwsError('KMSInvalidMacException', 'The MAC verification failed.');
  return { KeyId: core.arn(key), MacValid: true, MacAlgorithm: algorithm };
}

