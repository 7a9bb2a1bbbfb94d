/**
 * The noble fallback, checked from inside a runtime: the library must give the same bytes with and
 * without `crypto.subtle`, read each other's output, and run the shared suite without it (cases
 * that need RSA are skipped, after checking that RSA says ERR_UNSUPPORTED).
 *
 * How `crypto.subtle` is removed: `globalThis.crypto` is replaced, for the duration of a check, by
 * an object with `getRandomValues` only (what a page on plain HTTP has). The library reads
 * `globalThis.crypto` on each call, so it sees no `subtle`. The suite's own oracles (digests of
 * expected plaintexts, RSA test keys) keep real WebCrypto: the bundler gives each test/suite module
 * a `crypto` captured when it loads (scripts/runtimes/build.ts), so only library code is affected.
 */
import { MultiKeyring, RawAesKeyring, RsaOaepKeyring, SealboxError, decrypt, encrypt } from '../../src/index.js';
import type { Keyring } from '../../src/index.js';
import { aesGcmOpen, aesGcmSeal, importAeadKey } from '../../src/sdk/crypto/aes-gcm.js';
import { hkdfExpandSha512 } from '../../src/sdk/crypto/hkdf.js';
import { type SuiteEnv, type TestCase, bytesEqual, hex, pattern } from '../suite/harness.js';
import { AES_KEY, AES_KEY_2, AES_KEY_NAME, AES_KEY_NAME_2 } from '../suite/keys.js';
import { RSA_PRIVATE_PEM, RSA_PUBLIC_PEM } from './matrix.js';

const realCrypto: Crypto = globalThis.crypto;

export interface Comparison {
  name: string;
  /** SHA-256 of the WebCrypto output and of the noble output (hex); equal when `identical`. */
  webcrypto?: string;
  noble?: string;
  identical: boolean;
  crossDecrypt: boolean;
  error?: string;
}

export interface FallbackCase {
  name: string;
  status: 'pass' | 'fail' | 'skipped-rsa';
  ms: number;
  error?: string;
}

export interface FallbackReport {
  runtime: string;
  /** True when the library really saw no crypto.subtle during the noble runs. */
  subtleRemoved: boolean;
  comparisons: Comparison[];
  rsa: { encrypt: string; decrypt: string };
  cases: FallbackCase[];
}

/** xorshift32 as getRandomValues: both backends draw the same "random" data key, IVs and salts. */
function seededRandom(seed: number): Crypto['getRandomValues'] {
  let x = seed >>> 0 || 1;
  return <T extends ArrayBufferView | null>(array: T): T => {
    if (array) {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < bytes.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        bytes[i] = x & 0xff;
      }
    }
    return array;
  };
}

type Backend = 'webcrypto' | 'noble';

/** Runs `fn` with a replaced `globalThis.crypto`; restores the original afterwards. */
async function withBackend<T>(backend: Backend, seed: number | undefined, fn: () => Promise<T>): Promise<T> {
  const own = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  const getRandomValues = seed === undefined ? realCrypto.getRandomValues.bind(realCrypto) : seededRandom(seed);
  const fake = backend === 'webcrypto' ? { getRandomValues, subtle: realCrypto.subtle } : { getRandomValues };
  Object.defineProperty(globalThis, 'crypto', { value: fake, configurable: true, writable: true, enumerable: true });
  try {
    return await fn();
  } finally {
    if (own) Object.defineProperty(globalThis, 'crypto', own);
    else delete (globalThis as { crypto?: Crypto }).crypto;
  }
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await realCrypto.subtle.digest('SHA-256', bytes as BufferSource)));
}

function describe(error: unknown): string {
  if (error instanceof SealboxError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const SALT = Uint8Array.from({ length: 24 }, (_, i) => 0xa0 + i);

interface Scenario {
  name: string;
  size: number;
  chunkSize?: number;
  context?: Record<string, string>;
  keyring(): Keyring;
}

const aes = () => new RawAesKeyring({ keyName: AES_KEY_NAME, key: AES_KEY });
const SCENARIOS: Scenario[] = [
  { name: 'envelope, empty, raw AES', size: 0, keyring: aes },
  { name: 'envelope, 1 byte, raw AES', size: 1, keyring: aes },
  { name: 'envelope, exactly one chunk (16384), raw AES', size: 16384, keyring: aes },
  { name: 'envelope, 3 chunks + 5 bytes, raw AES, context', size: 3 * 16384 + 5, context: { tenant: 'acme', 'ファイル': 'résumé' }, keyring: aes },
  { name: 'envelope, 64 KiB chunks, 2 raw AES recipients', size: 2 * 65536 + 9, chunkSize: 65536, keyring: () => new MultiKeyring({ generator: aes(), others: [new RawAesKeyring({ keyName: AES_KEY_NAME_2, key: AES_KEY_2 })] }) },
];

async function compareEnvelope(scenario: Scenario, seed: number): Promise<Comparison> {
  const plaintext = pattern(scenario.size, seed);
  const make = () => {
    const options = { keyring: scenario.keyring(), salt: SALT, ...(scenario.context ? { context: scenario.context } : {}) };
    return encrypt(plaintext, scenario.chunkSize ? { ...options, chunkSize: scenario.chunkSize } : options);
  };
  const result: Comparison = { name: scenario.name, identical: false, crossDecrypt: false };
  try {
    const web = await withBackend('webcrypto', seed, make);
    const noble = await withBackend('noble', seed, make);
    result.webcrypto = await sha256(web);
    result.noble = await sha256(noble);
    bytesEqual(noble, web, 'noble vs WebCrypto envelope');
    result.identical = true;
    const open = (envelope: Uint8Array) => async () => (await decrypt(envelope, { keyring: scenario.keyring() })).plaintext;
    bytesEqual(await withBackend('noble', undefined, open(web)), plaintext, 'noble decrypting the WebCrypto envelope');
    bytesEqual(await withBackend('webcrypto', undefined, open(noble)), plaintext, 'WebCrypto decrypting the noble envelope');
    // A flipped bit in the last byte fails the same way on both backends.
    const tampered = noble.slice();
    tampered[tampered.length - 1]! ^= 1;
    const codes: string[] = [];
    for (const backend of ['webcrypto', 'noble'] as const) {
      try {
        await withBackend(backend, undefined, open(tampered));
        codes.push('resolved');
      } catch (error) {
        codes.push(error instanceof SealboxError ? error.code : describe(error));
      }
    }
    if (codes[0] !== codes[1] || codes[0] === 'resolved') throw new Error(`tampered envelope: WebCrypto ${codes[0]}, noble ${codes[1]}`);
    result.crossDecrypt = true;
  } catch (error) {
    result.error = describe(error);
  }
  return result;
}

/** The primitives alone: AES-GCM with and without AAD, HKDF-Expand-SHA-512 at several lengths. */
async function comparePrimitives(): Promise<Comparison> {
  const result: Comparison = { name: 'primitives: AES-256-GCM seal/open, HKDF-Expand-SHA-512', identical: false, crossDecrypt: false };
  try {
    const run = async () => {
      const parts: Uint8Array[] = [];
      const key = await importAeadKey(AES_KEY);
      const nonce = pattern(12, 5);
      for (const [size, aad] of [[0, undefined], [1, pattern(3, 1)], [4096, undefined], [70000, pattern(100, 2)]] as const) {
        const sealed = await aesGcmSeal(key, nonce, pattern(size, size + 3), aad);
        parts.push(sealed);
        const opened = await aesGcmOpen(key, nonce, sealed, aad);
        if (!opened) throw new Error(`open failed for size ${size}`);
        const bad = sealed.slice();
        bad[0]! ^= 0x80;
        if ((await aesGcmOpen(key, nonce, bad, aad)) !== undefined) throw new Error('a flipped bit opened');
      }
      for (const length of [1, 32, 64, 65, 200]) parts.push(await hkdfExpandSha512(AES_KEY_2, pattern(40, length), length));
      return parts;
    };
    const web = await withBackend('webcrypto', 1, run);
    const noble = await withBackend('noble', 1, run);
    result.webcrypto = await sha256(concat(web));
    result.noble = await sha256(concat(noble));
    web.forEach((part, i) => bytesEqual(noble[i]!, part, `primitive output ${i}`));
    result.identical = true;
    result.crossDecrypt = true;
  } catch (error) {
    result.error = describe(error);
  }
  return result;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function codeOf(promise: () => Promise<unknown>): Promise<string> {
  try {
    await withBackend('noble', undefined, promise);
    return 'resolved';
  } catch (error) {
    return error instanceof SealboxError ? error.code : describe(error);
  }
}

/** A case that fails only because RSA is unavailable is skipped; anything else is a failure. */
function needsRsa(error: string): boolean {
  return /ERR_UNSUPPORTED/.test(error) && /RSA/.test(error);
}

/** `cases: false` skips the suite run (the costly part), keeping the byte-for-byte comparisons. */
export async function fallbackCheck(env: SuiteEnv, cases: readonly TestCase[], options: { cases: boolean }): Promise<FallbackReport> {
  const subtleRemoved = await withBackend('noble', undefined, async () => (globalThis.crypto as Partial<Crypto>).subtle === undefined);
  const comparisons = [await comparePrimitives()];
  for (const [i, scenario] of SCENARIOS.entries()) comparisons.push(await compareEnvelope(scenario, 1000 + i));

  const publicPem = await env.readText(RSA_PUBLIC_PEM);
  const privatePem = await env.readText(RSA_PRIVATE_PEM);
  const webEnvelope = await encrypt(pattern(100), { keyring: new RsaOaepKeyring({ publicKey: publicPem }) });
  const rsa = {
    encrypt: await codeOf(() => encrypt(pattern(100), { keyring: new RsaOaepKeyring({ publicKey: publicPem }) })),
    decrypt: await codeOf(() => decrypt(webEnvelope, { keyring: new RsaOaepKeyring({ privateKey: privatePem }) })),
  };

  const results: FallbackCase[] = [];
  for (const testCase of options.cases ? cases : []) {
    const start = Date.now();
    try {
      await withBackend('noble', undefined, () => testCase.run({ ...env, runtime: `${env.runtime} (no crypto.subtle)` }));
      results.push({ name: testCase.name, status: 'pass', ms: Date.now() - start });
    } catch (error) {
      const text = describe(error);
      const status = rsa.encrypt === 'ERR_UNSUPPORTED' && needsRsa(text) ? 'skipped-rsa' : 'fail';
      results.push({ name: testCase.name, status, ms: Date.now() - start, error: text });
    }
  }
  return { runtime: env.runtime, subtleRemoved, comparisons, rsa, cases: results };
}
