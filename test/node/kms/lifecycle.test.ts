// Clock-driven lifecycle: scheduled deletion ends with the key gone, automatic rotation keeps old
// versions, all with an injected clock.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { rejectsWith, startHarness, tempDir } from './helpers.js';

const DAY = 86_400_000;

test('a key scheduled for deletion is usable for nothing, then gone after its window (and its aliases with it), also after a restart', async () => {
  let now = Date.UTC(2030, 0, 1);
  const dir = await tempDir();
  let h = await startHarness({ dataDir: dir, clock: () => now });
  try {
    const k = await h.client.send(new CreateKeyCommand({}));
    const id = k.KeyMetadata!.KeyId!;
    await h.client.send(new CreateAliasCommand({ AliasName: 'alias/bye', TargetKeyId: id }));
    const blob = (await h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([1]) }))).CiphertextBlob!;
    const s = await h.client.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    assert.equal(s.DeletionDate!.getTime(), now + 7 * DAY);
    now += 7 * DAY - 1000;
    assert.equal((await h.client.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState, 'PendingDeletion');
    await rejectsWith(h.client.send(new DecryptCommand({ CiphertextBlob: blob })), 'KMSInvalidStateException');
    await h.close();
    now += 2000;
    h = await startHarness({ dataDir: dir, clock: () => now });
    await rejectsWith(h.client.send(new DescribeKeyCommand({ KeyId: id })), 'NotFoundException');
    await rejectsWith(h.client.send(new DescribeKeyCommand({ KeyId: 'alias/bye' })), 'NotFoundException');
    assert.ok(!(await h.client.send(new ListKeysCommand({}))).Keys!.some((x) => x.KeyId === id));
    assert.ok(!(await h.client.send(new ListAliasesCommand({}))).Aliases!.some((x) => x.AliasName === 'alias/bye'));
    await rejectsWith(h.client.send(new DecryptCommand({ CiphertextBlob: blob })), 'InvalidCiphertextException');
  } finally {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the default deletion window is 30 days', async () => {
  let now = Date.UTC(2030, 0, 1);
  const h = await startHarness({ clock: () => now });
  try {
    const id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const s = await h.client.send(new ScheduleKeyDeletionCommand({ KeyId: id }));
    assert.equal(s.PendingWindowInDays, 30);
    now += 29 * DAY;
    await h.client.send(new DescribeKeyCommand({ KeyId: id }));
    now += DAY;
    await rejectsWith(h.client.send(new DescribeKeyCommand({ KeyId: id })), 'NotFoundException');
  } finally {
    await h.close();
  }
});

test('automatic rotation happens when its period has passed; every older ciphertext still decrypts', async () => {
  let now = Date.UTC(2030, 0, 1);
  const h = await startHarness({ clock: () => now });
  try {
    const id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    const blobs: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      blobs.push((await h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([i]) }))).CiphertextBlob!);
      now += 91 * DAY;
    }
    const status = await h.client.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    assert.ok(status.NextRotationDate!.getTime() > now);
    // Material versions differ: the blobs carry versions 1..4.
    const versions = blobs.map((b) => new DataView(b.buffer, b.byteOffset).getUint32(5 + b[4]!));
    assert.deepEqual(versions, [1, 2, 3, 4]);
    for (const [i, b] of blobs.entries()) {
      assert.deepEqual([...(await h.client.send(new DecryptCommand({ CiphertextBlob: b }))).Plaintext!], [i]);
    }
  } finally {
    await h.close();
  }
});

test('imported key material expires at ValidTo (the key returns to PendingImport); import tokens expire after 24 h', async () => {
  let now = Date.UTC(2030, 0, 1);
  const h = await startHarness({ clock: () => now });
  try {
    const id = (await h.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    const wrap = async () => {
      const p = await h.client.send(new GetParametersForImportCommand({ KeyId: id, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
      assert.equal(p.ParametersValidTo!.getTime(), now + DAY);
      const k = await crypto.subtle.importKey('spki', new Uint8Array(p.PublicKey!), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['encrypt']);
      return { token: p.ImportToken!, encrypted: new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, k, new Uint8Array(32).fill(5))) };
    };
    const late = await wrap();
    now += DAY + 1000;
    await rejectsWith(
      h.client.send(new ImportKeyMaterialCommand({ KeyId: id, ImportToken: late.token, EncryptedKeyMaterial: late.encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })),
      'ExpiredImportTokenException',
    );
    const fresh = await wrap();
    await h.client.send(
      new ImportKeyMaterialCommand({ KeyId: id, ImportToken: fresh.token, EncryptedKeyMaterial: fresh.encrypted, ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(now + 10 * DAY) }),
    );
    const md = (await h.client.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    assert.equal(md.KeyState, 'Enabled');
    assert.equal(md.ExpirationModel, 'KEY_MATERIAL_EXPIRES');
    await h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([1]) }));
    now += 10 * DAY;
    assert.equal((await h.client.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState, 'PendingImport');
    await rejectsWith(h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([1]) })), 'KMSInvalidStateException');
  } finally {
    await h.close();
  }
});
