// End to end in Node: encrypt/decrypt with KmsKeyring → KmsClient (JWT or SigV4) → proxy → local KMS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KmsClient } from '../../../src/sdk/client/kms-client.js';
import { KmsKeyring } from '../../../src/sdk/keyring/kms.js';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { envelopeHeadLength, rewrap } from '../../../src/sdk/envelope/rewrap.js';
import { DisableKeyCommand, EnableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { isSealboxError } from '../../../src/sdk/errors.js';
import { KEY_IDS, MACHINE, REGION, arn, auditRecords, startEnv, token, type Env } from './helpers.js';

let env: Env;
before(async () => {
  env = await startEnv();
});
after(() => env.close());

function clientFor(jwt: string, url = env.proxy.url): KmsClient {
  return new KmsClient({ endpoint: url, auth: () => ({ authorization: `Bearer ${jwt}` }), retry: { maxAttempts: 4, baseDelayMs: 20 } });
}

const text = new TextEncoder().encode('quarterly numbers, tenant a');

async function expectDenied(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => isSealboxError(e, 'ERR_ACCESS_DENIED') || (console.error(e), false));
}

describe('KmsKeyring through the proxy', () => {
  test('symmetric: uploader encrypts, reader decrypts, other tenant and uploader are denied', async () => {
    const uploader = clientFor(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }));
    const reader = clientFor(await token({ sub: 'ann', tenant: 'a', role: 'reader' }));
    const readerB = clientFor(await token({ sub: 'bob', tenant: 'b', role: 'reader' }));
    const envelope = await encrypt(text, { keyring: new KmsKeyring({ client: uploader, keyId: 'alias/tenant-a' }), context: { tenant: 'a' } });
    const out = await decrypt(envelope, { keyring: new KmsKeyring({ client: reader, keyId: 'alias/tenant-a' }) });
    assert.deepEqual(out.plaintext, text);
    await expectDenied(decrypt(envelope, { keyring: new KmsKeyring({ client: readerB, keyId: 'alias/tenant-a' }) }));
    const denial = auditRecords(env.audit).at(-1)!;
    assert.equal(denial.principal, 'jwt/bob');
    assert.equal(denial.outcome, 'deny');
    await expectDenied(decrypt(envelope, { keyring: new KmsKeyring({ client: uploader, keyId: 'alias/tenant-a' }) }));
    // Tenant B cannot encrypt under tenant A's context.
    const uploaderB = clientFor(await token({ sub: 'bea', tenant: 'b', role: 'uploader' }));
    await expectDenied(encrypt(text, { keyring: new KmsKeyring({ client: uploaderB, keyId: 'alias/tenant-a' }), context: { tenant: 'a' } }));
  });

  test('RSA: offline wrap; the proxy checks the commitment on unwrap; tenant B is denied', async () => {
    const uploader = clientFor(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }));
    const reader = clientFor(await token({ sub: 'ann', tenant: 'a', role: 'reader' }));
    const readerB = clientFor(await token({ sub: 'bob', tenant: 'b', role: 'reader' }));
    const keyring = (client: KmsClient) => new KmsKeyring({ client, keyId: 'alias/rsa-shared', keyTypes: { 'alias/rsa-shared': 'rsa' } });
    const envelope = await encrypt(text, { keyring: keyring(uploader), context: { tenant: 'a' } });
    const out = await decrypt(envelope, { keyring: keyring(reader) });
    assert.deepEqual(out.plaintext, text);
    const ok = auditRecords(env.audit).at(-1)!;
    assert.equal(ok.op, 'Decrypt');
    assert.deepEqual(ok.context, { tenant: 'a' });
    await expectDenied(decrypt(envelope, { keyring: keyring(readerB) }));
  });

  test('a SigV4 machine client works through the proxy', async () => {
    const machine = new KmsClient({ endpoint: env.proxy.url, region: REGION, auth: { accessKeyId: MACHINE.accessKeyId, secretAccessKey: MACHINE.secretAccessKey } });
    const keyring = new KmsKeyring({ client: machine, keyId: 'alias/tenant-b' });
    const envelope = await encrypt(text, { keyring, context: { tenant: 'b' } });
    assert.deepEqual((await decrypt(envelope, { keyring })).plaintext, text);
    assert.equal(auditRecords(env.audit).at(-1)!.principal, 'machine/batch');
  });

  test('throttling: the client backs off (Retry-After) and succeeds', async () => {
    // One token, then one every 2 s: the second message's GenerateDataKey is throttled (however slow
    // the machine), the client waits the Retry-After (2 s) and succeeds.
    const proxy = await env.extraProxy({ rateLimit: { capacity: 1, refillPerSecond: 0.5 } });
    const uploader = clientFor(await token({ sub: 'tom', tenant: 'a', role: 'uploader' }), proxy.url);
    const keyring = new KmsKeyring({ client: uploader, keyId: 'alias/tenant-a' });
    for (let i = 0; i < 2; i++) await encrypt(text, { keyring, context: { tenant: 'a' } });
    const throttled = auditRecords(env.audit).filter((r) => r.principal === 'jwt/tom' && r.errorType === 'ThrottlingException');
    assert.ok(throttled.length >= 1, 'at least one call was throttled');
    const allowed = auditRecords(env.audit).filter((r) => r.principal === 'jwt/tom' && r.outcome === 'allow');
    assert.equal(allowed.length, 2);
  });

  test('rewrap through the proxy (ReEncrypt by a machine): payload byte-identical, old key no longer needed', async () => {
    const uploader = clientFor(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }));
    const reader = clientFor(await token({ sub: 'ann', tenant: 'a', role: 'reader' }));
    const machine = new KmsClient({ endpoint: env.proxy.url, region: REGION, auth: { accessKeyId: MACHINE.accessKeyId, secretAccessKey: MACHINE.secretAccessKey } });
    const envelope = await encrypt(text, { keyring: new KmsKeyring({ client: uploader, keyId: 'alias/tenant-a' }), context: { tenant: 'a' } });
    const moved = await rewrap(envelope, { client: machine, destinationKeyId: 'alias/tenant-b' });
    const oldHead = envelopeHeadLength(envelope.subarray(0, 8));
    const newHead = envelopeHeadLength(moved.subarray(0, 8));
    assert.deepEqual(moved.subarray(newHead), envelope.subarray(oldHead));
    const re = auditRecords(env.audit).at(-1)!;
    assert.equal(re.op, 'ReEncrypt');
    assert.equal(re.keyId, arn(KEY_IDS.tenantB));
    // Disable the old key at the KMS: the rewrapped envelope still opens through the proxy.
    const direct = new KMSClient({ endpoint: env.kms.url, region: REGION, credentials: env.kms.credentials, maxAttempts: 1 });
    await direct.send(new DisableKeyCommand({ KeyId: KEY_IDS.tenantA }));
    try {
      const out = await decrypt(moved, { keyring: new KmsKeyring({ client: reader, keyId: 'alias/tenant-b' }) });
      assert.deepEqual(out.plaintext, text);
      await assert.rejects(decrypt(envelope, { keyring: new KmsKeyring({ client: reader, keyId: 'alias/tenant-a' }) }), (e: unknown) => isSealboxError(e, 'ERR_KEY_DISABLED'));
    } finally {
      await direct.send(new EnableKeyCommand({ KeyId: KEY_IDS.tenantA }));
      direct.destroy();
    }
  });
});
