/** CachingKeyring: counts real KMS calls reaching a local KMS over HTTP. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DisableKeyCommand, EnableKeyCommand } from '@aws-sdk/client-kms';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { EncryptStream } from '../../../src/sdk/stream/encrypt-stream.js';
import { CachingKeyring } from '../../../src/sdk/keyring/caching.js';
import { KmsKeyring } from '../../../src/sdk/keyring/kms.js';
import { DEFAULT_LIMITS } from '../../../src/sdk/format/constants.js';
import { parseEnvelopeHeader } from '../../../src/sdk/format/header.js';
import { rejectsCode, startKms, type Kms } from '../client/helpers.js';

const text = (s: string) => new TextEncoder().encode(s);

async function streamEncrypt(data: Uint8Array, options: ConstructorParameters<typeof EncryptStream>[0]): Promise<Uint8Array> {
  const out = await new Response(new Blob([data as BufferSource]).stream().pipeThrough(new EncryptStream(options))).arrayBuffer();
  return new Uint8Array(out);
}

describe('CachingKeyring', () => {
  let kms: Kms;
  let key: string;
  before(async () => {
    kms = await startKms();
    key = await kms.createKey();
  });
  after(() => kms.close());

  test('1,000 messages with maxMessages 100 make exactly 10 GenerateDataKey calls; decrypt makes 10 Decrypt calls', async () => {
    const cache = new CachingKeyring({ keyring: new KmsKeyring({ client: kms.client(), keyId: key }), maxAge: 60_000, maxMessages: 100, capacity: 10 });
    const start = kms.calls.length;
    const envelopes: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) envelopes.push(await encrypt(text(`message ${i}`), { keyring: cache, context: { tenant: 'acme' } }));
    assert.equal(kms.calls.length - start, 10);
    assert.equal(kms.count('GenerateDataKey'), 10);
    // The per-message salt keeps every message's keys distinct: all commitments differ.
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const split = envelopes.map((e) => {
      const { headerLength } = parseEnvelopeHeader(e, DEFAULT_LIMITS);
      return { header: hex(e.subarray(0, headerLength)), commitment: hex(e.subarray(headerLength + 24, headerLength + 56)) };
    });
    assert.equal(new Set(split.map((s) => s.header)).size, 10, 'ten data keys, so ten distinct headers');
    assert.equal(new Set(split.map((s) => s.commitment)).size, 1000, 'every message has its own keys');
    const reader = new CachingKeyring({ keyring: new KmsKeyring({ client: kms.client(), keyId: key }), maxAge: 60_000 });
    const before = kms.count('Decrypt');
    for (let i = 0; i < 1000; i++) assert.equal(new TextDecoder().decode((await decrypt(envelopes[i]!, { keyring: reader })).plaintext), `message ${i}`);
    assert.equal(kms.count('Decrypt') - before, 10);
  });

  test('concurrent encryptions share one pending GenerateDataKey', async () => {
    const cache = new CachingKeyring({ keyring: new KmsKeyring({ client: kms.client(), keyId: key }), maxAge: 60_000, maxMessages: 100 });
    const before = kms.count('GenerateDataKey');
    const envelopes = await Promise.all(Array.from({ length: 300 }, (_, i) => encrypt(text(`c${i}`), { keyring: cache, context: { c: '1' } })));
    assert.equal(kms.count('GenerateDataKey') - before, 3);
    const plain = new KmsKeyring({ client: kms.client(), keyId: key });
    for (const e of envelopes.slice(0, 5)) await decrypt(e, { keyring: plain });
  });

  test('maxAge, maxBytes and contexts bound the reuse', async () => {
    let now = 1_000;
    const cache = new CachingKeyring({ keyring: new KmsKeyring({ client: kms.client(), keyId: key }), maxAge: 500, maxBytes: 1000, now: () => now });
    const calls = () => kms.count('GenerateDataKey');
    const start = calls();
    await encrypt(new Uint8Array(400), { keyring: cache, context: { a: '1' } });
    await encrypt(new Uint8Array(400), { keyring: cache, context: { a: '1' } });
    assert.equal(calls() - start, 1);
    await encrypt(new Uint8Array(400), { keyring: cache, context: { a: '1' } }); // 1200 > 1000 bytes
    assert.equal(calls() - start, 2);
    await encrypt(new Uint8Array(10), { keyring: cache, context: { a: '2' } }); // another context
    assert.equal(calls() - start, 3);
    now += 499;
    await encrypt(new Uint8Array(10), { keyring: cache, context: { a: '2' } });
    assert.equal(calls() - start, 3);
    now += 1;
    await encrypt(new Uint8Array(10), { keyring: cache, context: { a: '2' } }); // expired
    assert.equal(calls() - start, 4);
    await encrypt(new Uint8Array(2000), { keyring: cache, context: { a: '2' } }); // longer than maxBytes: bypass
    assert.equal(calls() - start, 5);
    await encrypt(new Uint8Array(10), { keyring: cache, context: { a: '2' } }); // the cached key is still there
    assert.equal(calls() - start, 5);
  });

  test('a stream (unknown length) bypasses the cache when maxBytes is finite, uses it otherwise', async () => {
    const bounded = new CachingKeyring({ keyring: new KmsKeyring({ client: kms.client(), keyId: key }), maxAge: 60_000, maxBytes: 1 << 20 });
    const start = kms.count('GenerateDataKey');
    for (let i = 0; i < 3; i++) await streamEncrypt(text('stream'), { keyring: bounded, context: { s: '1' } });
    assert.equal(kms.count('GenerateDataKey') - start, 3);
    const unbounded = new CachingKeyring({ keyring: new KmsKeyring({ client: kms.client(), keyId: key }), maxAge: 60_000, maxMessages: 10 });
    const mid = kms.count('GenerateDataKey');
    const envelopes = [];
    for (let i = 0; i < 3; i++) envelopes.push(await streamEncrypt(text(`stream ${i}`), { keyring: unbounded, context: { s: '1' } }));
    assert.equal(kms.count('GenerateDataKey') - mid, 1);
    for (const e of envelopes) await decrypt(e, { keyring: unbounded });
  });

  test('capacity: least recently used context is evicted', async () => {
    const cache = new CachingKeyring({ keyring: new KmsKeyring({ client: kms.client(), keyId: key }), maxAge: 60_000, capacity: 2 });
    const start = kms.count('GenerateDataKey');
    const enc = (c: string) => encrypt(text('x'), { keyring: cache, context: { c } });
    await enc('a');
    await enc('b');
    await enc('a'); // hit; a is now most recent
    await enc('c'); // evicts b
    assert.equal(kms.count('GenerateDataKey') - start, 3);
    await enc('a'); // still cached
    assert.equal(kms.count('GenerateDataKey') - start, 3);
    await enc('b'); // was evicted
    assert.equal(kms.count('GenerateDataKey') - start, 4);
  });

  test('decrypt cache has a TTL: a disabled key keeps working from the cache until maxAge, then fails', async () => {
    const own = await kms.createKey();
    let now = 0;
    const cache = new CachingKeyring({ keyring: new KmsKeyring({ client: kms.client(), keyId: own }), maxAge: 1000, now: () => now });
    const envelope = await encrypt(text('ttl'), { keyring: new KmsKeyring({ client: kms.client(), keyId: own }) });
    await decrypt(envelope, { keyring: cache });
    await kms.admin.send(new DisableKeyCommand({ KeyId: own }));
    try {
      now = 999;
      await decrypt(envelope, { keyring: cache });
      now = 1000;
      await rejectsCode(decrypt(envelope, { keyring: cache }), 'ERR_KEY_DISABLED');
    } finally {
      await kms.admin.send(new EnableKeyCommand({ KeyId: own }));
    }
  });

  test('options are checked', () => {
    const keyring = new KmsKeyring({ client: kms.client(), keyId: key });
    assert.throws(() => new CachingKeyring({ keyring, maxAge: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => new CachingKeyring({ keyring, maxAge: 1, maxMessages: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => new CachingKeyring({ keyring: {} as never, maxAge: 1 }), { code: 'ERR_INVALID_ARGUMENT' });
  });
});
