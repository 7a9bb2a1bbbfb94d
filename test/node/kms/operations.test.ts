// Every operation of the local KMS through the official @aws-sdk/client-kms, against a real server.
import assert from 'node:assert/strict';
import { createHash, createHmac, createPublicKey, verify as nodeVerify, constants } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateMacCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  VerifyCommand,
  VerifyMacCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { publicEncrypt } from 'node:crypto';
import { rejectsWith, startHarness, type Harness } from './helpers.js';

let h: Harness;
let kms: KMSClient;
const te = new TextEncoder();

before(async () => {
  h = await startHarness();
  kms = h.client;
});
after(async () => {
  await h.close();
});

async function createSymmetric(description = 'test'): Promise<string> {
  const r = await kms.send(new CreateKeyCommand({ Description: description }));
  return r.KeyMetadata!.KeyId!;
}

describe('key management', () => {
  test('CreateKey, DescribeKey by id / ARN / alias / alias ARN, ListKeys', async () => {
    const created = await kms.send(new CreateKeyCommand({ Description: 'first', Tags: [{ TagKey: 'team', TagValue: 'storage' }] }));
    const md = created.KeyMetadata!;
    assert.equal(md.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(md.KeyUsage, 'ENCRYPT_DECRYPT');
    assert.equal(md.KeyState, 'Enabled');
    assert.equal(md.Enabled, true);
    assert.equal(md.AWSAccountId, '111122223333');
    assert.equal(md.Arn, `arn:aws:kms:us-east-1:111122223333:key/${md.KeyId}`);
    assert.ok(md.CreationDate instanceof Date);
    assert.deepEqual(md.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);

    await kms.send(new CreateAliasCommand({ AliasName: 'alias/first', TargetKeyId: md.KeyId }));
    for (const id of [md.KeyId!, md.Arn!, 'alias/first', 'arn:aws:kms:us-east-1:111122223333:alias/first']) {
      const d = await kms.send(new DescribeKeyCommand({ KeyId: id }));
      assert.equal(d.KeyMetadata!.KeyId, md.KeyId, id);
      assert.equal(d.KeyMetadata!.Description, 'first');
    }
    const ids = new Set<string>();
    let marker: string | undefined;
    await createSymmetric();
    await createSymmetric();
    do {
      const page = await kms.send(new ListKeysCommand({ Limit: 1, Marker: marker }));
      for (const k of page.Keys!) {
        ids.add(k.KeyId!);
        assert.equal(k.KeyArn, `arn:aws:kms:us-east-1:111122223333:key/${k.KeyId}`);
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    assert.ok(ids.has(md.KeyId!));
    assert.ok(ids.size >= 3);
  });

  test('UpdateKeyDescription, EnableKey, DisableKey', async () => {
    const id = await createSymmetric('before');
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: id, Description: 'after' }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.Description, 'after');
    await kms.send(new DisableKeyCommand({ KeyId: id }));
    let md = (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    assert.equal(md.KeyState, 'Disabled');
    assert.equal(md.Enabled, false);
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' })), 'DisabledException');
    await kms.send(new EnableKeyCommand({ KeyId: id }));
    md = (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    assert.equal(md.KeyState, 'Enabled');
  });

  test('CreateAlias, UpdateAlias, DeleteAlias, ListAliases', async () => {
    const a = await createSymmetric();
    const b = await createSymmetric();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app/one', TargetKeyId: a }));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app/two', TargetKeyId: `arn:aws:kms:us-east-1:111122223333:key/${a}` }));
    await rejectsWith(kms.send(new CreateAliasCommand({ AliasName: 'alias/app/one', TargetKeyId: b })), 'AlreadyExistsException');
    let list = await kms.send(new ListAliasesCommand({ KeyId: a }));
    assert.deepEqual(list.Aliases!.map((x) => x.AliasName), ['alias/app/one', 'alias/app/two']);
    assert.equal(list.Aliases![0]!.AliasArn, 'arn:aws:kms:us-east-1:111122223333:alias/app/one');
    assert.equal(list.Aliases![0]!.TargetKeyId, a);
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/app/one', TargetKeyId: b }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/app/one' }))).KeyMetadata!.KeyId, b);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/app/two' }));
    await rejectsWith(kms.send(new DescribeKeyCommand({ KeyId: 'alias/app/two' })), 'NotFoundException');
    await rejectsWith(kms.send(new DeleteAliasCommand({ AliasName: 'alias/app/two' })), 'NotFoundException');
    list = await kms.send(new ListAliasesCommand({}));
    const names = list.Aliases!.map((x) => x.AliasName);
    assert.ok(names.includes('alias/app/one') && !names.includes('alias/app/two'));
    // Paging.
    const paged: string[] = [];
    let marker: string | undefined;
    do {
      const page = await kms.send(new ListAliasesCommand({ Limit: 1, Marker: marker }));
      paged.push(...page.Aliases!.map((x) => x.AliasName!));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    assert.deepEqual(paged, names);
    await rejectsWith(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: a })), 'NotAuthorizedException');
    await rejectsWith(kms.send(new CreateAliasCommand({ AliasName: 'nope', TargetKeyId: a })), 'ValidationException');
  });

  test('ScheduleKeyDeletion and CancelKeyDeletion', async () => {
    const id = await createSymmetric();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: id }));
    await rejectsWith(kms.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 6 })), 'ValidationException');
    await rejectsWith(kms.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 31 })), 'ValidationException');
    const before = Date.now();
    const r = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    assert.equal(r.KeyState, 'PendingDeletion');
    assert.equal(r.PendingWindowInDays, 7);
    assert.ok(Math.abs(r.DeletionDate!.getTime() - (before + 7 * 86_400_000)) < 60_000);
    const md = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/doomed' }))).KeyMetadata!;
    assert.equal(md.KeyState, 'PendingDeletion');
    assert.equal(md.PendingDeletionWindowInDays, 7);
    await rejectsWith(kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('x') })), 'KMSInvalidStateException');
    await rejectsWith(kms.send(new EnableKeyCommand({ KeyId: id })), 'KMSInvalidStateException');
    await rejectsWith(kms.send(new ScheduleKeyDeletionCommand({ KeyId: id })), 'KMSInvalidStateException');
    const c = await kms.send(new CancelKeyDeletionCommand({ KeyId: id }));
    assert.equal(c.KeyId, md.Arn);
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState, 'Disabled');
    await rejectsWith(kms.send(new CancelKeyDeletionCommand({ KeyId: id })), 'KMSInvalidStateException');
  });

  test('EnableKeyRotation, GetKeyRotationStatus, DisableKeyRotation, RotateKeyOnDemand keep old versions', async () => {
    const id = await createSymmetric();
    let s = await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    assert.equal(s.KeyRotationEnabled, false);
    await kms.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    s = await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    assert.equal(s.KeyRotationEnabled, true);
    assert.equal(s.RotationPeriodInDays, 90);
    assert.ok(s.NextRotationDate! > new Date());
    await rejectsWith(kms.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 89 })), 'ValidationException');
    await kms.send(new DisableKeyRotationCommand({ KeyId: id }));
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled, false);

    const blobs: Array<{ blob: Uint8Array; plain: string }> = [];
    for (let i = 0; i < 5; i++) {
      const plain = `message ${i}`;
      const e = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode(plain), EncryptionContext: { n: String(i) } }));
      blobs.push({ blob: e.CiphertextBlob!, plain });
      const r = await kms.send(new RotateKeyOnDemandCommand({ KeyId: id }));
      assert.ok(r.KeyId!.endsWith(id));
    }
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    // AWS returns OnDemandRotationStartDate only while an on-demand rotation is in progress; here each completes before it answers.
    assert.equal(status.OnDemandRotationStartDate, undefined);
    for (const [i, { blob, plain }] of blobs.entries()) {
      const d = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { n: String(i) } }));
      assert.equal(new TextDecoder().decode(d.Plaintext), plain);
    }
    const rsa = await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }));
    await rejectsWith(kms.send(new RotateKeyOnDemandCommand({ KeyId: rsa.KeyMetadata!.KeyId })), 'UnsupportedOperationException');
  });

  test('GetKeyPolicy returns the AWS default policy; PutKeyPolicy replaces it and is enforced', async () => {
    const id = await createSymmetric();
    const p = await kms.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: 'default' }));
    const doc = JSON.parse(p.Policy!);
    assert.equal(doc.Statement[0].Principal.AWS, 'arn:aws:iam::111122223333:root');
    assert.equal(doc.Statement[0].Action, 'kms:*');
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'admin', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
        {
          Sid: 'tenant-only',
          Effect: 'Deny',
          Principal: '*',
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'],
          Resource: '*',
          Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': 'acme' } },
        },
      ],
    };
    await kms.send(new PutKeyPolicyCommand({ KeyId: id, PolicyName: 'default', Policy: JSON.stringify(policy) }));
    assert.deepEqual(JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: id }))).Policy!), policy);
    await kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: { tenant: 'acme' } }));
    const denied = await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: { tenant: 'evil' } })), 'AccessDeniedException');
    assert.match(denied.message, /explicit deny/);
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' })), 'AccessDeniedException');
    await rejectsWith(kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: '{"Statement": 5}' })), 'MalformedPolicyDocumentException');
    // Lockout safety check: a policy that would lock the caller out is refused unless bypassed.
    const lockout = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'kms:*', Resource: '*' }] });
    await rejectsWith(kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: lockout })), 'MalformedPolicyDocumentException');
    await kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: lockout, BypassPolicyLockoutSafetyCheck: true }));
    await rejectsWith(kms.send(new DescribeKeyCommand({ KeyId: id })), 'AccessDeniedException');
  });

  test('TagResource, UntagResource, ListResourceTags', async () => {
    const id = await createSymmetric();
    await kms.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'b', TagValue: '2' }] }));
    await kms.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'a', TagValue: '3' }] }));
    let tags = await kms.send(new ListResourceTagsCommand({ KeyId: id }));
    assert.deepEqual(tags.Tags, [{ TagKey: 'a', TagValue: '3' }, { TagKey: 'b', TagValue: '2' }]);
    const page = await kms.send(new ListResourceTagsCommand({ KeyId: id, Limit: 1 }));
    assert.equal(page.Truncated, true);
    const rest = await kms.send(new ListResourceTagsCommand({ KeyId: id, Limit: 1, Marker: page.NextMarker }));
    assert.deepEqual(rest.Tags, [{ TagKey: 'b', TagValue: '2' }]);
    await kms.send(new UntagResourceCommand({ KeyId: id, TagKeys: ['a'] }));
    tags = await kms.send(new ListResourceTagsCommand({ KeyId: id }));
    assert.deepEqual(tags.Tags, [{ TagKey: 'b', TagValue: '2' }]);
    await rejectsWith(kms.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'aws:x', TagValue: '1' }] })), 'TagException');
  });
});

describe('symmetric cryptography', () => {
  test('GenerateDataKey / WithoutPlaintext / Decrypt / Encrypt / ReEncrypt / GenerateRandom', async () => {
    const id = await createSymmetric();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/data', TargetKeyId: id }));
    const ctx = { tenant: 'acme', purpose: 'test' };
    const g = await kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/data', KeySpec: 'AES_256', EncryptionContext: ctx }));
    assert.equal(g.Plaintext!.length, 32);
    assert.ok(g.KeyId!.endsWith(id));
    const d = await kms.send(new DecryptCommand({ CiphertextBlob: g.CiphertextBlob, EncryptionContext: ctx }));
    assert.deepEqual(Buffer.from(d.Plaintext!), Buffer.from(g.Plaintext!));
    assert.equal(d.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    const g16 = await kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_128' }));
    assert.equal(g16.Plaintext!.length, 16);
    const gn = await kms.send(new GenerateDataKeyCommand({ KeyId: id, NumberOfBytes: 1024 }));
    assert.equal(gn.Plaintext!.length, 1024);
    const w = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: ctx }));
    assert.equal((w as { Plaintext?: unknown }).Plaintext, undefined);
    assert.equal((await kms.send(new DecryptCommand({ CiphertextBlob: w.CiphertextBlob, EncryptionContext: ctx, KeyId: id }))).Plaintext!.length, 32);

    const plain = new Uint8Array(4096).fill(9);
    const e = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: plain, EncryptionContext: ctx }));
    assert.equal(e.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    const other = await createSymmetric();
    const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, SourceEncryptionContext: ctx, DestinationKeyId: other, DestinationEncryptionContext: { x: 'y' } }));
    assert.ok(re.SourceKeyId!.endsWith(id));
    assert.ok(re.KeyId!.endsWith(other));
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { x: 'y' } }));
    assert.deepEqual(Buffer.from(back.Plaintext!), Buffer.from(plain));
    assert.ok(back.KeyId!.endsWith(other));

    const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    assert.equal(r.Plaintext!.length, 64);
    await rejectsWith(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })), 'ValidationException');
    await rejectsWith(kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })), 'ValidationException');
  });

  test('limits and error types', async () => {
    const id = await createSymmetric();
    await rejectsWith(kms.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array(4097) })), 'ValidationException');
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: id })), 'ValidationException');
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', NumberOfBytes: 32 })), 'ValidationException');
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: id, NumberOfBytes: 1025 })), 'ValidationException');
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/missing', KeySpec: 'AES_256' })), 'NotFoundException');
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000', KeySpec: 'AES_256' })), 'NotFoundException');

    const e = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('secret'), EncryptionContext: { ab: 'c' } }));
    const blob = e.CiphertextBlob!;
    // Wrong context, including the {"ab":"c"} / {"a":"bc"} ambiguity.
    await rejectsWith(kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { a: 'bc' } })), 'InvalidCiphertextException');
    await rejectsWith(kms.send(new DecryptCommand({ CiphertextBlob: blob })), 'InvalidCiphertextException');
    // Tampered blob: every byte after the header.
    for (const i of [blob.length - 1, blob.length - 20, 45, 60]) {
      const t = Uint8Array.from(blob);
      t[i]! ^= 1;
      await rejectsWith(kms.send(new DecryptCommand({ CiphertextBlob: t, EncryptionContext: { ab: 'c' } })), 'InvalidCiphertextException');
    }
    await rejectsWith(kms.send(new DecryptCommand({ CiphertextBlob: te.encode('garbage') })), 'InvalidCiphertextException');
    // Wrong key for the blob.
    const other = await createSymmetric();
    await rejectsWith(kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { ab: 'c' }, KeyId: other })), 'IncorrectKeyException');
    // Asymmetric key for data keys.
    const rsa = await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }));
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: rsa.KeyMetadata!.KeyId, KeySpec: 'AES_256' })), 'InvalidKeyUsageException');
    await rejectsWith(kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })), 'InvalidKeyUsageException');
  });

  test('an encryption context up to 8192 characters of JSON is accepted, one more is not (escapes count)', async () => {
    const id = await createSymmetric();
    // {"a":"…"} is 8 characters around the value; a quote is 2 in JSON, a control character 6.
    for (const [value, ok] of [
      ['x'.repeat(8184), true],
      ['x'.repeat(8185), false],
      ['"'.repeat(4092), true],
      ['"'.repeat(4092) + 'x', false],
      ['\u0001'.repeat(1364), true],
      ['\u0001'.repeat(1364) + 'x', false],
    ] as const) {
      const send = kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: { a: value } }));
      if (ok) await send;
      else await rejectsWith(send, 'ValidationException');
    }
    // Many short entries: their bound passes the limit, their JSON does not.
    await kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, 'v'.repeat(8)])) }));
  });
});

describe('asymmetric and HMAC keys', () => {
  for (const spec of ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const) {
    test(`${spec} ENCRYPT_DECRYPT: Encrypt/Decrypt with OAEP SHA-1 and SHA-256, and a WebCrypto-wrapped key unwraps`, async () => {
      const created = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'ENCRYPT_DECRYPT' }));
      const id = created.KeyMetadata!.KeyId!;
      assert.deepEqual(created.KeyMetadata!.EncryptionAlgorithms, ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
      const pub = await kms.send(new GetPublicKeyCommand({ KeyId: id }));
      assert.equal(pub.KeySpec, spec);
      assert.equal(pub.KeyUsage, 'ENCRYPT_DECRYPT');
      // Offline wrap in WebCrypto with the SPKI, empty label.
      const key = await crypto.subtle.importKey('spki', new Uint8Array(pub.PublicKey!), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
      const dek = crypto.getRandomValues(new Uint8Array(32));
      const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, key, dek));
      const d = await kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: wrapped, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
      assert.deepEqual(Buffer.from(d.Plaintext!), Buffer.from(dek));
      // SHA-1 via node:crypto.
      const w1 = publicEncrypt({ key: createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, dek);
      const d1 = await kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: w1, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }));
      assert.deepEqual(Buffer.from(d1.Plaintext!), Buffer.from(dek));
      // Encrypt through the KMS, at the OAEP size limit and one over.
      const bits = Number(spec.slice(4));
      const max = bits / 8 - 2 * 32 - 2;
      const e = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array(max).fill(1), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
      const de = await kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: e.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
      assert.equal(de.Plaintext!.length, max);
      await rejectsWith(kms.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array(max + 1), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })), 'ValidationException');
      await rejectsWith(kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: wrapped, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })), 'InvalidCiphertextException');
    });
  }

  test('RSA SIGN_VERIFY: Sign / Verify with PSS and PKCS#1 v1.5, RAW and DIGEST', async () => {
    const created = await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }));
    const id = created.KeyMetadata!.KeyId!;
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: id }));
    const publicKey = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
    const message = te.encode('sign me');
    for (const alg of ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384'] as const) {
      const s = await kms.send(new SignCommand({ KeyId: id, Message: message, SigningAlgorithm: alg, MessageType: 'RAW' }));
      const hash = alg.endsWith('256') ? 'sha256' : alg.endsWith('384') ? 'sha384' : 'sha512';
      const ok = nodeVerify(hash, message, alg.includes('PSS') ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha256' ? 32 : 64 } : publicKey, s.Signature!);
      assert.ok(ok, alg);
      const v = await kms.send(new VerifyCommand({ KeyId: id, Message: message, Signature: s.Signature, SigningAlgorithm: alg }));
      assert.equal(v.SignatureValid, true);
      const bad = Uint8Array.from(s.Signature!);
      bad[10]! ^= 1;
      await rejectsWith(kms.send(new VerifyCommand({ KeyId: id, Message: message, Signature: bad, SigningAlgorithm: alg })), 'KMSInvalidSignatureException');
    }
    const digest = createHash('sha256').update(message).digest();
    const sd = await kms.send(new SignCommand({ KeyId: id, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }));
    assert.ok(nodeVerify('sha256', message, publicKey, sd.Signature!));
    const vd = await kms.send(new VerifyCommand({ KeyId: id, Message: digest, MessageType: 'DIGEST', Signature: sd.Signature, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }));
    assert.equal(vd.SignatureValid, true);
    await rejectsWith(kms.send(new SignCommand({ KeyId: id, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })), 'InvalidKeyUsageException');
    await rejectsWith(kms.send(new EncryptCommand({ KeyId: id, Plaintext: message, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })), 'InvalidKeyUsageException');
  });

  for (const [spec, alg, hash] of [['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'], ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384']] as const) {
    test(`${spec}: Sign / Verify (DER ECDSA) checked with node:crypto`, async () => {
      const created = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }));
      const id = created.KeyMetadata!.KeyId!;
      assert.deepEqual(created.KeyMetadata!.SigningAlgorithms, [alg]);
      const pub = await kms.send(new GetPublicKeyCommand({ KeyId: id }));
      const message = te.encode('ecdsa');
      const s = await kms.send(new SignCommand({ KeyId: id, Message: message, SigningAlgorithm: alg }));
      assert.ok(nodeVerify(hash, message, createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' }), s.Signature!));
      assert.equal((await kms.send(new VerifyCommand({ KeyId: id, Message: message, Signature: s.Signature, SigningAlgorithm: alg }))).SignatureValid, true);
      await rejectsWith(kms.send(new VerifyCommand({ KeyId: id, Message: te.encode('other'), Signature: s.Signature, SigningAlgorithm: alg })), 'KMSInvalidSignatureException');
    });
  }

  for (const [spec, alg, hash] of [['HMAC_256', 'HMAC_SHA_256', 'sha256'], ['HMAC_384', 'HMAC_SHA_384', 'sha384'], ['HMAC_512', 'HMAC_SHA_512', 'sha512']] as const) {
    test(`${spec}: GenerateMac / VerifyMac`, async () => {
      const created = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' }));
      const id = created.KeyMetadata!.KeyId!;
      assert.deepEqual(created.KeyMetadata!.MacAlgorithms, [alg]);
      const m = await kms.send(new GenerateMacCommand({ KeyId: id, Message: te.encode('mac me'), MacAlgorithm: alg }));
      assert.equal(m.Mac!.length, createHmac(hash, 'k').digest().length);
      const v = await kms.send(new VerifyMacCommand({ KeyId: id, Message: te.encode('mac me'), Mac: m.Mac, MacAlgorithm: alg }));
      assert.equal(v.MacValid, true);
      await rejectsWith(kms.send(new VerifyMacCommand({ KeyId: id, Message: te.encode('mac you'), Mac: m.Mac, MacAlgorithm: alg })), 'KMSInvalidMacException');
      await rejectsWith(kms.send(new GetPublicKeyCommand({ KeyId: id })), 'UnsupportedOperationException');
    });
  }

  test('EXTERNAL origin: GetParametersForImport / ImportKeyMaterial (RSAES_OAEP_SHA_256)', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const id = created.KeyMetadata!.KeyId!;
    assert.equal(created.KeyMetadata!.KeyState, 'PendingImport');
    await rejectsWith(kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('x') })), 'KMSInvalidStateException');
    const params = await kms.send(new GetParametersForImportCommand({ KeyId: id, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    const wrapKey = await crypto.subtle.importKey('spki', new Uint8Array(params.PublicKey!), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
    const material = crypto.getRandomValues(new Uint8Array(32));
    const encrypted = new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, wrapKey, material));
    await rejectsWith(
      kms.send(new ImportKeyMaterialCommand({ KeyId: id, ImportToken: te.encode('bogus token'), EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })),
      'InvalidImportTokenException',
    );
    await kms.send(new ImportKeyMaterialCommand({ KeyId: id, ImportToken: params.ImportToken, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    const md = (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    assert.equal(md.KeyState, 'Enabled');
    assert.equal(md.Origin, 'EXTERNAL');
    const e = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('imported') }));
    assert.equal(new TextDecoder().decode((await kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }))).Plaintext), 'imported');
    // Re-importing different material is refused.
    const p2 = await kms.send(new GetParametersForImportCommand({ KeyId: id, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    const k2 = await crypto.subtle.importKey('spki', new Uint8Array(p2.PublicKey!), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
    const other = new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, k2, crypto.getRandomValues(new Uint8Array(32))));
    await rejectsWith(
      kms.send(new ImportKeyMaterialCommand({ KeyId: id, ImportToken: p2.ImportToken, EncryptedKeyMaterial: other, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })),
      'IncorrectKeyMaterialException',
    );
    await rejectsWith(kms.send(new GetParametersForImportCommand({ KeyId: await createSymmetric(), WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' })), 'UnsupportedOperationException');
  });
});
