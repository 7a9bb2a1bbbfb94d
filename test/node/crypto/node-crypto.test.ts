// sealbox/node's useNodeCrypto(): the chunks go through node:crypto instead of WebCrypto, and nothing
// else changes. The whole conformance suite (vectors, Wycheproof, tamper campaigns, streams, ranges)
// runs with it on; a differential property pins its bytes to WebCrypto's; a tampered chunk is still
// ERR_TAMPERED with no plaintext; and it is really used (WebCrypto's encrypt/decrypt are not called).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { useNodeCrypto } from '../../../src/node/crypto/index.js';
import { nodeAeadAccelerator } from '../../../src/node/crypto/aes-gcm.js';
import { decrypt, encrypt, RawAesKeyring } from '../../../src/index.js';
import { allCases } from '../../suite/index.js';
import { skipReason, type SuiteEnv } from '../../suite/harness.js';
import { readFile } from 'node:fs/promises';

const env: SuiteEnv = { runtime: 'node', readText: (path) => readFile(new URL(`../../../${path}`, import.meta.url), 'utf8') };

/** Counts WebCrypto's AES-GCM calls while `run` runs. */
async function webCryptoCalls(run: () => Promise<void>): Promise<number> {
  const subtle = crypto.subtle as SubtleCrypto & Record<string, unknown>;
  const { encrypt: enc, decrypt: dec } = subtle;
  let calls = 0;
  subtle.encrypt = ((...args: Parameters<SubtleCrypto['encrypt']>) => {
    if ((args[0] as Algorithm).name === 'AES-GCM') calls++;
    return enc.apply(subtle, args);
  }) as SubtleCrypto['encrypt'];
  subtle.decrypt = ((...args: Parameters<SubtleCrypto['decrypt']>) => {
    if ((args[0] as Algorithm).name === 'AES-GCM') calls++;
    return dec.apply(subtle, args);
  }) as SubtleCrypto['decrypt'];
  try {
    await run();
  } finally {
    // The own properties go; the prototype's methods show through again.
    delete (subtle as Partial<SubtleCrypto>).encrypt;
    delete (subtle as Partial<SubtleCrypto>).decrypt;
  }
  return calls;
}

const keyring = new RawAesKeyring({ keyName: 'k', key: new Uint8Array(32).fill(9) });
const sample = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff);

describe('useNodeCrypto()', () => {
  before(() => useNodeCrypto());
  after(() => useNodeCrypto(false));

  for (const testCase of allCases) {
    const reason = skipReason(testCase, env);
    test(`suite with node:crypto: ${testCase.name}`, { skip: reason ?? false }, () => testCase.run(env));
  }

  test('the payload chunks no longer go through WebCrypto (and do again after useNodeCrypto(false))', async () => {
    let envelope!: Uint8Array;
    const fast = await webCryptoCalls(async () => {
      envelope = await encrypt(sample, { keyring, chunkSize: 16384 });
      assert.deepEqual((await decrypt(envelope, { keyring })).plaintext, sample);
    });
    useNodeCrypto(false);
    const slow = await webCryptoCalls(async () => void (await decrypt(envelope, { keyring })));
    useNodeCrypto();
    // 7 chunks each way; what is left with node:crypto is the raw AES keyring's own key wrap.
    assert.ok(slow >= 7, `WebCrypto calls without it: ${slow}`);
    assert.ok(fast <= 2, `WebCrypto calls with it: ${fast}`);
  });

  test('node:crypto seals the bytes WebCrypto seals, and opens only what authenticates', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.uint8Array({ maxLength: 3000 }), fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }), fc.nat(), async (raw, nonce, plaintext, aad, flip) => {
        const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
        const params = aad === undefined ? { name: 'AES-GCM', iv: nonce } : { name: 'AES-GCM', iv: nonce, additionalData: aad };
        const expected = new Uint8Array(await crypto.subtle.encrypt(params, key, plaintext));
        const sealed = nodeAeadAccelerator.seal(key, nonce, plaintext, aad);
        assert.deepEqual(sealed, expected);
        assert.equal(Object.getPrototypeOf(sealed), Uint8Array.prototype, 'a plain Uint8Array, not a Buffer');
        assert.deepEqual(nodeAeadAccelerator.open(key, nonce, sealed, aad), plaintext);
        const tampered = sealed.slice();
        tampered[flip % tampered.length]! ^= 1;
        assert.equal(nodeAeadAccelerator.open(key, nonce, tampered, aad), undefined);
      }),
      { numRuns: 200 },
    );
  });

  test('a key node:crypto cannot take (AES-128) is left to WebCrypto', async () => {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);
    assert.throws(() => nodeAeadAccelerator.seal(key, new Uint8Array(12), new Uint8Array(4), undefined), /AES-256/);
  });
});
