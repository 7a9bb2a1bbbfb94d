// Request quotas: token buckets per account, region and operation class (shared symmetric, RSA,
// ECC, HMAC, per-API management), ThrottlingException beyond them, refill with time; off by default.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  GenerateRandomCommand,
  ListKeysCommand,
  PutKeyPolicyCommand,
  SignCommand,
} from '@aws-sdk/client-kms';
import { RequestQuotas } from '../../../src/node/kms/quotas.js';
import { rejectsWith, startHarness } from './helpers.js';

const A = { accessKeyId: 'AKIAQUOTAA00000000A', secretAccessKey: 'a-secret-1', account: '111122223333', principalArn: 'arn:aws:iam::111122223333:user/a' };
const B = { accessKeyId: 'AKIAQUOTAB00000000A', secretAccessKey: 'b-secret-1', account: '444455556666', principalArn: 'arn:aws:iam::444455556666:user/b' };
const pt = new Uint8Array([1]);

test('off by default: a burst of requests is never throttled', async () => {
  const h = await startHarness();
  try {
    const id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await Promise.all(Array.from({ length: 60 }, () => h.client.send(new EncryptCommand({ KeyId: id, Plaintext: pt }))));
    await Promise.all(Array.from({ length: 20 }, () => h.client.send(new DescribeKeyCommand({ KeyId: id }))));
  } finally {
    await h.close();
  }
});

test('buckets per class, per account and region; cross-account use spends the owner\'s; refill with time', async () => {
  let t = 1_000_000;
  const h = await startHarness({
    credentials: [A, B],
    quotas: { symmetric: 3, rsa: 2, ecc: 1, hmac: 2, management: { DescribeKey: 2, CreateKey: 20 }, clock: () => t },
  });
  try {
    const a = h.clientFor(A);
    const b = h.clientFor(B);
    const aEu = h.clientFor({ ...A, region: 'eu-west-1' });
    const sym = (await a.send(new CreateKeyCommand({}))).KeyMetadata!;
    const rsa = (await a.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!;
    const ecc = (await a.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!;
    const mac = (await a.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!;
    const eu = (await aEu.send(new CreateKeyCommand({}))).KeyMetadata!;
    const bKey = (await b.send(new CreateKeyCommand({}))).KeyMetadata!;

    // Symmetric: Encrypt, Decrypt and GenerateDataKey share 3 per second.
    const blob = (await a.send(new EncryptCommand({ KeyId: sym.KeyId, Plaintext: pt }))).CiphertextBlob!;
    await a.send(new DecryptCommand({ CiphertextBlob: blob }));
    await a.send(new GenerateDataKeyCommand({ KeyId: sym.KeyId, KeySpec: 'AES_256' }));
    const err = await rejectsWith(a.send(new EncryptCommand({ KeyId: sym.KeyId, Plaintext: pt })), 'ThrottlingException');
    assert.equal(err.$metadata?.httpStatusCode, 400);
    await rejectsWith(a.send(new GenerateRandomCommand({ NumberOfBytes: 8 })), 'ThrottlingException');
    // Other classes, regions and accounts have their own buckets.
    await a.send(new EncryptCommand({ KeyId: rsa.KeyId, Plaintext: pt, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    await a.send(new EncryptCommand({ KeyId: rsa.KeyId, Plaintext: pt, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    await rejectsWith(a.send(new EncryptCommand({ KeyId: rsa.KeyId, Plaintext: pt, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })), 'ThrottlingException');
    await a.send(new SignCommand({ KeyId: ecc.KeyId, Message: pt, SigningAlgorithm: 'ECDSA_SHA_256' }));
    await rejectsWith(a.send(new SignCommand({ KeyId: ecc.KeyId, Message: pt, SigningAlgorithm: 'ECDSA_SHA_256' })), 'ThrottlingException');
    await a.send(new GenerateMacCommand({ KeyId: mac.KeyId, Message: pt, MacAlgorithm: 'HMAC_SHA_256' }));
    await a.send(new GenerateMacCommand({ KeyId: mac.KeyId, Message: pt, MacAlgorithm: 'HMAC_SHA_256' }));
    await rejectsWith(a.send(new GenerateMacCommand({ KeyId: mac.KeyId, Message: pt, MacAlgorithm: 'HMAC_SHA_256' })), 'ThrottlingException');
    await aEu.send(new EncryptCommand({ KeyId: eu.KeyId, Plaintext: pt }));
    await b.send(new EncryptCommand({ KeyId: bKey.KeyId, Plaintext: pt }));
    // Management: per API.
    await a.send(new DescribeKeyCommand({ KeyId: sym.KeyId }));
    await a.send(new DescribeKeyCommand({ KeyId: sym.KeyId }));
    await rejectsWith(a.send(new DescribeKeyCommand({ KeyId: sym.KeyId })), 'ThrottlingException');
    await a.send(new ListKeysCommand({}));

    // Cross-account: B using A's key spends A's symmetric bucket (empty), not B's.
    await a.send(
      new PutKeyPolicyCommand({
        KeyId: sym.KeyId,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 'kms:*', Resource: '*' },
            { Effect: 'Allow', Principal: { AWS: B.principalArn }, Action: 'kms:Encrypt', Resource: '*' },
          ],
        }),
      }),
    );
    await rejectsWith(b.send(new EncryptCommand({ KeyId: sym.Arn, Plaintext: pt })), 'ThrottlingException');

    // A second later every bucket is full again (one second of its rate, no more).
    t += 1000;
    await b.send(new EncryptCommand({ KeyId: sym.Arn, Plaintext: pt }));
    await a.send(new EncryptCommand({ KeyId: sym.KeyId, Plaintext: pt }));
    await a.send(new EncryptCommand({ KeyId: sym.KeyId, Plaintext: pt }));
    await rejectsWith(a.send(new EncryptCommand({ KeyId: sym.KeyId, Plaintext: pt })), 'ThrottlingException');
    t += 60_000;
    for (let i = 0; i < 3; i++) await a.send(new EncryptCommand({ KeyId: sym.KeyId, Plaintext: pt }));
    await rejectsWith(a.send(new EncryptCommand({ KeyId: sym.KeyId, Plaintext: pt })), 'ThrottlingException');
  } finally {
    await h.close();
  }
});

test('unset rates are AWS\'s defaults (CreateKey 50 per second); bad rates are refused', async () => {
  const t = 0;
  const h = await startHarness({ quotas: { clock: () => t } });
  try {
    // CreateKey: 50 per second, the rest throttled.
    const results = await Promise.allSettled(Array.from({ length: 52 }, () => h.client.send(new CreateKeyCommand({}))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 50);
    assert.ok(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.name === 'ThrottlingException'));
  } finally {
    await h.close();
  }
  assert.throws(() => new RequestQuotas({ symmetric: 0 }), /positive number/);
  assert.throws(() => new RequestQuotas({ management: { Decrypt: -1 } }), /positive number/);
  assert.equal(new RequestQuotas(true).rate('symmetric'), 5500);
});
