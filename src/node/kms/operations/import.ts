/** Local KMS operations. Imported key material: GetParametersForImport, ImportKeyMaterial. */
import { timingSafeEqual, constants as cryptoConstants, generateKeyPair, privateDecrypt, createPrivateKey } from 'node:crypto';
import { promisify } from 'node:util';
import { AwsError } from '../../../edge/aws/errors.js';
import { invalidCiphertext, unsupportedOperation, validation } from '../errors.js';
import { Input } from '../input.js';
import { SPECS } from '../keyspec.js';
import { type KeyRecord } from '../store.js';
import { DAY, type Ctx, type KmsCore } from '../core.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export async function getParametersForImport(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
  const algorithm = input.str('WrappingAlgorithm', {
    required: true,
    enum: ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'],
  });
  const spec = input.str('WrappingKeySpec', { required: true, enum: ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] });
  core.authorize(ctx, key, 'kms:GetParametersForImport');
  if (key.origin !== 'EXTERNAL') throw unsupportedOperation(`${core.arn(key)} does not have EXTERNAL origin.`);
  core.requireNotPendingDeletion(key);
  if (algorithm !== 'RSAES_OAEP_SHA_1' && algorithm !== 'RSAES_OAEP_SHA_256') {
    throw unsupportedOperation(`WrappingAlgorithm ${algorithm} is not supported by the local KMS (use RSAES_OAEP_SHA_256).`);
  }
  if (spec === 'SM2') throw unsupportedOperation('SM2 is not supported by the local KMS.');
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

export async function importKeyMaterial(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const key = await core.resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
  const token = input.blob('ImportToken', { required: true, min: 1, max: 32768 });
  const encrypted = input.blob('EncryptedKeyMaterial', { required: true, min: 1, max: 6144 });
  const model = (input.str('ExpirationModel', { enum: ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'] }) ?? 'KEY_MATERIAL_EXPIRES') as KeyRecord['expirationModel'] & string;
  const validToSeconds = input.body.ValidTo;
  if (validToSeconds !== undefined && typeof validToSeconds !== 'number') throw validation('ValidTo must be a timestamp.');
  core.authorize(ctx, key, 'kms:ImportKeyMaterial');
  if (key.origin !== 'EXTERNAL') throw unsupportedOperation(`${core.arn(key)} does not have EXTERNAL origin.`);
  core.requireNotPendingDeletion(key);
  if (model === 'KEY_MATERIAL_EXPIRES' && validToSeconds === undefined) throw validation('ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.');
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && validToSeconds !== undefined) throw validation('ValidTo must be absent when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.');
  let params: { keyId: string; algorithm: string; privateKey: string; validTo: number };
  try {
    params = core.store.unseal(`sealbox-import-token/v1/${key.region}/${key.account}/${key.keyId}`, Buffer.from(token).toString('base64')) as typeof params;
  } catch {
    throw new AwsError('InvalidImportTokenException', 'The import token is invalid or belongs to another key.');
  }
  if (ctx.now > params.validTo) throw new AwsError('ExpiredImportTokenException', 'The import token has expired.');
  let material: Buffer;
  try {
    material = privateDecrypt(
      {
        key: createPrivateKey({ key: Buffer.from(params.privateKey, 'base64'), format: 'der', type: 'pkcs8' }),
        padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: params.algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256',
      },
      encrypted,
    );
  } catch {
    throw invalidCiphertext('The encrypted key material could not be decrypted with the import wrapping key.');
  }
  const want = SPECS[key.keySpec].bytes!;
  if (material.length !== want) throw new AwsError('IncorrectKeyMaterialException', `The key material must be ${want} bytes for ${key.keySpec}.`);
  await core.mutate(key, (k) => {
    const current = k.versions[0];
    if (current && !timingSafeEqual(Buffer.from(current.material, 'base64'), material)) {
      throw new AwsError('IncorrectKeyMaterialException', 'The key material does not match the material previously imported into this key.');
    }
    const next: KeyRecord = { ...k, versions: [{ version: 1, material: material.toString('base64'), createdAt: ctx.now }], expirationModel: model };
    if (model === 'KEY_MATERIAL_EXPIRES') next.validTo = (validToSeconds as number) * 1000;
    else delete next.validTo;
    return next;
  });
  return {};
}
