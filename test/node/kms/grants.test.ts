// Grants: CreateGrant / ListGrants / ListRetirableGrants / RetireGrant / RevokeGrant through the
// AWS SDK. A grant lets its grantee do exactly its operations under its constraints, at once (with
// or without its token), and nothing after it is retired or revoked; grants survive a restart.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  ListGrantsCommand,
  ListRetirableGrantsCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
} from '@aws-sdk/client-kms';
import { rejectsWith, startHarness, tempDir } from './helpers.js';

const OWNER = { accessKeyId: 'AKIAOWNER0000000000', secretAccessKey: 'owner-secret', account: '111122223333', principalArn: 'arn:aws:iam::111122223333:user/owner' };
const APP = { accessKeyId: 'AKIAAPP00000000000A', secretAccessKey: 'app-secret', account: '444455556666', principalArn: 'arn:aws:iam::444455556666:role/app' };
const OPS = { accessKeyId: 'AKIAOPS00000000000A', secretAccessKey: 'ops-secret', account: '444455556666', principalArn: 'arn:aws:iam::444455556666:user/ops' };
const STRANGER = { accessKeyId: 'AKIASTRANGER000000A', secretAccessKey: 'x-secret', account: '777788889999', principalArn: 'arn:aws:iam::777788889999:user/x' };
const credentials = [OWNER, APP, OPS, STRANGER];
const pt = new Uint8Array([1, 2, 3]);

test('a grant allows exactly its operations under its constraints, until revoked', async () => {
  const h = await startHarness({ credentials });
  try {
    const owner = h.clientFor(OWNER);
    const app = h.clientFor(APP);
    const ops = h.clientFor(OPS);
    const md = (await owner.send(new CreateKeyCommand({}))).KeyMetadata!;
    await rejectsWith(app.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt, EncryptionContext: { tenant: 'a' } })), 'AccessDeniedException');

    const g = await owner.send(
      new CreateGrantCommand({
        KeyId: md.KeyId,
        GranteePrincipal: APP.principalArn,
        RetiringPrincipal: OPS.principalArn,
        Operations: ['Encrypt', 'Decrypt', 'DescribeKey'],
        Constraints: { EncryptionContextSubset: { tenant: 'a' } },
        Name: 'app-tenant-a',
      }),
    );
    assert.match(g.GrantId!, /^[0-9a-f]{64}$/);
    assert.ok(g.GrantToken && g.GrantToken.length > 20);

    // Usable at once, with the token and without it.
    const blob = (await app.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt, EncryptionContext: { tenant: 'a', doc: '1' }, GrantTokens: [g.GrantToken!] }))).CiphertextBlob!;
    const d = await app.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: blob, EncryptionContext: { tenant: 'a', doc: '1' } }));
    assert.deepEqual([...d.Plaintext!], [...pt]);
    // Without KeyId too: the blob names the key, found in the owner's account.
    const d2 = await app.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { tenant: 'a', doc: '1' } }));
    assert.equal(d2.KeyId, md.Arn);
    assert.equal((await app.send(new DescribeKeyCommand({ KeyId: md.Arn }))).KeyMetadata!.KeyId, md.KeyId);
    // Constraint: the context must contain tenant=a (DescribeKey is exempt, as at AWS).
    await rejectsWith(app.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt, EncryptionContext: { tenant: 'b' } })), 'AccessDeniedException');
    await rejectsWith(app.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt })), 'AccessDeniedException');
    // Only its operations.
    await rejectsWith(app.send(new GenerateDataKeyCommand({ KeyId: md.Arn, KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } })), 'AccessDeniedException');
    await rejectsWith(app.send(new ListGrantsCommand({ KeyId: md.Arn })), 'AccessDeniedException');
    // Only its grantee: another principal of the same account gets nothing.
    await rejectsWith(ops.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt, EncryptionContext: { tenant: 'a' } })), 'AccessDeniedException');
    // A malformed token is refused.
    await rejectsWith(app.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt, EncryptionContext: { tenant: 'a' }, GrantTokens: ['bm90LWEtdG9rZW4='] })), 'InvalidGrantTokenException');

    // Same name and parameters: the same grant (AWS's idempotency).
    const again = await owner.send(
      new CreateGrantCommand({
        KeyId: md.KeyId,
        GranteePrincipal: APP.principalArn,
        RetiringPrincipal: OPS.principalArn,
        Operations: ['Decrypt', 'Encrypt', 'DescribeKey'],
        Constraints: { EncryptionContextSubset: { tenant: 'a' } },
        Name: 'app-tenant-a',
      }),
    );
    assert.equal(again.GrantId, g.GrantId);

    const listed = await owner.send(new ListGrantsCommand({ KeyId: md.KeyId }));
    assert.equal(listed.Grants!.length, 1);
    const gr = listed.Grants![0]!;
    assert.equal(gr.GrantId, g.GrantId);
    assert.equal(gr.KeyId, md.Arn);
    assert.equal(gr.GranteePrincipal, APP.principalArn);
    assert.equal(gr.RetiringPrincipal, OPS.principalArn);
    assert.equal(gr.IssuingAccount, 'arn:aws:iam::111122223333:root');
    assert.equal(gr.Name, 'app-tenant-a');
    assert.deepEqual(gr.Operations, ['Encrypt', 'Decrypt', 'DescribeKey']);
    assert.deepEqual(gr.Constraints, { EncryptionContextSubset: { tenant: 'a' } });
    assert.ok(gr.CreationDate instanceof Date);
    assert.equal((await owner.send(new ListGrantsCommand({ KeyId: md.KeyId, GranteePrincipal: OPS.principalArn }))).Grants!.length, 0);

    await rejectsWith(owner.send(new RevokeGrantCommand({ KeyId: md.KeyId, GrantId: 'f'.repeat(64) })), 'InvalidGrantIdException');
    await rejectsWith(app.send(new RevokeGrantCommand({ KeyId: md.Arn, GrantId: g.GrantId! })), 'AccessDeniedException');
    await owner.send(new RevokeGrantCommand({ KeyId: md.KeyId, GrantId: g.GrantId! }));
    await rejectsWith(app.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt, EncryptionContext: { tenant: 'a' }, GrantTokens: [g.GrantToken!] })), 'AccessDeniedException');
    await rejectsWith(app.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: blob, EncryptionContext: { tenant: 'a', doc: '1' } })), 'AccessDeniedException');
    assert.deepEqual((await owner.send(new ListGrantsCommand({ KeyId: md.KeyId }))).Grants, []);
  } finally {
    await h.close();
  }
});

test('EncryptionContextEquals, retiring by token and by id, who may retire, validation', async () => {
  const h = await startHarness({ credentials });
  try {
    const owner = h.clientFor(OWNER);
    const app = h.clientFor(APP);
    const ops = h.clientFor(OPS);
    const stranger = h.clientFor(STRANGER);
    const md = (await owner.send(new CreateKeyCommand({}))).KeyMetadata!;
    const g1 = await owner.send(
      new CreateGrantCommand({
        KeyId: md.Arn,
        GranteePrincipal: APP.principalArn,
        RetiringPrincipal: OPS.principalArn,
        Operations: ['GenerateDataKey', 'Decrypt'],
        Constraints: { EncryptionContextEquals: { tenant: 'a' } },
      }),
    );
    const dk = await app.send(new GenerateDataKeyCommand({ KeyId: md.Arn, KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }));
    assert.equal(dk.Plaintext!.length, 32);
    await rejectsWith(app.send(new GenerateDataKeyCommand({ KeyId: md.Arn, KeySpec: 'AES_256', EncryptionContext: { tenant: 'a', x: 'y' } })), 'AccessDeniedException');

    // A second grant the grantee may retire itself.
    const g2 = await owner.send(new CreateGrantCommand({ KeyId: md.KeyId, GranteePrincipal: APP.principalArn, Operations: ['Encrypt', 'RetireGrant'] }));

    // ListRetirableGrants: grants whose retiring principal is OPS.
    const retirable = await ops.send(new ListRetirableGrantsCommand({ RetiringPrincipal: OPS.principalArn }));
    assert.deepEqual(retirable.Grants!.map((g) => g.GrantId), [g1.GrantId]);
    await rejectsWith(stranger.send(new ListRetirableGrantsCommand({ RetiringPrincipal: OPS.principalArn })), 'AccessDeniedException');

    // Retiring: a stranger may not; the retiring principal may, by token.
    await rejectsWith(stranger.send(new RetireGrantCommand({ GrantToken: g1.GrantToken! })), 'AccessDeniedException');
    await rejectsWith(ops.send(new RetireGrantCommand({ GrantToken: 'bm90LWEtdG9rZW4=' })), 'InvalidGrantTokenException');
    await ops.send(new RetireGrantCommand({ GrantToken: g1.GrantToken! }));
    await rejectsWith(app.send(new GenerateDataKeyCommand({ KeyId: md.Arn, KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } })), 'AccessDeniedException');
    await rejectsWith(ops.send(new RetireGrantCommand({ GrantToken: g1.GrantToken! })), 'NotFoundException');

    // The grantee retires g2 by key and id (the grant includes RetireGrant).
    await app.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt }));
    await rejectsWith(app.send(new RetireGrantCommand({ KeyId: md.Arn, GrantId: 'nope' })), 'InvalidGrantIdException');
    await app.send(new RetireGrantCommand({ KeyId: md.Arn, GrantId: g2.GrantId! }));
    await rejectsWith(app.send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt })), 'AccessDeniedException');

    // Validation as at AWS.
    await rejectsWith(owner.send(new CreateGrantCommand({ KeyId: md.KeyId, GranteePrincipal: APP.principalArn, Operations: [] })), 'ValidationException');
    await rejectsWith(owner.send(new CreateGrantCommand({ KeyId: md.KeyId, GranteePrincipal: APP.principalArn, Operations: ['Sign'] })), 'ValidationException');
    await rejectsWith(
      owner.send(new CreateGrantCommand({ KeyId: md.KeyId, GranteePrincipal: APP.principalArn, Operations: ['Bogus' as 'Sign'] })),
      'ValidationException',
    );
    const signing = (await owner.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!;
    await rejectsWith(
      owner.send(new CreateGrantCommand({ KeyId: signing.KeyId, GranteePrincipal: APP.principalArn, Operations: ['Sign'], Constraints: { EncryptionContextSubset: { a: 'b' } } })),
      'ValidationException',
    );
    await owner.send(new CreateGrantCommand({ KeyId: signing.KeyId, GranteePrincipal: APP.principalArn, Operations: ['Sign'] }));
    const sig = await app.send(new SignCommand({ KeyId: signing.Arn, Message: pt, SigningAlgorithm: 'ECDSA_SHA_256' }));
    assert.ok(sig.Signature!.length > 0);
    // The grantee may not create grants it was not given.
    await rejectsWith(app.send(new CreateGrantCommand({ KeyId: signing.Arn, GranteePrincipal: OPS.principalArn, Operations: ['Sign'] })), 'AccessDeniedException');
  } finally {
    await h.close();
  }
});

test('a grant with CreateGrant passes on only its operations under at least its constraints', async () => {
  const h = await startHarness({ credentials });
  try {
    const owner = h.clientFor(OWNER);
    const app = h.clientFor(APP);
    const ops = h.clientFor(OPS);
    const md = (await owner.send(new CreateKeyCommand({}))).KeyMetadata!;
    await owner.send(
      new CreateGrantCommand({ KeyId: md.KeyId, GranteePrincipal: APP.principalArn, Operations: ['Decrypt', 'CreateGrant'], Constraints: { EncryptionContextSubset: { tenant: 'a' } } }),
    );
    await rejectsWith(app.send(new CreateGrantCommand({ KeyId: md.Arn, GranteePrincipal: OPS.principalArn, Operations: ['Encrypt'], Constraints: { EncryptionContextSubset: { tenant: 'a' } } })), 'AccessDeniedException');
    await rejectsWith(app.send(new CreateGrantCommand({ KeyId: md.Arn, GranteePrincipal: OPS.principalArn, Operations: ['Decrypt'] })), 'AccessDeniedException');
    const sub = await app.send(
      new CreateGrantCommand({ KeyId: md.Arn, GranteePrincipal: OPS.principalArn, Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: { tenant: 'a', doc: '7' } } }),
    );
    assert.ok(sub.GrantId);
    const blob = (await owner.send(new EncryptCommand({ KeyId: md.KeyId, Plaintext: pt, EncryptionContext: { tenant: 'a', doc: '7' } }))).CiphertextBlob!;
    assert.deepEqual([...(await ops.send(new DecryptCommand({ KeyId: md.Arn, CiphertextBlob: blob, EncryptionContext: { tenant: 'a', doc: '7' } }))).Plaintext!], [...pt]);
  } finally {
    await h.close();
  }
});

test('grants survive a restart; revoked ones stay revoked; deleting the key drops its grants', async () => {
  const dir = await tempDir();
  try {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const clock = () => now;
    let h = await startHarness({ credentials, dataDir: dir, clock });
    let md;
    let kept;
    try {
      const owner = h.clientFor(OWNER);
      md = (await owner.send(new CreateKeyCommand({}))).KeyMetadata!;
      kept = await owner.send(
        new CreateGrantCommand({ KeyId: md.KeyId, GranteePrincipal: APP.principalArn, RetiringPrincipal: 'arn:aws:iam::111122223333:root', Operations: ['Encrypt'] }),
      );
      const gone = await owner.send(new CreateGrantCommand({ KeyId: md.KeyId, GranteePrincipal: OPS.principalArn, Operations: ['Encrypt'] }));
      await owner.send(new RevokeGrantCommand({ KeyId: md.KeyId, GrantId: gone.GrantId! }));
    } finally {
      await h.close();
    }
    h = await startHarness({ credentials, dataDir: dir, clock });
    try {
      const owner = h.clientFor(OWNER);
      await h.clientFor(APP).send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt, GrantTokens: [kept.GrantToken!] }));
      await rejectsWith(h.clientFor(OPS).send(new EncryptCommand({ KeyId: md.Arn, Plaintext: pt })), 'AccessDeniedException');
      assert.deepEqual((await owner.send(new ListGrantsCommand({ KeyId: md.KeyId }))).Grants!.map((g) => g.GrantId), [kept.GrantId]);
      const before = await owner.send(new ListRetirableGrantsCommand({ RetiringPrincipal: 'arn:aws:iam::111122223333:root' }));
      assert.deepEqual(before.Grants!.map((g) => g.GrantId), [kept.GrantId]);
      // The audit trail says which grant authorized the grantee's call.
      const audit = (await readFile(join(dir, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
      const used = audit.filter((r) => r.eventName === 'Encrypt' && r.outcome === 'success' && r.userIdentity?.arn === APP.principalArn);
      assert.equal(used.at(-1)?.requestParameters?.grantId, kept.GrantId);
      await owner.send(new ScheduleKeyDeletionCommand({ KeyId: md.KeyId, PendingWindowInDays: 7 }));
      now += 8 * 86_400_000;
      await rejectsWith(owner.send(new ListGrantsCommand({ KeyId: md.KeyId })), 'NotFoundException');
      const owners = await owner.send(new ListRetirableGrantsCommand({ RetiringPrincipal: 'arn:aws:iam::111122223333:root' }));
      assert.deepEqual(owners.Grants, []);
    } finally {
      await h.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
