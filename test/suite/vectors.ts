/** Our own v1 vectors (test/vectors/v1): every valid one decrypts, every invalid one fails with its code. */
import { type Keyring, RawAesKeyring, RsaOaepKeyring, decrypt, inspect } from '../../src/index.js';
import { AssertionError, type SuiteEnv, type TestCase, deepEqual, equal, hex, rejectsWith, sha, unbase64, unhex } from './harness.js';

interface KeySpec {
  type: 'raw-aes' | 'rsa-oaep';
  keyName?: string;
  key?: string;
  keyId?: string;
  privateKeyPkcs8?: string;
}
interface ValidVector {
  name: string;
  keyring: string[];
  chunkSize: number;
  context: Record<string, string>;
  plaintext: { length: number; sha256: string; hex?: string };
  envelope: string;
}
interface InvalidVector {
  name: string;
  comment: string;
  keyring: string[];
  error: string;
  envelope: string;
}

export async function loadVectors(env: SuiteEnv) {
  const valid = JSON.parse(await env.readText('test/vectors/v1/valid.json')) as { keys: Record<string, KeySpec>; vectors: ValidVector[] };
  const invalid = JSON.parse(await env.readText('test/vectors/v1/invalid.json')) as { vectors: InvalidVector[] };
  const keyring = (name: string): Keyring => {
    const spec = valid.keys[name];
    if (!spec) throw new AssertionError(`unknown key ${name}`);
    return spec.type === 'raw-aes'
      ? new RawAesKeyring({ keyName: spec.keyName!, key: unhex(spec.key!) })
      : new RsaOaepKeyring({ privateKey: unbase64(spec.privateKeyPkcs8!), keyId: spec.keyId! });
  };
  return { valid: valid.vectors, invalid: invalid.vectors, keyring, keys: valid.keys };
}

/** RSA and raw AES keys in separate cases, so runtimes without RSA (no crypto.subtle) still run the AES ones. */
const isRsa = (name: string) => name.startsWith('rsa');
const kinds = [
  { label: 'raw AES keys', wanted: (name: string) => !isRsa(name) },
  { label: 'RSA keys', wanted: isRsa },
];

export const vectorCases: TestCase[] = kinds.flatMap(({ label, wanted }) => [
  {
    name: `vectors v1 (${label}): every valid envelope decrypts with each of its keys to the stated plaintext and context`,
    async run(env: SuiteEnv) {
      const { valid, keyring, keys } = await loadVectors(env);
      equal(valid.length >= 10, true, 'at least 10 valid vectors');
      let decrypted = 0;
      for (const v of valid) {
        const envelope = unbase64(v.envelope);
        const info = await inspect(envelope);
        equal(info.chunkSize, v.chunkSize, `${v.name} chunk size`);
        deepEqual(info.context, v.context, `${v.name} context`);
        for (const name of v.keyring.filter(wanted)) {
          const result = await decrypt(envelope, { keyring: keyring(name) });
          equal(result.plaintext.length, v.plaintext.length, `${v.name} with ${name}: length`);
          equal(await sha('SHA-256', result.plaintext), v.plaintext.sha256, `${v.name} with ${name}: sha256`);
          if (v.plaintext.hex !== undefined) equal(hex(result.plaintext), v.plaintext.hex, `${v.name}: hex`);
          deepEqual(result.context, v.context, `${v.name}: context`);
          decrypted++;
          if (isRsa(name)) {
            // A key that may only decrypt takes the bytes path (rsaOaepUnwrapDataKey), not unwrapKey.
            const spec = keys[name]!;
            const privateKey = await crypto.subtle.importKey('pkcs8', unbase64(spec.privateKeyPkcs8!) as BufferSource, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
            const bytesPath = await decrypt(envelope, { keyring: new RsaOaepKeyring({ privateKey, keyId: spec.keyId! }) });
            equal(await sha('SHA-256', bytesPath.plaintext), v.plaintext.sha256, `${v.name} with ${name} (decrypt-only key): sha256`);
          }
        }
      }
      equal(decrypted >= 3, true, `decrypted ${decrypted} vector/key pairs`);
    },
  },
  {
    name: `vectors v1 (${label}): every invalid envelope fails with its stated error code`,
    async run(env: SuiteEnv) {
      const { invalid, keyring } = await loadVectors(env);
      equal(invalid.length >= 20, true, 'at least 20 invalid vectors');
      let checked = 0;
      for (const v of invalid) {
        if (v.keyring.length !== 1) throw new AssertionError(`${v.name}: invalid vectors name one key`);
        if (!wanted(v.keyring[0]!)) continue;
        await rejectsWith(decrypt(unbase64(v.envelope), { keyring: keyring(v.keyring[0]!) }), v.error, `${v.name} (${v.comment}):`);
        checked++;
      }
      equal(checked >= 3, true, `checked ${checked} invalid vectors`);
    },
  },
]);
