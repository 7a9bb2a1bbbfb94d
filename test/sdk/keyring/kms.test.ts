/** KmsKeyring round trips against a real local KMS over HTTP (symmetric, additional keys, RSA, regions). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DisableKeyCommand, EnableKeyCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { inspect } from '../../../src/sdk/envelope/inspect.js';
import { DEFAULT_LIMITS } from '../../../src/sdk/format/constants.js';
import { parseEnvelopeHeader } from '../../../src/sdk/format/header.js';
import { KmsKeyring } from '../../../src/sdk/keyring/kms.js';
import { MultiKeyring } from '../../../src/sdk/keyring/multi.js';
import { RawAesKeyring } from '../../../src/sdk/keyring/raw-aes.js';
import { rejectsCode, startKms, type Kms } from '../client/helpers.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('KmsKeyring against the local KMS', () => {
  let kms: Kms;
  let a: string;
  let b: string;
  let rsa: string;
  before(async () => {
    kms = await startKms();
    a = await kms.createKey();
    b = await kms.createKey();
    rsa = await kms.createKey('RSA_2048');
    await kms.createAlias('alias/a', a);
  });
  after(() => kms.close());

  test('symmetric: GenerateDataKey with the context; recipient = the key ARN; Decrypt back', async () => {
    const client = kms.client();
    const keyring = new KmsKeyring({ client, keyId: 'alias/a' });
    const context = { tenant: 'acme', doc: '42' };
    const before = kms.calls.length;
    const envelope = await encrypt(text('hello kms'), { keyring, context });
    assert.deepEqual(kms.calls.slice(before), ['GenerateDataKey']);
    const info = await inspect(envelope);
    assert.deepEqual(info.recipients.map((r) => [r.type, r.keyId]), [['kms', a]]);
    assert.deepEqual(info.context, context);
    const out = await decrypt(envelope, { keyring });
    assert.equal(new TextDecoder().decode(out.plaintext), 'hello kms');
    // A keyring configured with the alias resolves it (DescribeKey, learned from GenerateDataKey here).
    const fresh = new KmsKeyring({ client: kms.client(), keyId: 'alias/a' });
    assert.equal(new TextDecoder().decode((await decrypt(envelope, { keyring: fresh })).plaintext), 'hello kms');
    // By bare key id too.
    const bare = new KmsKeyring({ client, keyId: a.split('/').pop()! });
    assert.equal((await decrypt(envelope, { keyring: bare })).plaintext.length, 9);
  });

  test('additional keys: one GenerateDataKey, one Encrypt each; any one key decrypts', async () => {
    const keyring = new KmsKeyring({ client: kms.client(), keyId: a, additionalKeyIds: [b] });
    const before = kms.calls.length;
    const envelope = await encrypt(text('two keys'), { keyring, context: { k: 'v' } });
    assert.deepEqual(kms.calls.slice(before).sort(), ['Encrypt', 'GenerateDataKey']);
    assert.deepEqual((await inspect(envelope)).recipients.map((r) => r.keyId), [a, b]);
    const onlyB = new KmsKeyring({ client: kms.client(), keyId: b });
    assert.equal((await decrypt(envelope, { keyring: onlyB })).plaintext.length, 8);
    // With a disabled, the keyring that has both falls back to b.
    await kms.admin.send(new DisableKeyCommand({ KeyId: a }));
    try {
      assert.equal((await decrypt(envelope, { keyring })).plaintext.length, 8);
      // One candidate refused: its own code.
      const onlyA = new KmsKeyring({ client: kms.client(), keyId: a });
      const err = await rejectsCode(decrypt(envelope, { keyring: onlyA }), 'ERR_KEY_DISABLED');
      assert.match(err.requestId!, /^[0-9a-f-]{36}$/);
    } finally {
      await kms.admin.send(new EnableKeyCommand({ KeyId: a }));
    }
  });

  test('a keyring for other keys does not claim the envelope (ERR_NO_KEYRING_MATCH, no KMS call)', async () => {
    const envelope = await encrypt(text('x'), { keyring: new KmsKeyring({ client: kms.client(), keyId: a }) });
    const before = kms.calls.length;
    await rejectsCode(decrypt(envelope, { keyring: new KmsKeyring({ client: kms.client(), keyId: b }) }), 'ERR_NO_KEYRING_MATCH');
    assert.equal(kms.calls.length, before);
  });

  test('several refusals with different causes → ERR_NO_KEYRING_MATCH naming each', async () => {
    const c = await kms.createKey();
    const envelope = await encrypt(text('x'), { keyring: new KmsKeyring({ client: kms.client(), keyId: a, additionalKeyIds: [c] }) });
    await kms.admin.send(new DisableKeyCommand({ KeyId: a }));
    const { ScheduleKeyDeletionCommand } = await import('@aws-sdk/client-kms');
    await kms.admin.send(new ScheduleKeyDeletionCommand({ KeyId: c, PendingWindowInDays: 7 }));
    try {
      const err = await rejectsCode(decrypt(envelope, { keyring: new KmsKeyring({ client: kms.client(), keyId: a, additionalKeyIds: [c] }) }), 'ERR_NO_KEYRING_MATCH');
      assert.match(err.message, /DisabledException/);
      assert.match(err.message, /KMSInvalidStateException/);
    } finally {
      await kms.admin.send(new EnableKeyCommand({ KeyId: a }));
    }
  });

  test('RSA key: GetPublicKey once, wrap offline (type 2, keyId = ARN), unwrap with Decrypt RSAES_OAEP_SHA_256', async () => {
    const client = kms.client();
    const keyring = new KmsKeyring({ client, keyId: rsa });
    const before = kms.calls.length;
    const envelopes = [];
    for (let i = 0; i < 5; i++) envelopes.push(await encrypt(text(`rsa ${i}`), { keyring, context: { n: String(i) } }));
    // Detection: one GenerateDataKey refused (InvalidKeyUsageException), one GetPublicKey; then offline.
    assert.deepEqual(kms.calls.slice(before), ['GenerateDataKey', 'GetPublicKey']);
    const info = await inspect(envelopes[0]!);
    assert.deepEqual(info.recipients.map((r) => [r.type, r.keyId, r.wrappedKeyLength]), [['rsa-oaep-256', rsa, 256]]);
    const mid = kms.calls.length;
    for (let i = 0; i < 5; i++) assert.equal(new TextDecoder().decode((await decrypt(envelopes[i]!, { keyring })).plaintext), `rsa ${i}`);
    assert.deepEqual(kms.calls.slice(mid), Array(5).fill('Decrypt'));
  });

  test('RSA key declared in keyTypes: no detection call', async () => {
    const keyring = new KmsKeyring({ client: kms.client(), keyId: rsa, keyTypes: { [rsa]: 'rsa' } });
    const before = kms.calls.length;
    await encrypt(text('x'), { keyring });
    await encrypt(text('y'), { keyring });
    assert.deepEqual(kms.calls.slice(before), ['GetPublicKey']);
  });

  test('symmetric generator plus an RSA recovery key; each decrypts alone', async () => {
    const keyring = new KmsKeyring({ client: kms.client(), keyId: a, additionalKeyIds: [rsa] });
    const envelope = await encrypt(text('mixed'), { keyring, context: { t: '1' } });
    assert.deepEqual((await inspect(envelope)).recipients.map((r) => r.type), ['kms', 'rsa-oaep-256']);
    for (const keyId of [a, rsa]) {
      assert.equal((await decrypt(envelope, { keyring: new KmsKeyring({ client: kms.client(), keyId }) })).plaintext.length, 5);
    }
  });

  test('RSA generator wraps a random key; a symmetric additional key wraps the same key with Encrypt', async () => {
    const keyring = new KmsKeyring({ client: kms.client(), keyId: rsa, additionalKeyIds: [b], keyTypes: { [rsa]: 'rsa' } });
    const envelope = await encrypt(text('rsa first'), { keyring, context: { t: '2' } });
    assert.deepEqual((await inspect(envelope)).recipients.map((r) => [r.type, r.keyId]), [['rsa-oaep-256', rsa], ['kms', b]]);
    assert.equal((await decrypt(envelope, { keyring: new KmsKeyring({ client: kms.client(), keyId: b }) })).plaintext.length, 9);
  });

  test('in a MultiKeyring: a raw AES generator, KMS as the other keyring (wraps the given key with Encrypt)', async () => {
    const aes = new RawAesKeyring({ keyName: 'local', key: crypto.getRandomValues(new Uint8Array(32)) });
    const multi = new MultiKeyring({ generator: aes, others: [new KmsKeyring({ client: kms.client(), keyId: a })] });
    const before = kms.calls.length;
    const envelope = await encrypt(text('multi'), { keyring: multi, context: { m: '1' } });
    assert.deepEqual(kms.calls.slice(before), ['Encrypt']);
    assert.equal((await decrypt(envelope, { keyring: new KmsKeyring({ client: kms.client(), keyId: a }) })).plaintext.length, 5);
  });

  test('keys in two regions, each with its own client; the other region decrypts when one fails', async () => {
    const west = await kms.createKey('SYMMETRIC_DEFAULT', 'eu-west-1');
    assert.match(west, /^arn:aws:kms:eu-west-1:/);
    const westClient = kms.client({ region: 'eu-west-1' });
    const keyring = new KmsKeyring({ client: kms.client(), keyId: a, additionalKeyIds: [west], clients: { 'eu-west-1': westClient } });
    const envelope = await encrypt(text('regions'), { keyring, context: { r: '2' } });
    assert.deepEqual((await inspect(envelope)).recipients.map((r) => r.keyId), [a, west]);
    await kms.admin.send(new DisableKeyCommand({ KeyId: a }));
    try {
      assert.equal((await decrypt(envelope, { keyring })).plaintext.length, 7);
    } finally {
      await kms.admin.send(new EnableKeyCommand({ KeyId: a }));
    }
  });

  test('a refused GenerateDataKey surfaces with its code', async () => {
    await rejectsCode(encrypt(text('x'), { keyring: new KmsKeyring({ client: kms.client(), keyId: 'alias/none' }) }), 'ERR_NOT_FOUND');
  });
  test('aliases: RSA resolved with GetPublicKey; without DescribeKey permission the alias is sent to Decrypt', async () => {
    await kms.createAlias('alias/rsa', rsa);
    const enc = new KmsKeyring({ client: kms.client(), keyId: 'alias/rsa', keyTypes: { 'alias/rsa': 'rsa' } });
    const envelope = await encrypt(text('rsa alias'), { keyring: enc });
    assert.equal((await inspect(envelope)).recipients[0]!.keyId, rsa);
    const before = kms.calls.length;
    await decrypt(envelope, { keyring: new KmsKeyring({ client: kms.client(), keyId: 'alias/rsa', keyTypes: { 'alias/rsa': 'rsa' } }) });
    assert.deepEqual(kms.calls.slice(before), ['GetPublicKey', 'Decrypt']);

    const guarded = await kms.createKey();
    await kms.createAlias('alias/guarded', guarded);
    const policy = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${kms.server.account}:root` }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Principal: '*', Action: 'kms:DescribeKey', Resource: '*' },
      ],
    };
    await kms.admin.send(new PutKeyPolicyCommand({ KeyId: guarded, PolicyName: 'default', Policy: JSON.stringify(policy), BypassPolicyLockoutSafetyCheck: true }));
    const sym = await encrypt(text('guarded'), { keyring: new KmsKeyring({ client: kms.client(), keyId: guarded }), context: { g: '1' } });
    const mid = kms.calls.length;
    const out = await decrypt(sym, { keyring: new KmsKeyring({ client: kms.client(), keyId: 'alias/guarded' }) });
    assert.equal(new TextDecoder().decode(out.plaintext), 'guarded');
    assert.deepEqual(kms.calls.slice(mid), ['DescribeKey', 'Decrypt']);
    // The KMS still checks that the alias names the ciphertext's key (here: a symmetric key for an RSA recipient).
    const refused = await rejectsCode(decrypt(envelope, { keyring: new KmsKeyring({ client: kms.client(), keyId: 'alias/guarded' }) }), 'ERR_KMS');
    assert.equal(refused.kmsErrorType, 'InvalidKeyUsageException');
  });
  test('RSA unwrap sends exactly the agreed SealboxEnvelope: protected header bytes, salt, commitment', async () => {
    const bodies: Record<string, unknown>[] = [];
    const capture: typeof fetch = async (input, init) => {
      if (new Headers(init?.headers).get('x-amz-target') === 'TrentService.Decrypt') bodies.push(JSON.parse(String(init?.body)));
      return fetch(input, init);
    };
    const keyring = new KmsKeyring({ client: kms.client({ fetch: capture }), keyId: rsa, keyTypes: { [rsa]: 'rsa' } });
    const envelope = await encrypt(text('wire'), { keyring, context: { tenant: 'acme' } });
    await decrypt(envelope, { keyring });
    const parsed = parseEnvelopeHeader(envelope, DEFAULT_LIMITS);
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    const hl = parsed.headerLength;
    assert.deepEqual(bodies, [
      {
        KeyId: rsa,
        CiphertextBlob: b64(parsed.recipients[0]!.wrappedKey),
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        SealboxEnvelope: { Protected: b64(parsed.protectedBytes), Salt: b64(envelope.subarray(hl, hl + 24)), Commitment: b64(envelope.subarray(hl + 24, hl + 56)) },
      },
    ]);
  });
});
