/**
 * Local KMS operations. Imported key material: GetParametersForImport, ImportKeyMaterial,
 * DeleteImportedKeyMaterial.
 *
 * As at AWS: symmetric, HMAC, RSA and ECC keys can have EXTERNAL origin. The first material
 * imported becomes the key's for good; a re-import (ImportType EXISTING_KEY_MATERIAL, the default)
 * must be that same material (to restore it after deletion or expiry, or to change its expiry).
 * A single-Region symmetric key can also take new material (ImportType NEW_KEY_MATERIAL), which
 * waits (PENDING_ROTATION) until RotateKeyOnDemand makes it current; older materials keep
 * decrypting. Asymmetric and HMAC keys have one material only.
 */
import { constants as cryptoConstants, createDecipheriv, createPrivateKey, generateKeyPair, privateDecrypt } from 'node:crypto';
import { promisify } from 'node:util';
import { AwsError } from '../../../edge/aws/errors.js';
import { invalidCiphertext, notFound, unsupportedOperation, validation } from '../errors.js';
import { Input, constraint } from '../input.js';
import { SPECS, normaliseMaterial } from '../keyspec.js';
import { hasMaterial, type KeyRecord, type KeyVersion } from '../store.js';
import { DAY, deleteMaterial, fingerprintOf, materialId, type Ctx, type KmsCore } from '../core.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const WRAPPING_ALGORITHMS = ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'] as const;
const SUPPORTED_WRAPPING = new Set(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256']);

/** HMAC material lengths AWS accepts for import, in bytes. */
const HMAC_IMPORT_RANGE: Record<string, [number, number]> = { HMAC_224: [28, 64], HMAC_256: [32, 64], HMAC_384: [48, 128], HMAC_512: [64, 128] };

function requireExternal(core: KmsCore, key: KeyRecord): void {
  if (key.origin !== 'EXTERNAL') throw unsupportedOperation(`${core.arn(key)} origin is ${key.origin} which is not valid for this operation.`);
}

export async function getParametersForImport(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyId = input.str('KeyId', { required: true });
  const algorithm = input.str('WrappingAlgorithm', { required: true, enum: WRAPPING_ALGORITHMS });
  const spec = input.str('WrappingKeySpec', { required: true, enum: ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] });
  const key = await core.resolve(ctx, keyId, { allowAlias: false });
  core.authorize(ctx, key, 'kms:GetParametersForImport');
  requireExternal(core, key);
  core.requireNotPendingDeletion(key);
  if (!SUPPORTED_WRAPPING.has(algorithm)) throw unsupportedOperation(`WrappingAlgorithm ${algorithm} is not supported by the local KMS.`);
  if (spec === 'SM2') throw unsupportedOperation('SM2 is supported only in China Regions; the local KMS does not offer it.');
  const bits = Number(spec.slice(4));
  const pair = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  const validTo = ctx.now + DAY;
  const token = core.store.seal(`sealbox-import-token/v1/${key.region}/${key.account}/${key.keyId}`, {
    keyId: key.keyId,
    algorithm,
    privateKey: (pair.privateKey as Buffer).toString('base64'),
    validTo,
  });
  return { KeyId: core.arn(key), ImportToken: token, PublicKey: (pair.publicKey as Buffer).toString('base64'), ParametersValidTo: validTo / 1000 };
}

/** Unwraps EncryptedKeyMaterial: RSA-OAEP, or RSA-OAEP of an AES-256 key followed by AES key wrap with padding (RFC 5649) of the material. */
function unwrap(algorithm: string, privateKeyDer: string, encrypted: Uint8Array): Buffer | undefined {
  const key = createPrivateKey({ key: Buffer.from(privateKeyDer, 'base64'), format: 'der', type: 'pkcs8' });
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  try {
    if (algorithm.startsWith('RSAES_OAEP')) return privateDecrypt({ key, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash }, encrypted);
    const k = key.asymmetricKeyDetails!.modulusLength! / 8;
    if (encrypted.length <= k) return undefined;
    const aesKey = privateDecrypt({ key, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash }, encrypted.subarray(0, k));
    if (aesKey.length !== 32) return undefined;
    const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
    return Buffer.concat([d.update(encrypted.subarray(k)), d.final()]);
  } catch {
    return undefined;
  }
}

/** The material as stored for this key's spec (base64 secret, or PKCS#8 + SPKI for asymmetric keys). */
function materialFor(key: KeyRecord, bytes: Buffer): { material: string; publicKey?: string } {
  const info = SPECS[key.keySpec];
  const wrong = (why: string) => new AwsError('IncorrectKeyMaterialException', `The key material is not valid for ${key.keySpec}: ${why}.`);
  if (info.bytes !== undefined) {
    const [min, max] = HMAC_IMPORT_RANGE[key.keySpec] ?? [info.bytes, info.bytes];
    if (bytes.length < min || bytes.length > max) throw wrong(min === max ? `it must be ${min} bytes` : `it must be ${min} to ${max} bytes`);
    return { material: bytes.toString('base64') };
  }
  try {
    return normaliseMaterial(key.keySpec, bytes.toString('base64'));
  } catch {
    throw wrong('it must be a DER-encoded PKCS#8 private key of that key spec');
  }
}

export async function importKeyMaterial(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyId = input.str('KeyId', { required: true });
  const token = input.blob('ImportToken', { required: true, min: 1, max: 32768 });
  const encrypted = input.blob('EncryptedKeyMaterial', { required: true, min: 1, max: 32768 });
  const model = (input.str('ExpirationModel', { enum: ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'] }) ?? 'KEY_MATERIAL_EXPIRES') as NonNullable<KeyRecord['expirationModel']>;
  const validToSeconds = input.body.ValidTo;
  if (validToSeconds !== undefined && validToSeconds !== null && typeof validToSeconds !== 'number') {
    throw new AwsError('SerializationException', "Wrong type for 'ValidTo' (expected timestamp)");
  }
  const importTypeGiven = input.str('ImportType', { enum: ['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'] });
  const importType = importTypeGiven ?? 'EXISTING_KEY_MATERIAL';
  const description = input.str('KeyMaterialDescription', { max: 256 });
  if (description !== undefined && description.length > 0 && !/^[a-zA-Z0-9:/_\s.-]+$/.test(description)) {
    throw constraint('KeyMaterialDescription', 'Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_\\s.-]+$', description);
  }
  const materialIdGiven = input.str('KeyMaterialId', { min: 64, max: 64 });
  const key = await core.resolve(ctx, keyId, { allowAlias: false });
  core.authorize(ctx, key, 'kms:ImportKeyMaterial');
  requireExternal(core, key);
  core.requireNotPendingDeletion(key);
  if (model === 'KEY_MATERIAL_EXPIRES' && (validToSeconds === undefined || validToSeconds === null)) {
    throw validation('A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES');
  }
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && validToSeconds !== undefined && validToSeconds !== null) {
    throw validation('A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE');
  }
  const validTo = typeof validToSeconds === 'number' ? validToSeconds * 1000 : undefined;
  if (validTo !== undefined && validTo <= ctx.now) throw validation('ValidTo must be in the future.');
  if (importTypeGiven !== undefined && key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw unsupportedOperation(`ImportType is valid only for symmetric encryption keys; ${core.arn(key)} is ${key.keySpec} and has one key material.`);
  }
  if (importType === 'NEW_KEY_MATERIAL' && key.multiRegion) {
    throw unsupportedOperation(`${core.arn(key)} is a multi-Region key; the local KMS imports new key material only into single-Region keys.`);
  }
  let params: { keyId: string; algorithm: string; privateKey: string; validTo: number };
  try {
    params = core.store.unseal(`sealbox-import-token/v1/${key.region}/${key.account}/${key.keyId}`, Buffer.from(token).toString('base64')) as typeof params;
  } catch {
    throw new AwsError('InvalidImportTokenException', 'The import token is invalid or belongs to another key.');
  }
  if (ctx.now > params.validTo) throw new AwsError('ExpiredImportTokenException', 'The import token has expired.');
  const plain = unwrap(params.algorithm, params.privateKey, encrypted);
  if (!plain) throw invalidCiphertext('The encrypted key material could not be decrypted with the import wrapping key.');
  const { material, publicKey } = materialFor(key, plain);
  plain.fill(0);
  const fingerprint = fingerprintOf(material);
  const fingerprintOfVersion = (v: KeyVersion) => v.fingerprint ?? fingerprintOf(v.material);
  let resultId = '';
  await core.mutate(key, (k) => {
    const expiry = (next: KeyRecord): KeyRecord => {
      next.expirationModel = model;
      if (validTo !== undefined) next.validTo = validTo;
      else delete next.validTo;
      return next;
    };
    if (k.versions.length === 0) {
      // The first material: it becomes the key's for good (whatever ImportType says).
      const v: KeyVersion = { version: 1, material, createdAt: ctx.now, fingerprint, ...(publicKey ? { publicKey } : {}), ...(description ? { description } : {}) };
      resultId = materialId(k, v);
      return expiry({ ...k, versions: [v] });
    }
    if (importType === 'NEW_KEY_MATERIAL') {
      if (k.versions.some((v) => fingerprintOfVersion(v) === fingerprint)) {
        throw new AwsError('IncorrectKeyMaterialException', 'The key material is already associated with this KMS key; NEW_KEY_MATERIAL must be new key material.');
      }
      if (!hasMaterial(k)) throw new AwsError('KMSInvalidStateException', `${core.arn(k)} is pending import; re-import its key material before importing new key material.`);
      const pending = { material, fingerprint, importedAt: ctx.now, expirationModel: model, ...(validTo !== undefined ? { validTo } : {}), ...(description ? { description } : {}) };
      resultId = materialId(k, { version: k.versions.length + 1 } as KeyVersion);
      return { ...k, pendingMaterial: pending };
    }
    // EXISTING_KEY_MATERIAL: the material of a version of this key (KeyMaterialId, else the current one).
    const target = materialIdGiven !== undefined ? k.versions.find((v) => materialId(k, v) === materialIdGiven) : k.versions[k.versions.length - 1];
    if (!target) {
      if (k.pendingMaterial && materialIdGiven === materialId(k, { version: k.versions.length + 1 } as KeyVersion)) {
        if (k.pendingMaterial.fingerprint !== fingerprint) throw new AwsError('IncorrectKeyMaterialException', 'The key material does not match the key material with this KeyMaterialId.');
        resultId = materialIdGiven;
        return { ...k, pendingMaterial: { ...k.pendingMaterial, expirationModel: model, ...(validTo !== undefined ? { validTo } : {}) } };
      }
      throw notFound(`Key material ${materialIdGiven} of ${core.arn(k)}`);
    }
    if (fingerprintOfVersion(target) !== fingerprint) {
      throw new AwsError('IncorrectKeyMaterialException', 'The key material does not match the key material previously imported into this KMS key.');
    }
    resultId = materialId(k, target);
    const versions = k.versions.map((v) => (v === target && v.deleted ? restore(v, material, fingerprint, publicKey) : v));
    return expiry({ ...k, versions });
  });
  ctx.audit.params = { importType, keyMaterialId: resultId };
  return { KeyId: core.arn(key), KeyMaterialId: resultId };
}

function restore(v: KeyVersion, material: string, fingerprint: string, publicKey: string | undefined): KeyVersion {
  const { deleted: _d, ...rest } = v;
  return { ...rest, material, fingerprint, ...(publicKey ? { publicKey } : {}) };
}

export async function deleteImportedKeyMaterial(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyId = input.str('KeyId', { required: true });
  const materialIdGiven = input.str('KeyMaterialId', { min: 64, max: 64 });
  const key = await core.resolve(ctx, keyId, { allowAlias: false });
  core.authorize(ctx, key, 'kms:DeleteImportedKeyMaterial');
  requireExternal(core, key);
  core.requireNotPendingDeletion(key);
  let deletedId = '';
  await core.mutate(key, (k) => {
    const pendingId = k.pendingMaterial ? materialId(k, { version: k.versions.length + 1 } as KeyVersion) : undefined;
    if (materialIdGiven !== undefined && materialIdGiven === pendingId) {
      // Material waiting for rotation is not yet the key's: deleting it leaves the key as it is.
      deletedId = pendingId;
      const { pendingMaterial: _p, ...rest } = k;
      return rest;
    }
    const target = materialIdGiven !== undefined ? k.versions.find((v) => materialId(k, v) === materialIdGiven) : k.versions[k.versions.length - 1];
    if (!target) {
      if (materialIdGiven !== undefined) throw notFound(`Key material ${materialIdGiven} of ${core.arn(k)}`);
      return k;
    }
    deletedId = materialId(k, target);
    const next: KeyRecord = { ...k, versions: k.versions.map((v) => (v === target ? deleteMaterial(v) : v)) };
    delete next.validTo;
    delete next.expirationModel;
    return next;
  });
  ctx.audit.params = { keyMaterialId: deletedId };
  const out: Record<string, unknown> = { KeyId: core.arn(key) };
  if (deletedId) out.KeyMaterialId = deletedId;
  return out;
}
