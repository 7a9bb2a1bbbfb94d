// Several accounts and principals in one local KMS: keys are per account; a key policy can grant
// another account's principal; the region comes from each request's credential scope.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, ListKeysCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { rejectsWith, startHarness } from './helpers.js';

test('cross-account use is governed by the key policy; principals come from credentials', async () => {
  const h = await startHarness({
    credentials: [
      { accessKeyId: 'AKIAOWNER0000000000', secretAccessKey: 'owner-secret', account: '111122223333', principalArn: 'arn:aws:iam::111122223333:user/owner' },
      { accessKeyId: 'AKIAOTHER0000000000', secretAccessKey: 'other-secret', account: '444455556666', principalArn: 'arn:aws:iam::444455556666:role/reader' },
    ],
  });
  try {
    const owner = h.clientFor({ accessKeyId: 'AKIAOWNER0000000000', secretAccessKey: 'owner-secret' });
    const other = h.clientFor({ accessKeyId: 'AKIAOTHER0000000000', secretAccessKey: 'other-secret' });
    const md = (await owner.send(new CreateKeyCommand({}))).KeyMetadata!;
    const blob = (await owner.send(new EncryptCommand({ KeyId: md.KeyId, Plaintext: new Uint8Array([7]), EncryptionContext: { tenant: 'a' } }))).CiphertextBlob!;
    // The other account sees its own (empty) key list and cannot find the key by bare id.
    assert.deepEqual((await other.send(new ListKeysCommand({}))).Keys, []);
    await rejectsWith(other.send(new DescribeKeyCommand({ KeyId: md.KeyId })), 'NotFoundException');
    // By ARN it finds the key, but the default policy only trusts the owner account.
    await rejectsWith(other.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: blob, EncryptionContext: { tenant: 'a' } })), 'AccessDeniedException');
    await owner.send(
      new PutKeyPolicyCommand({
        KeyId: md.KeyId,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Sid: 'owner', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
            {
              Sid: 'reader',
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::444455556666:role/reader' },
              Action: 'kms:Decrypt',
              Resource: '*',
              Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'a', 'kms:CallerAccount': '444455556666' } },
            },
          ],
        }),
      }),
    );
    const d = await other.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: blob, EncryptionContext: { tenant: 'a' } }));
    assert.deepEqual([...d.Plaintext!], [7]);
    await rejectsWith(other.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: new Uint8Array([1]) })), 'AccessDeniedException');
  } finally {
    await h.close();
  }
});
