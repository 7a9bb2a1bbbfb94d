/** rewrap through KMS ReEncrypt and through keyrings, against a real local KMS over HTTP. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DisableKeyCommand, EnableKeyCommand, RotateKeyOnDemandCommand } from '@aws-sdk/client-kms';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { inspect } from '../../../src/sdk/envelope/inspect.js';
import { envelopeHeadLength, rewrap, rewrapHeader } from '../../../src/sdk/envelope/rewrap.js';
import { DEFAULT_LIMITS } from '../../../src/sdk/format/constants.js';
import { parseEnvelopeHeader } from '../../../src/sdk/format/header.js';
import { KmsKeyring } from '../../../src/sdk/keyring/kms.js';
import { RawAesKeyring } from '../../../src/sdk/keyring/raw-aes.js';
import { RsaOaepKeyring } from '../../../src/sdk/keyring/rsa-oaep.js';
import type { Keyring } from '../../../src/sdk/keyring/types.js';
import { parseBlob } from '../../../src/node/kms/blob.js';
import { rejectsCode, startKms, type Kms } from '../client/helpers.js';

/** The bytes after the header (salt, commitment, chunks). */
function payload(envelope: Uint8Array): Uint8Array {
  return envelope.subarray(parseEnvelopeHeader(envelope, DEFAULT_LIMITS).headerLength);
}

describe('rewrap', () => {
  let kms: Kms;
  let a: string;
  let b: string;
  const data = new Uint8Array(randomBytes(100_000)); // several chunks
  const context = { tenant: 'acme', object: 'reports/q3.pdf' };
  before(async () => {
    kms = await startKms();
    a = await kms.createKey();
    b = await kms.createKey();
  });
  after(() => kms.close());

  const keyring = (keyId: string, more: Partial<ConstructorParameters<typeof KmsKeyring>[0]> = {}) => new KmsKeyring({ client: kms.client(), keyId, ...more });

  test('ReEncrypt to another key: payload byte-identical, the old key no longer needed', async () => {
    const envelope = await encrypt(data, { keyring: keyring(a), context });
    const client = kms.client();
    const before = kms.calls.length;
    const moved = await rewrap(envelope, { client, destinationKeyId: b });
    assert.deepEqual(kms.calls.slice(before), ['ReEncrypt']);
    assert.deepEqual(payload(moved), payload(envelope));
    const info = await inspect(moved);
    assert.deepEqual(info.recipients.map((r) => [r.type, r.keyId]), [['kms', b]]);
    assert.deepEqual(info.context, context);
    await kms.admin.send(new DisableKeyCommand({ KeyId: a }));
    try {
      // The commitment still holds: the same data key, the same protected header.
      assert.deepEqual((await decrypt(moved, { keyring: keyring(b) })).plaintext, data);
      await rejectsCode(decrypt(envelope, { keyring: keyring(a) }), 'ERR_KEY_DISABLED');
      await rejectsCode(decrypt(moved, { keyring: keyring(a) }), 'ERR_NO_KEYRING_MATCH');
    } finally {
      await kms.admin.send(new EnableKeyCommand({ KeyId: a }));
    }
  });

  test('rotation, then rewrap to the same key: the wrapped key moves to the newest version', async () => {
    const key = await kms.createKey();
    const envelope = await encrypt(data.subarray(0, 1000), { keyring: keyring(key), context });
    const version = (e: Uint8Array) => parseBlob(parseEnvelopeHeader(e, DEFAULT_LIMITS).recipients[0]!.wrappedKey)!.materialVersion;
    const v1 = version(envelope);
    await kms.admin.send(new RotateKeyOnDemandCommand({ KeyId: key }));
    const rotated = await rewrap(envelope, { client: kms.client(), destinationKeyId: key });
    assert.ok(version(rotated) > v1, `version ${version(rotated)} after ${v1}`);
    assert.deepEqual(payload(rotated), payload(envelope));
    assert.deepEqual((await decrypt(rotated, { keyring: keyring(key) })).plaintext, data.subarray(0, 1000));
  });

  test('ReEncrypt keeps other recipients and replaces only the source key', async () => {
    const c = await kms.createKey();
    const rsa = await kms.createKey('RSA_2048');
    const envelope = await encrypt(data.subarray(0, 10), { keyring: keyring(a, { additionalKeyIds: [b, rsa] }), context });
    const moved = await rewrap(envelope, { client: kms.client(), destinationKeyId: c, sourceKeyId: a });
    assert.deepEqual((await inspect(moved)).recipients.map((r) => [r.type, r.keyId]), [['kms', c], ['kms', b], ['rsa-oaep-256', rsa]]);
    for (const k of [c, b, rsa]) assert.equal((await decrypt(moved, { keyring: keyring(k) })).plaintext.length, 10);
    await rejectsCode(rewrap(envelope, { client: kms.client(), destinationKeyId: c, sourceKeyId: 'arn:aws:kms:us-east-1:111122223333:key/none' }), 'ERR_NO_KEYRING_MATCH');
  });

  test('a refused ReEncrypt keeps its code (destination disabled)', async () => {
    const d = await kms.createKey();
    await kms.admin.send(new DisableKeyCommand({ KeyId: d }));
    const envelope = await encrypt(data.subarray(0, 10), { keyring: keyring(a), context });
    await rejectsCode(rewrap(envelope, { client: kms.client(), destinationKeyId: d }), 'ERR_KEY_DISABLED');
  });

  test('rewrapHeader on just the head of a stored object; the store splices head and body', async () => {
    const envelope = await encrypt(data, { keyring: keyring(a), context });
    const headLength = envelopeHeadLength(envelope.subarray(0, 8));
    const head = envelope.slice(0, headLength); // what a ranged GET of the first bytes gives
    const newHead = await rewrapHeader(head, { client: kms.client(), destinationKeyId: b });
    const stored = new Uint8Array(newHead.length + envelope.length - headLength);
    stored.set(newHead, 0);
    stored.set(envelope.subarray(headLength), newHead.length);
    assert.deepEqual(payload(stored), payload(envelope));
    assert.deepEqual((await decrypt(stored, { keyring: keyring(b) })).plaintext, data);
    // Through keyrings as well (needs the salt and commitment, which the head includes).
    const viaKeyrings = await rewrapHeader(head, { keyring: keyring(a), newKeyring: keyring(b) });
    const stored2 = new Uint8Array([...viaKeyrings, ...envelope.subarray(headLength)]);
    assert.deepEqual((await decrypt(stored2, { keyring: keyring(b) })).plaintext, data);
    // Without them, the keyring way refuses.
    const prefixAndHeader = envelope.slice(0, headLength - 56);
    await rejectsCode(rewrapHeader(prefixAndHeader, { keyring: keyring(a), newKeyring: keyring(b) }), 'ERR_TRUNCATED');
    assert.ok((await rewrapHeader(prefixAndHeader, { client: kms.client(), destinationKeyId: b })).length > 0);
  });

  test('through keyrings: raw AES → KMS, then KMS → KMS with an RSA recovery key', async () => {
    const aes = new RawAesKeyring({ keyName: 'legacy', key: crypto.getRandomValues(new Uint8Array(32)) });
    const envelope = await encrypt(data, { keyring: aes, context });
    const before = kms.calls.length;
    const moved = await rewrap(envelope, { keyring: aes, newKeyring: keyring(a) });
    assert.deepEqual(kms.calls.slice(before), ['Encrypt']); // the given data key is wrapped, not a new one made
    assert.deepEqual(payload(moved), payload(envelope));
    assert.deepEqual((await inspect(moved)).recipients.map((r) => r.type), ['kms']);
    assert.deepEqual((await decrypt(moved, { keyring: keyring(a) })).plaintext, data);
    await rejectsCode(decrypt(moved, { keyring: aes }), 'ERR_NO_KEYRING_MATCH');

    const rsa = await kms.createKey('RSA_2048');
    const again = await rewrap(moved, { keyring: keyring(a), newKeyring: keyring(b, { additionalKeyIds: [rsa] }) });
    assert.deepEqual((await inspect(again)).recipients.map((r) => r.keyId), [b, rsa]);
    assert.deepEqual(payload(again), payload(envelope));
    assert.deepEqual((await decrypt(again, { keyring: keyring(rsa) })).plaintext, data);
  });

  test('through keyrings: a wrong key or a damaged commitment is caught before anything is wrapped', async () => {
    const aes = new RawAesKeyring({ keyName: 'k', key: crypto.getRandomValues(new Uint8Array(32)) });
    const envelope = await encrypt(data.subarray(0, 100), { keyring: aes, context });
    const damaged = envelope.slice();
    const hl = parseEnvelopeHeader(envelope, DEFAULT_LIMITS).headerLength;
    damaged[hl + 30]! ^= 1; // inside the commitment
    const before = kms.calls.length;
    await rejectsCode(rewrap(damaged, { keyring: aes, newKeyring: keyring(a) }), 'ERR_COMMITMENT');
    assert.equal(kms.calls.length, before);
  });

  test('through keyrings: a non-extractable RSA key is refused clearly; a decrypt-only private key works', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['encrypt', 'decrypt']);
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
    const envelope = await encrypt(data.subarray(0, 100), { keyring: new RsaOaepKeyring({ publicKey: pair.publicKey, keyId: 'recovery' }), context });
    const unwrapping = new RsaOaepKeyring({ privateKey: pkcs8, keyId: 'recovery' }); // imported with unwrapKey: a CryptoKey data key
    const err = await rejectsCode(rewrap(envelope, { keyring: unwrapping, newKeyring: keyring(a) }), 'ERR_UNSUPPORTED');
    assert.match(err.message, /decrypt/);
    const decryptOnly = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
    const moved = await rewrap(envelope, { keyring: new RsaOaepKeyring({ privateKey: decryptOnly, keyId: 'recovery' }), newKeyring: keyring(a) });
    assert.deepEqual((await decrypt(moved, { keyring: keyring(a) })).plaintext, data.subarray(0, 100));
  });

  test('a new keyring that ignores the given data key is refused', async () => {
    const aes = new RawAesKeyring({ keyName: 'k', key: crypto.getRandomValues(new Uint8Array(32)) });
    const envelope = await encrypt(data.subarray(0, 10), { keyring: aes, context });
    const rogue: Keyring = {
      wrapDataKey: async (r) => ({ dataKey: crypto.getRandomValues(new Uint8Array(32)), recipients: (await aes.wrapDataKey({ ...r, dataKey: undefined })).recipients }),
      unwrapDataKey: async () => undefined,
    };
    await rejectsCode(rewrap(envelope, { keyring: aes, newKeyring: rogue }), 'ERR_INVALID_ARGUMENT');
  });

  test('options are checked', async () => {
    const envelope = await encrypt(data.subarray(0, 10), { keyring: keyring(a) });
    await rejectsCode(rewrap(envelope, {} as never), 'ERR_INVALID_ARGUMENT');
    await rejectsCode(rewrap(envelope, { client: kms.client(), destinationKeyId: '' }), 'ERR_INVALID_ARGUMENT');
    await rejectsCode(rewrap('nope' as never, { client: kms.client(), destinationKeyId: b }), 'ERR_INVALID_ARGUMENT');
  });
});
