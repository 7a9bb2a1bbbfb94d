// Accounts and principals: credentials mapped to principals in <dataDir>/principals.json and in a
// seed file; a key's default policy trusts its own account only; another account gets only what the
// key policy names; the condition keys KMS users write (kms:EncryptionContext:<k>,
// kms:EncryptionContextKeys, kms:CallerAccount, kms:ViaService, aws:PrincipalArn) with StringEquals,
// StringLike, ForAllValues/ForAnyValue and Null; explicit deny wins; kms:ViaService only from a
// credential trusted to set the x-sealbox-via-service header.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient, ListKeysCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { startLocalKmsServer } from '../../../src/node/kms/index.js';
import { ROOT_KEY, rejectsWith, startHarness, tempDir } from './helpers.js';

const OWNER = { accessKeyId: 'AKIAOWNERROOT000000', secretAccessKey: 'owner-secret-1', principalArn: 'arn:aws:iam::111122223333:root' };
const READER = { accessKeyId: 'AKIAREADER00000000A', secretAccessKey: 'reader-secret-1', principalArn: 'arn:aws:iam::444455556666:role/reader' };
const WRITER = { accessKeyId: 'AKIAWRITER00000000A', secretAccessKey: 'writer-secret-1', principalArn: 'arn:aws:iam::444455556666:user/writer' };
const PROXY = { accessKeyId: 'AKIAPROXY000000000A', secretAccessKey: 'proxy-secret-1', principalArn: 'arn:aws:iam::444455556666:role/sealbox-proxy', trustedForViaService: true };

function withViaService(client: KMSClient, service: string): KMSClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-sealbox-via-service'] = service;
      return next(args);
    },
    { step: 'build', name: 'viaService' },
  );
  return client;
}

test('principals.json: own account trusted by default, another account only as the key policy names it', async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir, 'principals.json'), JSON.stringify({ principals: [OWNER, READER, WRITER, PROXY] }), { mode: 0o600 });
    const h = await startHarness({ dataDir: dir });
    try {
      const owner = h.clientFor(OWNER);
      const reader = h.clientFor(READER);
      const writer = h.clientFor(WRITER);
      const md = (await owner.send(new CreateKeyCommand({}))).KeyMetadata!;
      assert.equal(md.AWSAccountId, '111122223333');
      assert.equal(md.Arn, `arn:aws:kms:us-east-1:111122223333:key/${md.KeyId}`);
      const blob = async (ctx: Record<string, string>) =>
        (await owner.send(new EncryptCommand({ KeyId: md.KeyId, Plaintext: new Uint8Array([9]), EncryptionContext: ctx }))).CiphertextBlob!;
      const good = await blob({ tenant: 'a', doc: '1' });
      const extraKey = await blob({ tenant: 'a', other: 'x' });
      const noTenant = await blob({ doc: '1' });

      // Keys are per account; by ARN the default policy (own account only) denies.
      assert.deepEqual((await reader.send(new ListKeysCommand({}))).Keys, []);
      await rejectsWith(reader.send(new DescribeKeyCommand({ KeyId: md.KeyId })), 'NotFoundException');
      await rejectsWith(reader.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: good, EncryptionContext: { tenant: 'a', doc: '1' } })), 'AccessDeniedException');

      await owner.send(
        new PutKeyPolicyCommand({
          KeyId: md.KeyId,
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Sid: 'owner', Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 'kms:*', Resource: '*' },
              {
                Sid: 'roles of 4444 decrypt tenant a',
                Effect: 'Allow',
                Principal: { AWS: 'arn:aws:iam::444455556666:root' },
                Action: 'kms:Decrypt',
                Resource: '*',
                Condition: {
                  StringLike: { 'aws:PrincipalArn': 'arn:aws:iam::444455556666:role/*' },
                  StringEquals: { 'kms:EncryptionContext:tenant': 'a', 'kms:CallerAccount': '444455556666' },
                  'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'doc'] },
                },
              },
              {
                Sid: 'data keys only through the proxy',
                Effect: 'Allow',
                Principal: { AWS: 'arn:aws:iam::444455556666:root' },
                Action: 'kms:GenerateDataKey',
                Resource: '*',
                Condition: { StringEquals: { 'kms:ViaService': 'proxy.sealbox.local' }, 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'tenant' } },
              },
              {
                Sid: 'no decrypt without a tenant, for anyone',
                Effect: 'Deny',
                Principal: '*',
                Action: 'kms:Decrypt',
                Resource: '*',
                Condition: { Null: { 'kms:EncryptionContext:tenant': 'true' } },
              },
            ],
          }),
        }),
      );
      // The role may decrypt under the conditions; not encrypt (not named).
      assert.deepEqual([...(await reader.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: good, EncryptionContext: { tenant: 'a', doc: '1' } }))).Plaintext!], [9]);
      await rejectsWith(reader.send(new DescribeKeyCommand({ KeyId: md.Arn })), 'AccessDeniedException');
      await rejectsWith(reader.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: new Uint8Array([1]), EncryptionContext: { tenant: 'a' } })), 'AccessDeniedException');
      // ForAllValues: a context key outside [tenant, doc] denies.
      await rejectsWith(reader.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: extraKey, EncryptionContext: { tenant: 'a', other: 'x' } })), 'AccessDeniedException');
      // aws:PrincipalArn StringLike role/*: a user of the same account is not covered.
      await rejectsWith(writer.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: good, EncryptionContext: { tenant: 'a', doc: '1' } })), 'AccessDeniedException');
      // Explicit deny wins, even for the owner account's kms:*.
      await rejectsWith(owner.send(new DecryptCommand({ KeyId: md.KeyId, CiphertextBlob: noTenant, EncryptionContext: { doc: '1' } })), 'AccessDeniedException');
      assert.deepEqual([...(await owner.send(new DecryptCommand({ KeyId: md.KeyId, CiphertextBlob: good, EncryptionContext: { tenant: 'a', doc: '1' } }))).Plaintext!], [9]);

      // kms:ViaService: honoured only from the trusted proxy credential.
      const gdk = (c: KMSClient) => c.send(new GenerateDataKeyCommand({ KeyId: md.Arn, KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }));
      await rejectsWith(gdk(withViaService(h.clientFor(READER), 'proxy.sealbox.local')), 'AccessDeniedException');
      await rejectsWith(gdk(h.clientFor(PROXY)), 'AccessDeniedException');
      await rejectsWith(gdk(withViaService(h.clientFor(PROXY), 'other.service')), 'AccessDeniedException');
      assert.equal((await gdk(withViaService(h.clientFor(PROXY), 'proxy.sealbox.local'))).Plaintext!.length, 32);
    } finally {
      await h.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('seed principals and keys in another account; bad principals fail the start', async () => {
  const h = await startHarness({
    seed: {
      principals: [OWNER, READER],
      keys: [{ account: '444455556666', aliases: ['alias/reader-key'] }],
    },
  });
  try {
    const reader = h.clientFor(READER);
    const owner = h.clientFor(OWNER);
    const md = (await reader.send(new DescribeKeyCommand({ KeyId: 'alias/reader-key' }))).KeyMetadata!;
    assert.equal(md.AWSAccountId, '444455556666');
    await reader.send(new EncryptCommand({ KeyId: 'alias/reader-key', Plaintext: new Uint8Array([1]) }));
    await rejectsWith(owner.send(new DescribeKeyCommand({ KeyId: 'alias/reader-key' })), 'NotFoundException');
    await rejectsWith(owner.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: new Uint8Array([1]) })), 'AccessDeniedException');
  } finally {
    await h.close();
  }
  const dir = await tempDir();
  try {
    const bad: Array<Record<string, unknown>> = [
      { principals: [{ ...READER, principalArn: 'arn:aws:iam::4444:role/x' }] },
      { principals: [{ ...READER, account: '111122223333' }] },
      { principals: [READER, { ...READER, secretAccessKey: 'different-secret' }] },
      { principals: 'nope' },
    ];
    for (const seed of bad) {
      await assert.rejects(startLocalKmsServer({ port: 0, dataDir: dir, rootKey: ROOT_KEY, env: {}, log: () => {}, seed: seed as never }), { name: 'PrincipalsError' });
    }
    await writeFile(join(dir, 'principals.json'), '{"principals": [', { mode: 0o600 });
    await assert.rejects(startLocalKmsServer({ port: 0, dataDir: dir, rootKey: ROOT_KEY, env: {}, log: () => {} }), { name: 'PrincipalsError' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
