// Scheduled rotation: EnableKeyRotation's RotationPeriodInDays (90–2560, default 365), rotation when
// due by the injectable clock (on access, and at start for rotations that fell due while stopped),
// ListKeyRotations, no rotation while disabled, and AWS's refusals for keys that cannot rotate.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CreateKeyCommand,
  DecryptCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyRotationStatusCommand,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { rejectsWith, startHarness, tempDir } from './helpers.js';

const DAY = 86_400_000;

test('RotationPeriodInDays: default 365, bounds 90..2560; changing it counts from the last rotation', async () => {
  let now = Date.UTC(2031, 0, 1);
  const h = await startHarness({ clock: () => now });
  try {
    const id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await rejectsWith(h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 89 })), 'ValidationException');
    await rejectsWith(h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 2561 })), 'ValidationException');
    await h.client.send(new EnableKeyRotationCommand({ KeyId: id }));
    let s = await h.client.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    assert.equal(s.KeyRotationEnabled, true);
    assert.equal(s.RotationPeriodInDays, 365);
    assert.equal(s.NextRotationDate!.getTime(), now + 365 * DAY);
    now += 100 * DAY;
    // Shorter period while enabled: due 90 days after the key's creation, which has passed: rotates now.
    await h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    const r = await h.client.send(new ListKeyRotationsCommand({ KeyId: id }));
    assert.equal(r.Rotations!.length, 1);
    assert.equal(r.Rotations![0]!.RotationType, 'AUTOMATIC');
    assert.equal(r.Rotations![0]!.RotationDate!.getTime(), now);
    s = await h.client.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    assert.equal(s.RotationPeriodInDays, 90);
    assert.equal(s.NextRotationDate!.getTime(), now + 90 * DAY);
    // Longer period: counted from that rotation.
    now += 10 * DAY;
    await h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 2560 }));
    s = await h.client.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    assert.equal(s.NextRotationDate!.getTime(), now - 10 * DAY + 2560 * DAY);
  } finally {
    await h.close();
  }
});

test('ListKeyRotations lists automatic and on-demand rotations in order, paginated; every version decrypts', async () => {
  let now = Date.UTC(2031, 0, 1);
  const h = await startHarness({ clock: () => now });
  try {
    const id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const t0 = now;
    await h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    const blobs = [(await h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([0]) }))).CiphertextBlob!];
    now += 10 * DAY;
    await h.client.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    blobs.push((await h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([1]) }))).CiphertextBlob!);
    now += 85 * DAY; // on-demand rotation does not move the automatic schedule: due at t0 + 90 d
    blobs.push((await h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([2]) }))).CiphertextBlob!);
    const all = (await h.client.send(new ListKeyRotationsCommand({ KeyId: id }))).Rotations!;
    assert.deepEqual(
      all.map((r) => [r.RotationType, r.RotationDate!.getTime()]),
      [
        ['ON_DEMAND', t0 + 10 * DAY],
        ['AUTOMATIC', t0 + 90 * DAY],
      ],
    );
    assert.ok(all.every((r) => r.KeyMaterialId && r.KeyId!.endsWith(id)));
    const p1 = await h.client.send(new ListKeyRotationsCommand({ KeyId: id, Limit: 1 }));
    assert.equal(p1.Truncated, true);
    const p2 = await h.client.send(new ListKeyRotationsCommand({ KeyId: id, Limit: 1, Marker: p1.NextMarker! }));
    assert.equal(p2.Truncated, false);
    assert.equal(p2.Rotations![0]!.RotationType, 'AUTOMATIC');
    for (const [i, b] of blobs.entries()) assert.deepEqual([...(await h.client.send(new DecryptCommand({ CiphertextBlob: b }))).Plaintext!], [i]);
  } finally {
    await h.close();
  }
});

test('a disabled key does not rotate; enabled again, an overdue rotation happens then', async () => {
  let now = Date.UTC(2031, 0, 1);
  const h = await startHarness({ clock: () => now });
  try {
    const id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    await h.client.send(new DisableKeyCommand({ KeyId: id }));
    now += 200 * DAY;
    await rejectsWith(h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([1]) })), 'DisabledException');
    assert.deepEqual((await h.client.send(new ListKeyRotationsCommand({ KeyId: id }))).Rotations, []);
    await h.client.send(new EnableKeyCommand({ KeyId: id }));
    const r = (await h.client.send(new ListKeyRotationsCommand({ KeyId: id }))).Rotations!;
    assert.deepEqual(r.map((x) => [x.RotationType, x.RotationDate!.getTime()]), [['AUTOMATIC', now]]);
    assert.equal((await h.client.send(new GetKeyRotationStatusCommand({ KeyId: id }))).NextRotationDate!.getTime(), now + 90 * DAY);
  } finally {
    await h.close();
  }
});

test('a rotation that fell due while the KMS was stopped happens at start, before any request', async () => {
  const dir = await tempDir();
  try {
    let now = Date.UTC(2031, 0, 1);
    let h = await startHarness({ dataDir: dir, clock: () => now });
    let id: string;
    try {
      id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      await h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    } finally {
      await h.close();
    }
    const file = join(dir, 'keys', 'us-east-1', '111122223333', `${id}.key`);
    const before = await readFile(file, 'utf8');
    now += 30 * DAY;
    h = await startHarness({ dataDir: dir, clock: () => now });
    await h.close();
    assert.equal(await readFile(file, 'utf8'), before, 'nothing due: the key file is untouched');
    const due = now - 30 * DAY + 90 * DAY;
    now += 61 * DAY;
    h = await startHarness({ dataDir: dir, clock: () => now });
    try {
      assert.notEqual(await readFile(file, 'utf8'), before, 'the key was rotated (and rewritten) at start');
      const r = (await h.client.send(new ListKeyRotationsCommand({ KeyId: id }))).Rotations!;
      assert.deepEqual(r.map((x) => [x.RotationType, x.RotationDate!.getTime()]), [['AUTOMATIC', due]]);
    } finally {
      await h.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('imported-material, asymmetric and HMAC keys never rotate (UnsupportedOperationException, as at AWS)', async () => {
  const h = await startHarness();
  try {
    const keys = [
      (await h.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!,
      (await h.client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!,
      (await h.client.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!,
    ];
    for (const [i, id] of keys.entries()) {
      // The imported key is PendingImport until material arrives: KMSInvalidStateException first, as at AWS.
      await rejectsWith(h.client.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 })), i === 0 ? 'KMSInvalidStateException' : 'UnsupportedOperationException');
      await rejectsWith(h.client.send(new RotateKeyOnDemandCommand({ KeyId: id })), i === 0 ? 'KMSInvalidStateException' : 'UnsupportedOperationException');
      if (i > 0) await rejectsWith(h.client.send(new ListKeyRotationsCommand({ KeyId: id })), 'UnsupportedOperationException');
    }
  } finally {
    await h.close();
  }
});
