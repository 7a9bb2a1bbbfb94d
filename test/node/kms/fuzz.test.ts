// Malformed but properly signed requests to every operation never crash the KMS or yield a 500:
// every answer is a KMS JSON response with an AWS error type (or a success).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { AwsV4Signer } from 'aws4fetch';
import { CreateKeyCommand, CreateAliasCommand } from '@aws-sdk/client-kms';
import { startHarness, type Harness } from './helpers.js';

let h: Harness;
let keyId: string;

before(async () => {
  h = await startHarness();
  keyId = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  await h.client.send(new CreateAliasCommand({ AliasName: 'alias/fuzz', TargetKeyId: keyId }));
});
after(async () => {
  await h.close();
});

async function call(op: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const signer = new AwsV4Signer({
    method: 'POST',
    url: `${h.server.url}/`,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
    body,
    ...h.server.credentials,
    service: 'kms',
    region: 'us-east-1',
  });
  const s = await signer.sign();
  const r = await fetch(s.url, { method: 'POST', headers: s.headers, body });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

const FIELDS = [
  'KeyId', 'Plaintext', 'CiphertextBlob', 'EncryptionContext', 'KeySpec', 'NumberOfBytes', 'EncryptionAlgorithm', 'AliasName',
  'TargetKeyId', 'Description', 'Policy', 'PolicyName', 'Tags', 'TagKeys', 'Limit', 'Marker', 'PendingWindowInDays', 'Message',
  'MessageType', 'SigningAlgorithm', 'Signature', 'MacAlgorithm', 'Mac', 'DestinationKeyId', 'SourceEncryptionContext',
  'KeyUsage', 'Origin', 'RotationPeriodInDays', 'WrappingAlgorithm', 'WrappingKeySpec', 'ImportToken', 'EncryptedKeyMaterial',
  'ExpirationModel', 'ValidTo', 'DryRun', 'MultiRegion', 'BypassPolicyLockoutSafetyCheck', 'KeyPairSpec', 'KeyAgreementAlgorithm',
  'PublicKey', 'ImportType', 'KeyMaterialId', 'KeyMaterialDescription', 'IncludeKeyMaterial', 'Operations', 'GranteePrincipal',
];
const OPS = [
  'DescribeKey', 'ListKeys', 'UpdateKeyDescription', 'CreateAlias', 'UpdateAlias', 'DeleteAlias', 'ListAliases', 'EnableKey',
  'DisableKey', 'CancelKeyDeletion', 'EnableKeyRotation', 'DisableKeyRotation', 'GetKeyRotationStatus', 'GetKeyPolicy',
  'PutKeyPolicy', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateRandom', 'Encrypt', 'Decrypt', 'ReEncrypt',
  'GetPublicKey', 'Sign', 'Verify', 'GenerateMac', 'VerifyMac', 'TagResource', 'UntagResource', 'ListResourceTags',
  'ListKeyRotations', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'DeriveSharedSecret', 'ImportKeyMaterial',
  'DeleteImportedKeyMaterial', 'GetParametersForImport', 'CreateGrant', 'ListGrants', 'NoSuchOperation',
];

const value = fc.oneof(
  fc.constantFrom(
    'alias/fuzz', 'AAAA', '', 'alias/', 'arn:aws:kms:us-east-1:111122223333:key/x', 'SYMMETRIC_DEFAULT', 'AES_256', 'RSA_2048', 'ECC_NIST_P521',
    'ECC_SECG_P256K1', 'HMAC_224', 'KEY_AGREEMENT', 'ECDH', 'DIGEST', 'NEW_KEY_MATERIAL', 'ALL_KEY_MATERIAL', 'EXTERNAL',
  ),
  fc.string({ maxLength: 20 }),
  fc.integer({ min: -5, max: 5000 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.record({ TagKey: fc.string({ maxLength: 5 }), TagValue: fc.integer() })), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxKeys: 3 }),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')),
);

test('random bodies to every operation: never a 5xx, always an AWS error type', { timeout: 300_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...OPS),
      fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 5 }),
      fc.boolean(),
      fc.constantFrom('', 'not json', '[]', '5', 'null'),
      async (op, fields, useKey, raw) => {
        const body = raw && Object.keys(fields).length === 0 ? raw : JSON.stringify(useKey ? { KeyId: keyId, ...fields } : fields);
        const { status, json } = await call(op, body);
        assert.ok(status < 500, `${op} ${body} → ${status} ${JSON.stringify(json)}`);
        if (status !== 200) assert.equal(typeof json.__type, 'string', JSON.stringify(json));
      },
    ),
    { numRuns: 120 },
  );
  // Still healthy afterwards. By key id: the fuzz may itself delete or move 'alias/fuzz' (DeleteAlias
  // or UpdateAlias with that name is a valid call), which once failed this check in CI; no operation
  // in OPS can delete the key.
  const health = await call('DescribeKey', JSON.stringify({ KeyId: keyId }));
  assert.equal(health.status, 200, JSON.stringify(health.json));
});
