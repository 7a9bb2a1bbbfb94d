// Issue 18: for every operation of the local KMS, the members of its success answer (exactly those AWS
// KMS returns in that situation, per the AWS KMS API reference: no missing one, no extra one), and the
// __type, HTTP status and message of its errors, as received on the wire by @aws-sdk/client-kms.
//
// MODEL: the output members the API defines, read from the SDK's own model
// (@aws-sdk/client-kms/dist-types/models/models_0.d.ts), so the table below cannot name a member
// AWS does not have. EXPECTED: what AWS returns in the scenario each case sets up.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import * as K from '@aws-sdk/client-kms';
import { recordingClient, startHarness, type Harness, type WireExchange } from './helpers.js';

let h: Harness;
let wire: { client: K.KMSClient; last(): WireExchange };
const te = new TextEncoder();
const ACCOUNT = '111122223333';
const arnOf = (id: string, region = 'us-east-1') => `arn:aws:kms:${region}:${ACCOUNT}:key/${id}`;

/** The members of each `export interface <Name> {…}` in the SDK's model. */
function sdkModel(): Map<string, Set<string>> {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@aws-sdk/client-kms/package.json');
  const text = readFileSync(join(dirname(pkg), 'dist-types/models/models_0.d.ts'), 'utf8');
  const out = new Map<string, Set<string>>();
  for (const m of text.matchAll(/export interface (\w+) \{([\s\S]*?)\n\}/g)) {
    out.set(m[1]!, new Set([...m[2]!.matchAll(/^ {4}(\w+)\??:/gm)].map((x) => x[1]!)));
  }
  return out;
}
const MODEL = sdkModel();

/** Key metadata AWS returns for a symmetric encryption key created by KMS (DescribeKey, CreateKey). */
const SYMMETRIC_METADATA = [
  'AWSAccountId', 'Arn', 'CreationDate', 'CurrentKeyMaterialId', 'CustomerMasterKeySpec', 'Description', 'Enabled', 'EncryptionAlgorithms',
  'KeyId', 'KeyManager', 'KeySpec', 'KeyState', 'KeyUsage', 'MultiRegion', 'Origin',
];

before(async () => {
  h = await startHarness();
  wire = await recordingClient(h);
});
after(async () => {
  wire.client.destroy();
  await h.close();
});

const send = async <T>(command: { input: object } & object): Promise<T> => (await wire.client.send(command as never)) as T;
const keys = (o: unknown) => Object.keys(o as object).sort();

const OUTPUT_SHAPE: Record<string, string> = { ListRetirableGrants: 'ListGrants' };

/** Checks the last exchange: the operation's answer has exactly `expected` members, all in the SDK's output model. */
function expectShape(op: string, expected: string[], nested: Record<string, { shape: string; members: string[] }> = {}): Record<string, unknown> {
  const e = wire.last();
  assert.equal(e.op, op);
  assert.equal(e.status, 200, `${op}: ${JSON.stringify(e.body)}`);
  // Operations with an empty output have no output shape in the model; ListRetirableGrants shares ListGrants's.
  const model = MODEL.get(`${OUTPUT_SHAPE[op] ?? op}Response`) ?? new Set<string>();
  if (expected.length > 0) assert.ok(model.size > 0, `${op}Response is in the SDK model`);
  for (const m of expected) assert.ok(model.has(m), `${op}: ${m} is a member of ${op}Response`);
  assert.deepEqual(keys(e.body), [...expected].sort(), `${op} answers exactly ${expected.join(', ')}`);
  for (const [member, { shape, members }] of Object.entries(nested)) {
    const value = e.body[member];
    const items = Array.isArray(value) ? value : [value];
    assert.ok(items.length > 0, `${op}.${member} is not empty`);
    for (const item of items) {
      for (const m of members) assert.ok(MODEL.get(shape)!.has(m), `${shape} has ${m}`);
      assert.deepEqual(keys(item), [...members].sort(), `${op}.${member} (${shape})`);
    }
  }
  return e.body;
}

/** Sends and checks that the answer is this error: __type, status 400 (unless given), message (exact, or matching). */
async function expectError(command: object, type: string, message: string | RegExp, status = 400): Promise<void> {
  await assert.rejects(wire.client.send(command as never));
  const e = wire.last();
  assert.equal(e.body.__type, type, JSON.stringify(e.body));
  assert.equal(e.status, status, `${type} status`);
  assert.deepEqual(keys(e.body), ['__type', 'message']);
  if (typeof message === 'string') assert.equal(e.body.message, message);
  else assert.match(String(e.body.message), message);
}

test('key management: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion', async () => {
  const c = await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({ Description: 'shape' }));
  expectShape('CreateKey', ['KeyMetadata'], { KeyMetadata: { shape: 'KeyMetadata', members: SYMMETRIC_METADATA } });
  const id = c.KeyMetadata!.KeyId!;
  await send(new K.DescribeKeyCommand({ KeyId: id }));
  expectShape('DescribeKey', ['KeyMetadata'], { KeyMetadata: { shape: 'KeyMetadata', members: SYMMETRIC_METADATA } });
  await send(new K.CreateKeyCommand({}));
  await send(new K.ListKeysCommand({ Limit: 1 }));
  expectShape('ListKeys', ['Keys', 'NextMarker', 'Truncated'], { Keys: { shape: 'KeyListEntry', members: ['KeyArn', 'KeyId'] } });
  await send(new K.UpdateKeyDescriptionCommand({ KeyId: id, Description: 'x' }));
  expectShape('UpdateKeyDescription', []);
  await send(new K.DisableKeyCommand({ KeyId: id }));
  expectShape('DisableKey', []);
  await expectError(new K.EncryptCommand({ KeyId: id, Plaintext: te.encode('x') }), 'DisabledException', /.+/);
  await send(new K.EnableKeyCommand({ KeyId: id }));
  expectShape('EnableKey', []);
  await send(new K.ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
  expectShape('ScheduleKeyDeletion', ['DeletionDate', 'KeyId', 'KeyState', 'PendingWindowInDays']);
  await expectError(new K.EncryptCommand({ KeyId: id, Plaintext: te.encode('x') }), 'KMSInvalidStateException', /.+/);
  await send(new K.CancelKeyDeletionCommand({ KeyId: id }));
  expectShape('CancelKeyDeletion', ['KeyId']);
  // Asymmetric, HMAC and key agreement keys list their algorithms and no CurrentKeyMaterialId.
  const base = SYMMETRIC_METADATA.filter((m) => m !== 'CurrentKeyMaterialId' && m !== 'EncryptionAlgorithms');
  for (const [input, algs] of [
    [{ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }, 'SigningAlgorithms'],
    [{ KeySpec: 'HMAC_224', KeyUsage: 'GENERATE_VERIFY_MAC' }, 'MacAlgorithms'],
    [{ KeySpec: 'ECC_NIST_P521', KeyUsage: 'KEY_AGREEMENT' }, 'KeyAgreementAlgorithms'],
  ] as const) {
    await send(new K.CreateKeyCommand(input));
    expectShape('CreateKey', ['KeyMetadata'], { KeyMetadata: { shape: 'KeyMetadata', members: [...base, algs] } });
  }
  // Imported-material keys: no ExpirationModel until there is material.
  await send(new K.CreateKeyCommand({ Origin: 'EXTERNAL' }));
  expectShape('CreateKey', ['KeyMetadata'], { KeyMetadata: { shape: 'KeyMetadata', members: SYMMETRIC_METADATA.filter((m) => m !== 'CurrentKeyMaterialId') } });
});

test('errors: NotFoundException, ValidationException (member, value, allowed values), key ids', async () => {
  const missing = '1234abcd-12ab-34cd-56ef-1234567890ab';
  await expectError(new K.DescribeKeyCommand({ KeyId: missing }), 'NotFoundException', `Key '${arnOf(missing)}' does not exist`);
  await expectError(new K.DescribeKeyCommand({ KeyId: arnOf(missing) }), 'NotFoundException', `Key '${arnOf(missing)}' does not exist`);
  await expectError(new K.DescribeKeyCommand({ KeyId: 'nope' }), 'NotFoundException', "Invalid keyId 'nope'");
  await expectError(
    new K.CreateKeyCommand({ KeyUsage: 'SIGN' as K.KeyUsageType }),
    'ValidationException',
    "1 validation error detected: Value 'SIGN' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT]",
  );
  await expectError(
    new K.GenerateRandomCommand({ NumberOfBytes: 1025 }),
    'ValidationException',
    "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
  );
  await expectError(
    new K.CreateKeyCommand({ Description: 'd'.repeat(8193) }),
    'ValidationException',
    /^1 validation error detected: Value 'd{8193}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192$/,
  );
  await expectError(new K.CreateKeyCommand({ Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] }), 'TagException', /aws:/);
  await expectError(new K.CreateKeyCommand({ KeySpec: 'SM2' }), 'UnsupportedOperationException', /.+/);
});

test('aliases: CreateAlias, UpdateAlias, ListAliases, DeleteAlias', async () => {
  const a = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const b = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  await send(new K.CreateAliasCommand({ AliasName: 'alias/shape', TargetKeyId: a }));
  expectShape('CreateAlias', []);
  await expectError(new K.CreateAliasCommand({ AliasName: 'alias/shape', TargetKeyId: a }), 'AlreadyExistsException', /.+/);
  await send(new K.UpdateAliasCommand({ AliasName: 'alias/shape', TargetKeyId: b }));
  expectShape('UpdateAlias', []);
  await send(new K.ListAliasesCommand({ KeyId: b }));
  expectShape('ListAliases', ['Aliases', 'Truncated'], {
    Aliases: { shape: 'AliasListEntry', members: ['AliasArn', 'AliasName', 'CreationDate', 'LastUpdatedDate', 'TargetKeyId'] },
  });
  await send(new K.DeleteAliasCommand({ AliasName: 'alias/shape' }));
  expectShape('DeleteAlias', []);
});

test('rotation: EnableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations, DisableKeyRotation', async () => {
  const id = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  await send(new K.EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 100 }));
  expectShape('EnableKeyRotation', []);
  await send(new K.GetKeyRotationStatusCommand({ KeyId: id }));
  expectShape('GetKeyRotationStatus', ['KeyId', 'KeyRotationEnabled', 'NextRotationDate', 'RotationPeriodInDays']);
  await send(new K.RotateKeyOnDemandCommand({ KeyId: id }));
  expectShape('RotateKeyOnDemand', ['KeyId']);
  await send(new K.ListKeyRotationsCommand({ KeyId: id }));
  expectShape('ListKeyRotations', ['Rotations', 'Truncated'], {
    Rotations: { shape: 'RotationsListEntry', members: ['KeyId', 'KeyMaterialId', 'KeyMaterialState', 'RotationDate', 'RotationType'] },
  });
  await send(new K.DisableKeyRotationCommand({ KeyId: id }));
  expectShape('DisableKeyRotation', []);
  await send(new K.GetKeyRotationStatusCommand({ KeyId: id }));
  expectShape('GetKeyRotationStatus', ['KeyId', 'KeyRotationEnabled']);
  const rsa = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
  await expectError(new K.EnableKeyRotationCommand({ KeyId: rsa }), 'UnsupportedOperationException', /.+/);
});

test('policies and tags: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, TagResource, ListResourceTags, UntagResource', async () => {
  const id = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const p = await send<K.GetKeyPolicyCommandOutput>(new K.GetKeyPolicyCommand({ KeyId: id }));
  expectShape('GetKeyPolicy', ['Policy', 'PolicyName']);
  await send(new K.PutKeyPolicyCommand({ KeyId: id, Policy: p.Policy }));
  expectShape('PutKeyPolicy', []);
  await expectError(new K.PutKeyPolicyCommand({ KeyId: id, Policy: '{' }), 'MalformedPolicyDocumentException', /.+/);
  await send(new K.ListKeyPoliciesCommand({ KeyId: id }));
  expectShape('ListKeyPolicies', ['PolicyNames', 'Truncated']);
  await send(new K.TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'a', TagValue: '1' }] }));
  expectShape('TagResource', []);
  await send(new K.ListResourceTagsCommand({ KeyId: id }));
  expectShape('ListResourceTags', ['Tags', 'Truncated'], { Tags: { shape: 'Tag', members: ['TagKey', 'TagValue'] } });
  await send(new K.UntagResourceCommand({ KeyId: id, TagKeys: ['a'] }));
  expectShape('UntagResource', []);
});

test('symmetric cryptography: GenerateDataKey(WithoutPlaintext), GenerateDataKeyPair(WithoutPlaintext), GenerateRandom, Encrypt, Decrypt, ReEncrypt', async () => {
  const id = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const other = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const g = await send<K.GenerateDataKeyCommandOutput>(new K.GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' }));
  expectShape('GenerateDataKey', ['CiphertextBlob', 'KeyId', 'KeyMaterialId', 'Plaintext']);
  await send(new K.GenerateDataKeyWithoutPlaintextCommand({ KeyId: id, NumberOfBytes: 16 }));
  expectShape('GenerateDataKeyWithoutPlaintext', ['CiphertextBlob', 'KeyId', 'KeyMaterialId']);
  await send(new K.GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'ECC_NIST_P256' }));
  expectShape('GenerateDataKeyPair', ['KeyId', 'KeyMaterialId', 'KeyPairSpec', 'PrivateKeyCiphertextBlob', 'PrivateKeyPlaintext', 'PublicKey']);
  await send(new K.GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: id, KeyPairSpec: 'ECC_SECG_P256K1' }));
  expectShape('GenerateDataKeyPairWithoutPlaintext', ['KeyId', 'KeyMaterialId', 'KeyPairSpec', 'PrivateKeyCiphertextBlob', 'PublicKey']);
  await expectError(new K.GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'RSA_2048', DryRun: true }), 'DryRunOperationException', /.+/, 412);
  await send(new K.GenerateRandomCommand({ NumberOfBytes: 8 }));
  expectShape('GenerateRandom', ['Plaintext']);
  const e = await send<K.EncryptCommandOutput>(new K.EncryptCommand({ KeyId: id, Plaintext: te.encode('x'), EncryptionContext: { a: 'b' } }));
  expectShape('Encrypt', ['CiphertextBlob', 'EncryptionAlgorithm', 'KeyId']);
  await send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: { a: 'b' } }));
  expectShape('Decrypt', ['EncryptionAlgorithm', 'KeyId', 'KeyMaterialId', 'Plaintext']);
  await send(new K.ReEncryptCommand({ CiphertextBlob: g.CiphertextBlob, DestinationKeyId: other }));
  expectShape('ReEncrypt', ['CiphertextBlob', 'DestinationEncryptionAlgorithm', 'DestinationKeyMaterialId', 'KeyId', 'SourceEncryptionAlgorithm', 'SourceKeyId', 'SourceKeyMaterialId']);
  await expectError(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob }), 'InvalidCiphertextException', '');
  await expectError(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob, KeyId: other, EncryptionContext: { a: 'b' } }), 'IncorrectKeyException', /.+/);
  await expectError(new K.EncryptCommand({ KeyId: id, Plaintext: te.encode('x'), DryRun: true }), 'DryRunOperationException', /.+/, 412);
});

test('asymmetric and HMAC: GetPublicKey, Encrypt/Decrypt (RSA), Sign, Verify, GenerateMac, VerifyMac, DeriveSharedSecret', async () => {
  const rsa = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!.KeyId!;
  await send(new K.GetPublicKeyCommand({ KeyId: rsa }));
  expectShape('GetPublicKey', ['CustomerMasterKeySpec', 'EncryptionAlgorithms', 'KeyId', 'KeySpec', 'KeyUsage', 'PublicKey']);
  const e = await send<K.EncryptCommandOutput>(new K.EncryptCommand({ KeyId: rsa, Plaintext: te.encode('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
  await send(new K.DecryptCommand({ KeyId: rsa, CiphertextBlob: e.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
  expectShape('Decrypt', ['EncryptionAlgorithm', 'KeyId', 'Plaintext']);

  const ecc = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
  const s = await send<K.SignCommandOutput>(new K.SignCommand({ KeyId: ecc, Message: te.encode('m'), SigningAlgorithm: 'ECDSA_SHA_384' }));
  expectShape('Sign', ['KeyId', 'Signature', 'SigningAlgorithm']);
  await send(new K.VerifyCommand({ KeyId: ecc, Message: te.encode('m'), Signature: s.Signature, SigningAlgorithm: 'ECDSA_SHA_384' }));
  expectShape('Verify', ['KeyId', 'SignatureValid', 'SigningAlgorithm']);
  await expectError(new K.VerifyCommand({ KeyId: ecc, Message: te.encode('n'), Signature: s.Signature, SigningAlgorithm: 'ECDSA_SHA_384' }), 'KMSInvalidSignatureException', '');
  await expectError(new K.SignCommand({ KeyId: ecc, Message: te.encode('m'), SigningAlgorithm: 'ECDSA_SHA_256' }), 'InvalidKeyUsageException', /.+/);
  await expectError(new K.EncryptCommand({ KeyId: ecc, Plaintext: te.encode('m') }), 'InvalidKeyUsageException', /.+/);

  const mac = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
  const m = await send<K.GenerateMacCommandOutput>(new K.GenerateMacCommand({ KeyId: mac, Message: te.encode('m'), MacAlgorithm: 'HMAC_SHA_256' }));
  expectShape('GenerateMac', ['KeyId', 'Mac', 'MacAlgorithm']);
  await send(new K.VerifyMacCommand({ KeyId: mac, Message: te.encode('m'), Mac: m.Mac, MacAlgorithm: 'HMAC_SHA_256' }));
  expectShape('VerifyMac', ['KeyId', 'MacAlgorithm', 'MacValid']);
  await expectError(new K.VerifyMacCommand({ KeyId: mac, Message: te.encode('n'), Mac: m.Mac, MacAlgorithm: 'HMAC_SHA_256' }), 'KMSInvalidMacException', '');
  await expectError(new K.GetPublicKeyCommand({ KeyId: mac }), 'UnsupportedOperationException', /.+/);

  const agree = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' }))).KeyMetadata!.KeyId!;
  await send(new K.GetPublicKeyCommand({ KeyId: agree }));
  expectShape('GetPublicKey', ['CustomerMasterKeySpec', 'KeyAgreementAlgorithms', 'KeyId', 'KeySpec', 'KeyUsage', 'PublicKey']);
  const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
  await send(new K.DeriveSharedSecretCommand({ KeyId: agree, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer }));
  expectShape('DeriveSharedSecret', ['KeyAgreementAlgorithm', 'KeyId', 'KeyOrigin', 'SharedSecret']);
  await expectError(new K.DeriveSharedSecretCommand({ KeyId: agree, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer, DryRun: true }), 'DryRunOperationException', /.+/, 412);
});

test('imports: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial', async () => {
  const id = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
  const p = await send<K.GetParametersForImportCommandOutput>(new K.GetParametersForImportCommand({ KeyId: id, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
  expectShape('GetParametersForImport', ['ImportToken', 'KeyId', 'ParametersValidTo', 'PublicKey']);
  const wrap = (material: Uint8Array) =>
    publicEncrypt({ key: createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
  await expectError(
    new K.ImportKeyMaterialCommand({ KeyId: id, ImportToken: te.encode('bogus'), EncryptedKeyMaterial: wrap(randomBytes(32)), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
    'InvalidImportTokenException',
    /.+/,
  );
  await send(new K.ImportKeyMaterialCommand({ KeyId: id, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrap(randomBytes(32)), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
  expectShape('ImportKeyMaterial', ['KeyId', 'KeyMaterialId']);
  await send(new K.DescribeKeyCommand({ KeyId: id }));
  expectShape('DescribeKey', ['KeyMetadata'], { KeyMetadata: { shape: 'KeyMetadata', members: [...SYMMETRIC_METADATA, 'ExpirationModel'] } });
  await expectError(new K.RotateKeyOnDemandCommand({ KeyId: id }), 'KMSInvalidStateException', /.+/);
  await send(new K.DeleteImportedKeyMaterialCommand({ KeyId: id }));
  expectShape('DeleteImportedKeyMaterial', ['KeyId', 'KeyMaterialId']);
  await send(new K.ListKeyRotationsCommand({ KeyId: id, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }));
  expectShape('ListKeyRotations', ['Rotations', 'Truncated'], {
    Rotations: { shape: 'RotationsListEntry', members: ['ImportState', 'KeyId', 'KeyMaterialId', 'KeyMaterialState'] },
  });
  await expectError(new K.GetParametersForImportCommand({ KeyId: (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }), 'UnsupportedOperationException', /.+/);
});

test('grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant', async () => {
  const id = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const grantee = `arn:aws:iam::${ACCOUNT}:role/shape`;
  const g = await send<K.CreateGrantCommandOutput>(new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: grantee, RetiringPrincipal: grantee, Operations: ['Decrypt'] }));
  expectShape('CreateGrant', ['GrantId', 'GrantToken']);
  await send(new K.ListGrantsCommand({ KeyId: id }));
  expectShape('ListGrants', ['Grants', 'Truncated'], {
    Grants: { shape: 'GrantListEntry', members: ['CreationDate', 'GrantId', 'GranteePrincipal', 'IssuingAccount', 'KeyId', 'Operations', 'RetiringPrincipal'] },
  });
  await send(new K.ListRetirableGrantsCommand({ RetiringPrincipal: grantee }));
  expectShape('ListRetirableGrants', ['Grants', 'Truncated'], {
    Grants: { shape: 'GrantListEntry', members: ['CreationDate', 'GrantId', 'GranteePrincipal', 'IssuingAccount', 'KeyId', 'Operations', 'RetiringPrincipal'] },
  });
  await send(new K.RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId }));
  expectShape('RevokeGrant', []);
  const g2 = await send<K.CreateGrantCommandOutput>(new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: grantee, Operations: ['Encrypt'] }));
  await send(new K.RetireGrantCommand({ KeyId: id, GrantId: g2.GrantId }));
  expectShape('RetireGrant', []);
});

test('multi-Region: ReplicateKey, UpdatePrimaryRegion', async () => {
  const id = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.KeyId!;
  await send(new K.ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
  const body = expectShape('ReplicateKey', ['ReplicaKeyMetadata', 'ReplicaPolicy', 'ReplicaTags']);
  assert.deepEqual(keys(body.ReplicaKeyMetadata), [...SYMMETRIC_METADATA.filter((m) => m !== 'CurrentKeyMaterialId'), 'MultiRegionConfiguration'].sort());
  await expectError(new K.ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }), 'AlreadyExistsException', /.+/);
  await send(new K.UpdatePrimaryRegionCommand({ KeyId: id, PrimaryRegion: 'eu-west-1' }));
  expectShape('UpdatePrimaryRegion', []);
});

test('every operation the local KMS serves is covered above, and each is an AWS KMS operation', () => {
  const covered = new Set([...readFileSync(new URL(import.meta.url), 'utf8').matchAll(/expectShape\('(\w+)'/g)].map((m) => m[1]!));
  const served = h.server.kms.operations;
  assert.deepEqual(served.filter((op) => !covered.has(op)), [], 'operations without a shape check');
  assert.deepEqual(served.filter((op) => !MODEL.has(`${op}Request`)), [], 'operations AWS KMS does not have');
});

test('pattern and list constraints name the value too', async () => {
  const id = (await send<K.CreateKeyCommandOutput>(new K.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  await expectError(
    new K.CreateAliasCommand({ AliasName: 'nope', TargetKeyId: id }),
    'ValidationException',
    "1 validation error detected: Value 'nope' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$",
  );
  await expectError(
    new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/x`, Operations: ['Decrypt', 'Fly' as K.GrantOperation] }),
    'ValidationException',
    /^1 validation error detected: Value '\[Decrypt, Fly\]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: \[Member must satisfy enum value set: \[Decrypt, /,
  );
});
