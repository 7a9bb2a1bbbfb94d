/** One-shot round trips through every keyring, at chunk boundaries, with contexts and options. */
import { parseEnvelopeHeader } from '../../src/sdk/format/header.js';
import { DEFAULT_LIMITS, MultiKeyring, RawAesKeyring, RsaOaepKeyring, decrypt, encrypt, inspect } from '../../src/index.js';
import { type TestCase, bytesEqual, deepEqual, equal, ok, pattern, rejectsWith } from './harness.js';
import { AES_KEY, AES_KEY_2, AES_KEY_NAME, AES_KEY_NAME_2, rsaTestPair } from './keys.js';

const C = 16384;
const aes = () => new RawAesKeyring({ keyName: AES_KEY_NAME, key: AES_KEY });

export const roundtripCases: TestCase[] = [
  {
    name: 'round trip: sizes around chunk boundaries (0, 1, c-1, c, c+1, 3c, 3c+5) with a raw AES key',
    async run() {
      for (const size of [0, 1, C - 1, C, C + 1, 3 * C, 3 * C + 5]) {
        const plaintext = pattern(size, size + 1);
        const envelope = await encrypt(plaintext, { keyring: aes() });
        const result = await decrypt(envelope, { keyring: aes() });
        bytesEqual(result.plaintext, plaintext, `size ${size}`);
      }
    },
  },
  {
    name: 'round trip: RSA-OAEP keyring, PEM and DER, encrypt with public only, decrypt with private only',
    async run() {
      const pair = await rsaTestPair();
      const pem = (label: string, der: Uint8Array) =>
        `-----BEGIN ${label}-----\n${btoa(String.fromCharCode(...der)).replace(/(.{64})/g, '$1\n')}\n-----END ${label}-----\n`;
      const plaintext = pattern(40000, 7);
      const envelope = await encrypt(plaintext, { keyring: new RsaOaepKeyring({ publicKey: pem('PUBLIC KEY', pair.publicKey) }), context: { tenant: 'a' } });
      const result = await decrypt(envelope, { keyring: new RsaOaepKeyring({ privateKey: pair.privateKey }) });
      bytesEqual(result.plaintext, plaintext);
      deepEqual(result.context, { tenant: 'a' });
      const info = await inspect(envelope);
      equal(info.recipients[0]!.type, 'rsa-oaep-256');
      ok(info.recipients[0]!.keyId.startsWith('sha256:'), 'default RSA key id is the SPKI fingerprint');
    },
  },
  {
    name: 'round trip: a CryptoKey private key unwraps the data key into a non-extractable key',
    async run() {
      const pair = await rsaTestPair();
      const privateKey = await crypto.subtle.importKey('pkcs8', pair.privateKey as BufferSource, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['unwrapKey']);
      const envelope = await encrypt(pattern(100), { keyring: new RsaOaepKeyring({ publicKey: pair.publicKey, keyId: 'rsa-1' }) });
      const keyring = new RsaOaepKeyring({ privateKey, keyId: 'rsa-1' });
      const dataKey = await keyring.unwrapDataKey({ context: {}, headerAad: new Uint8Array(0), recipients: parseEnvelopeHeader(envelope, DEFAULT_LIMITS).recipients, salt: new Uint8Array(24), commitment: new Uint8Array(32) });
      ok(dataKey && !(dataKey instanceof Uint8Array), 'the data key is a CryptoKey');
      equal((dataKey as CryptoKey).extractable, false, 'extractable');
      bytesEqual((await decrypt(envelope, { keyring })).plaintext, pattern(100));
    },
  },
  {
    name: 'round trip: multi-keyring, any one recipient decrypts; order of recipients kept',
    async run() {
      const pair = await rsaTestPair();
      const keyring = new MultiKeyring({
        generator: aes(),
        others: [new RawAesKeyring({ keyName: AES_KEY_NAME_2, key: AES_KEY_2 }), new RsaOaepKeyring({ publicKey: pair.publicKey, keyId: 'recovery' })],
      });
      const plaintext = pattern(C * 2 + 3, 3);
      const envelope = await encrypt(plaintext, { keyring, context: { purpose: 'multi' } });
      const info = await inspect(envelope);
      deepEqual(info.recipients.map((r) => r.keyId), [AES_KEY_NAME, AES_KEY_NAME_2, 'recovery']);
      for (const single of [aes(), new RawAesKeyring({ keyName: AES_KEY_NAME_2, key: AES_KEY_2 }), new RsaOaepKeyring({ privateKey: pair.privateKey, keyId: 'recovery' })]) {
        bytesEqual((await decrypt(envelope, { keyring: single })).plaintext, plaintext);
      }
    },
  },
  {
    name: 'round trip: unicode context, non-default chunk sizes, inspect needs no key',
    async run() {
      const context = { 'tenant': 'acme', 'ファイル': 'résumé 📄', 'a': '' };
      for (const chunkSize of [C, 65536, 4 * 1024 * 1024]) {
        const plaintext = pattern(chunkSize + 10, 9);
        const envelope = await encrypt(plaintext, { keyring: aes(), context, chunkSize });
        const info = await inspect(envelope);
        equal(info.chunkSize, chunkSize);
        deepEqual(info.context, { a: '', tenant: 'acme', 'ファイル': 'résumé 📄' });
        equal(info.suite, 'cobblestone-256');
        const streamInfo = await inspect(new Blob([envelope as BlobPart]).stream());
        deepEqual(streamInfo, info, 'inspect from a stream');
        bytesEqual((await decrypt(envelope, { keyring: aes(), expectContext: { tenant: 'acme' } })).plaintext, plaintext);
      }
    },
  },
  {
    name: 'expectContext: a missing or different pair fails with ERR_CONTEXT_MISMATCH',
    async run() {
      const envelope = await encrypt(pattern(10), { keyring: aes(), context: { tenant: 'a' } });
      await rejectsWith(decrypt(envelope, { keyring: aes(), expectContext: { tenant: 'b' } }), 'ERR_CONTEXT_MISMATCH');
      await rejectsWith(decrypt(envelope, { keyring: aes(), expectContext: { user: 'x' } }), 'ERR_CONTEXT_MISMATCH');
    },
  },
  {
    name: 'wrong keys: another AES key fails; an AES key under the same name fails; no match is ERR_NO_KEYRING_MATCH',
    async run() {
      const envelope = await encrypt(pattern(10), { keyring: aes() });
      await rejectsWith(decrypt(envelope, { keyring: new RawAesKeyring({ keyName: AES_KEY_NAME, key: AES_KEY_2 }) }), 'ERR_NO_KEYRING_MATCH');
      await rejectsWith(decrypt(envelope, { keyring: new RawAesKeyring({ keyName: 'other', key: AES_KEY }) }), 'ERR_NO_KEYRING_MATCH');
      const pair = await rsaTestPair();
      await rejectsWith(decrypt(envelope, { keyring: new RsaOaepKeyring({ privateKey: pair.privateKey }) }), 'ERR_NO_KEYRING_MATCH');
    },
  },
  {
    name: 'bad arguments are SealboxErrors: chunk sizes, context values, keys, inputs',
    async run() {
      for (const chunkSize of [1000, 8192, 16385, 8 * 1024 * 1024]) {
        await rejectsWith(encrypt(pattern(1), { keyring: aes(), chunkSize }), 'ERR_LIMIT', `chunkSize ${chunkSize}`);
      }
      await rejectsWith(encrypt(pattern(1), { keyring: aes(), context: { a: 1 as unknown as string } }), 'ERR_INVALID_ARGUMENT');
      await rejectsWith(encrypt(pattern(1), { keyring: aes(), context: { a: '\ud800' } }), 'ERR_INVALID_ARGUMENT');
      const big = Object.fromEntries(Array.from({ length: DEFAULT_LIMITS.maxContextEntries + 1 }, (_, i) => [`k${i}`, 'v']));
      await rejectsWith(encrypt(pattern(1), { keyring: aes(), context: big }), 'ERR_LIMIT');
      await rejectsWith(encrypt(pattern(1), { keyring: aes(), context: { k: 'x'.repeat(9000) } }), 'ERR_LIMIT');
      await rejectsWith(encrypt('text' as unknown as Uint8Array, { keyring: aes() }), 'ERR_INVALID_ARGUMENT');
      await rejectsWith(encrypt(pattern(1), {} as never), 'ERR_INVALID_ARGUMENT');
      await rejectsWith(decrypt(new Uint8Array(3), { keyring: aes() }), 'ERR_FORMAT');
      await rejectsWith((async () => new RawAesKeyring({ keyName: 'k', key: new Uint8Array(16) }))(), 'ERR_INVALID_ARGUMENT');
      await rejectsWith((async () => new RsaOaepKeyring({}))(), 'ERR_INVALID_ARGUMENT');
      await rejectsWith(encrypt(pattern(1), { keyring: new RsaOaepKeyring({ publicKey: '-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----' }) }), 'ERR_INVALID_ARGUMENT');
      await rejectsWith(encrypt(pattern(1), { keyring: new RsaOaepKeyring({ publicKey: new Uint8Array(10) }) }), 'ERR_INVALID_ARGUMENT');
    },
  },
  {
    name: 'RSA keys outside 2048–4096 bits are refused',
    async run() {
      const pair = (await crypto.subtle.generateKey(
        { name: 'RSA-OAEP', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        true,
        ['encrypt', 'decrypt'],
      )) as CryptoKeyPair;
      await rejectsWith(encrypt(pattern(1), { keyring: new RsaOaepKeyring({ publicKey: pair.publicKey }) }), 'ERR_INVALID_ARGUMENT');
    },
  },
];
