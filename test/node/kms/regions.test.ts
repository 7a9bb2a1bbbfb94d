// Regions and multi-region keys: the region comes from each request's SigV4 scope; single-region
// keys are invisible from other regions; mrk- keys replicate with the same material (a ciphertext
// from one region decrypts in the other), share rotation, and can move their primary region. And a
// KmsKeyring with one key per region decrypts while one region's traffic is cut.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  ListKeysCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  UpdatePrimaryRegionCommand,
} from '@aws-sdk/client-kms';
import { KmsClient } from '../../../src/sdk/client/kms-client.js';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { KmsKeyring } from '../../../src/sdk/keyring/kms.js';
import { rejectsWith, startHarness, tempDir } from './helpers.js';

const pt = new Uint8Array([4, 2]);

test('single-region keys live in their region: their ARN names it, other regions do not find them', async () => {
  const h = await startHarness();
  try {
    const east = h.clientFor({ region: 'us-east-1' });
    const west = h.clientFor({ region: 'eu-west-1' });
    const md = (await east.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.equal(md.Arn, `arn:aws:kms:us-east-1:111122223333:key/${md.KeyId}`);
    assert.equal(md.MultiRegion, false);
    assert.equal(md.MultiRegionConfiguration, undefined);
    const wmd = (await west.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.match(wmd.Arn!, /^arn:aws:kms:eu-west-1:/);
    assert.deepEqual((await west.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId), [wmd.KeyId]);
    await rejectsWith(west.send(new DescribeKeyCommand({ KeyId: md.KeyId })), 'NotFoundException');
    await rejectsWith(west.send(new DescribeKeyCommand({ KeyId: md.Arn })), 'NotFoundException');
    const blob = (await east.send(new EncryptCommand({ KeyId: md.KeyId, Plaintext: pt }))).CiphertextBlob!;
    await rejectsWith(west.send(new DecryptCommand({ CiphertextBlob: blob })), 'InvalidCiphertextException');
    await rejectsWith(east.send(new ReplicateKeyCommand({ KeyId: md.KeyId, ReplicaRegion: 'eu-west-1' })), 'UnsupportedOperationException');
  } finally {
    await h.close();
  }
});

test('multi-region keys: ReplicateKey, cross-region decrypt, shared rotation, UpdatePrimaryRegion, persisted', async () => {
  const dir = await tempDir();
  try {
    let h = await startHarness({ dataDir: dir });
    let id: string;
    let blobs: Uint8Array[];
    try {
      const east = h.clientFor({ region: 'us-east-1' });
      const west = h.clientFor({ region: 'eu-west-1' });
      const md = (await east.send(new CreateKeyCommand({ MultiRegion: true, Description: 'orders' }))).KeyMetadata!;
      id = md.KeyId!;
      assert.match(id, /^mrk-[0-9a-f]{32}$/);
      assert.equal(md.MultiRegion, true);
      assert.deepEqual(md.MultiRegionConfiguration, { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: md.Arn, Region: 'us-east-1' }, ReplicaKeys: [] });
      const before = (await east.send(new EncryptCommand({ KeyId: id, Plaintext: pt, EncryptionContext: { o: '1' } }))).CiphertextBlob!;

      const rep = await east.send(new ReplicateKeyCommand({ KeyId: md.Arn, ReplicaRegion: 'eu-west-1', Tags: [{ TagKey: 't', TagValue: 'v' }] }));
      const westArn = `arn:aws:kms:eu-west-1:111122223333:key/${id}`;
      assert.equal(rep.ReplicaKeyMetadata!.Arn, westArn);
      // AWS: a replica's Description is the one given to ReplicateKey, empty by default (not the primary's).
      assert.equal(rep.ReplicaKeyMetadata!.Description, '');
      assert.equal(rep.ReplicaKeyMetadata!.MultiRegionConfiguration!.MultiRegionKeyType, 'REPLICA');
      assert.deepEqual(rep.ReplicaTags, [{ TagKey: 't', TagValue: 'v' }]);
      assert.ok(JSON.parse(rep.ReplicaPolicy!).Statement.length > 0);
      await rejectsWith(east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' })), 'AlreadyExistsException');
      await rejectsWith(east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'us-east-1' })), 'ValidationException');
      await rejectsWith(west.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'ap-south-1' })), 'UnsupportedOperationException');
      const emd = (await east.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
      assert.deepEqual(emd.MultiRegionConfiguration!.ReplicaKeys, [{ Arn: westArn, Region: 'eu-west-1' }]);
      const wmd = (await west.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
      assert.deepEqual(wmd.MultiRegionConfiguration, {
        MultiRegionKeyType: 'REPLICA',
        PrimaryKey: { Arn: md.Arn, Region: 'us-east-1' },
        ReplicaKeys: [{ Arn: westArn, Region: 'eu-west-1' }],
      });

      // Same material: each region decrypts the other's ciphertexts (with or without KeyId).
      assert.deepEqual([...(await west.send(new DecryptCommand({ CiphertextBlob: before, EncryptionContext: { o: '1' } }))).Plaintext!], [...pt]);
      const fromWest = (await west.send(new EncryptCommand({ KeyId: westArn, Plaintext: pt }))).CiphertextBlob!;
      assert.deepEqual([...(await east.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: fromWest }))).Plaintext!], [...pt]);

      // Rotation is the primary's and reaches the replica.
      await rejectsWith(west.send(new RotateKeyOnDemandCommand({ KeyId: id })), 'UnsupportedOperationException');
      await rejectsWith(west.send(new EnableKeyRotationCommand({ KeyId: id })), 'UnsupportedOperationException');
      await east.send(new RotateKeyOnDemandCommand({ KeyId: id }));
      const rotated = (await east.send(new EncryptCommand({ KeyId: id, Plaintext: pt }))).CiphertextBlob!;
      assert.deepEqual([...(await west.send(new DecryptCommand({ CiphertextBlob: rotated }))).Plaintext!], [...pt]);
      blobs = [before, fromWest, rotated];

      // Move the primary to eu-west-1.
      await rejectsWith(east.send(new UpdatePrimaryRegionCommand({ KeyId: id, PrimaryRegion: 'ap-south-1' })), 'NotFoundException');
      await rejectsWith(west.send(new UpdatePrimaryRegionCommand({ KeyId: id, PrimaryRegion: 'eu-west-1' })), 'UnsupportedOperationException');
      await east.send(new UpdatePrimaryRegionCommand({ KeyId: id, PrimaryRegion: 'eu-west-1' }));
      await west.send(new RotateKeyOnDemandCommand({ KeyId: id }));
      await rejectsWith(east.send(new RotateKeyOnDemandCommand({ KeyId: id })), 'UnsupportedOperationException');
      blobs.push((await west.send(new EncryptCommand({ KeyId: id, Plaintext: pt }))).CiphertextBlob!);
    } finally {
      await h.close();
    }
    h = await startHarness({ dataDir: dir });
    try {
      const east = h.clientFor({ region: 'us-east-1' });
      const west = h.clientFor({ region: 'eu-west-1' });
      const wmd = (await west.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
      assert.equal(wmd.MultiRegionConfiguration!.MultiRegionKeyType, 'PRIMARY');
      assert.deepEqual(wmd.MultiRegionConfiguration!.ReplicaKeys!.map((r) => r.Region), ['us-east-1']);
      assert.equal((await east.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.MultiRegionConfiguration!.MultiRegionKeyType, 'REPLICA');
      for (const b of blobs) {
        const ctx = b === blobs[0] ? { o: '1' } : undefined;
        assert.deepEqual([...(await east.send(new DecryptCommand({ CiphertextBlob: b, EncryptionContext: ctx }))).Plaintext!], [...pt]);
        assert.deepEqual([...(await west.send(new DecryptCommand({ CiphertextBlob: b, EncryptionContext: ctx }))).Plaintext!], [...pt]);
      }
    } finally {
      await h.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a primary with replicas waits for them (PendingReplicaDeletion), then its own window runs', async () => {
  const DAY = 86_400_000;
  let now = Date.UTC(2031, 0, 1);
  const h = await startHarness({ clock: () => now });
  try {
    const east = h.clientFor({ region: 'us-east-1' });
    const west = h.clientFor({ region: 'eu-west-1' });
    const id = (await east.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.KeyId!;
    await east.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
    const s = await east.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 10 }));
    assert.equal(s.KeyState, 'PendingReplicaDeletion');
    assert.equal(s.DeletionDate, undefined);
    const md = (await east.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    assert.equal(md.KeyState, 'PendingReplicaDeletion');
    assert.equal(md.DeletionDate, undefined);
    await rejectsWith(east.send(new EncryptCommand({ KeyId: id, Plaintext: pt })), 'KMSInvalidStateException');
    now += 60 * DAY;
    await west.send(new EncryptCommand({ KeyId: id, Plaintext: pt }));
    await west.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    now += 7 * DAY;
    await rejectsWith(west.send(new DescribeKeyCommand({ KeyId: id })), 'NotFoundException');
    const after = (await east.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    assert.equal(after.KeyState, 'PendingDeletion');
    assert.equal(after.DeletionDate!.getTime(), now + 10 * DAY);
    assert.deepEqual(after.MultiRegionConfiguration!.ReplicaKeys, []);
    now += 10 * DAY;
    await rejectsWith(east.send(new DescribeKeyCommand({ KeyId: id })), 'NotFoundException');
  } finally {
    await h.close();
  }
});

test('KmsKeyring with one multi-region key per region decrypts while either region is cut off', async () => {
  const h = await startHarness();
  try {
    const east = h.clientFor({ region: 'us-east-1' });
    const md = (await east.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!;
    const westArn = (await east.send(new ReplicateKeyCommand({ KeyId: md.KeyId, ReplicaRegion: 'eu-west-1' }))).ReplicaKeyMetadata!.Arn!;
    const down = new Set<string>();
    const calls: string[] = [];
    const clientFor = (region: string) =>
      new KmsClient({
        endpoint: h.server.url,
        region,
        auth: { ...h.server.credentials },
        retry: false,
        fetch: async (input, init) => {
          calls.push(region);
          if (down.has(region)) throw new TypeError(`fetch failed (${region} is unreachable)`);
          return fetch(input, init);
        },
      });
    const keyring = new KmsKeyring({
      client: clientFor('us-east-1'),
      keyId: md.Arn!,
      additionalKeyIds: [westArn],
      clients: { 'us-east-1': clientFor('us-east-1'), 'eu-west-1': clientFor('eu-west-1') },
    });
    const envelope = await encrypt(new TextEncoder().encode('disaster recovery'), { keyring, context: { app: 'orders' } });
    for (const region of ['us-east-1', 'eu-west-1']) {
      down.clear();
      down.add(region);
      calls.length = 0;
      const out = await decrypt(envelope, { keyring });
      assert.equal(new TextDecoder().decode(out.plaintext), 'disaster recovery');
      assert.ok(calls.includes(region === 'us-east-1' ? 'eu-west-1' : 'us-east-1'));
    }
    down.add('us-east-1');
    await assert.rejects(decrypt(envelope, { keyring }));
  } finally {
    await h.close();
  }
});
