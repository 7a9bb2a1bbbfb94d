/**
 * Writes test/vectors/v1/{valid,invalid}.json. Run once and commit the output: RSA-OAEP and the
 * raw AES IVs are randomized, so the committed files, not this script, are the reference.
 *
 *   node --import tsx scripts/make-vectors.ts
 */
import { writeFileSync } from 'node:fs';
import { MultiKeyring, RawAesKeyring, RsaOaepKeyring, encrypt, type Keyring } from '../src/index.js';
import { encodeCbor, type CborValue } from '../src/sdk/format/cbor.js';
import { DEFAULT_LIMITS } from '../src/sdk/format/constants.js';
import { encodeRecipient, parseEnvelopeHeader } from '../src/sdk/format/header.js';
import { hex, pattern, sha } from '../test/suite/harness.js';
import { AES_KEY, AES_KEY_2, AES_KEY_NAME, AES_KEY_NAME_2 } from '../test/suite/keys.js';

const C = 16384;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const DATA_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
const SALT = Uint8Array.from({ length: 24 }, (_, i) => 0x50 + i);
const LEADING_ZERO_KEYS = [Uint8Array.from({ length: 32 }, (_, i) => (i < 1 ? 0 : 0xc0 + i)), Uint8Array.from({ length: 32 }, (_, i) => (i < 3 ? 0 : 0xd0 + i))] as const;

const pair = (await crypto.subtle.generateKey(
  { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  true,
  ['encrypt', 'decrypt'],
)) as CryptoKeyPair;
const rsaPublic = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
const rsaPrivate = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
const RSA_KEY_ID = 'test/rsa-1';

const keys = {
  'aes-1': { type: 'raw-aes', keyName: AES_KEY_NAME, key: hex(AES_KEY) },
  'aes-2': { type: 'raw-aes', keyName: AES_KEY_NAME_2, key: hex(AES_KEY_2) },
  'rsa-1': { type: 'rsa-oaep', keyId: RSA_KEY_ID, publicKeySpki: b64(rsaPublic), privateKeyPkcs8: b64(rsaPrivate) },
};
const keyrings: Record<string, () => Keyring> = {
  'aes-1': () => new RawAesKeyring({ keyName: AES_KEY_NAME, key: AES_KEY }),
  'aes-2': () => new RawAesKeyring({ keyName: AES_KEY_NAME_2, key: AES_KEY_2 }),
  'rsa-1': () => new RsaOaepKeyring({ publicKey: rsaPublic, keyId: RSA_KEY_ID }),
};

/** Wraps the fixed data key, so the payload bytes are reproducible. */
function fixed(names: string[], dataKey = DATA_KEY): Keyring {
  const inner = names.length === 1 ? keyrings[names[0]!]!() : new MultiKeyring({ others: names.map((n) => keyrings[n]!()) });
  return { wrapDataKey: (request) => inner.wrapDataKey({ ...request, dataKey: dataKey.slice() }), unwrapDataKey: (r) => inner.unwrapDataKey(r) };
}

interface Made {
  envelope: Uint8Array;
  plaintext: Uint8Array;
}
async function make(names: string[], length: number, seed: number, context: Record<string, string> = {}, chunkSize = C, dataKey = DATA_KEY): Promise<Made> {
  const plaintext = pattern(length, seed);
  return { envelope: await encrypt(plaintext, { keyring: fixed(names, dataKey), context, chunkSize, salt: SALT }), plaintext };
}

async function plaintextField(plaintext: Uint8Array, seed: number) {
  return { length: plaintext.length, seed, sha256: await sha('SHA-256', plaintext), ...(plaintext.length <= 64 ? { hex: hex(plaintext) } : {}) };
}

// ── valid ─────────────────────────────────────────────────────────────────────────────────────
const valid: unknown[] = [];
async function addValid(name: string, comment: string, names: string[], length: number, seed: number, context: Record<string, string> = {}, chunkSize = C, decryptWith = names, dataKey = DATA_KEY) {
  const { envelope, plaintext } = await make(names, length, seed, context, chunkSize, dataKey);
  valid.push({ name, comment, keyring: decryptWith, chunkSize, context, dataKey: hex(dataKey), salt: hex(SALT), plaintext: await plaintextField(plaintext, seed), envelope: b64(envelope) });
  return envelope;
}
await addValid('empty', 'empty plaintext: one empty final chunk', ['aes-1'], 0, 1);
await addValid('one-byte', 'one byte', ['aes-1'], 1, 2);
await addValid('chunk-minus-one', '16 KiB − 1: one short chunk', ['aes-1'], C - 1, 3);
await addValid('one-full-chunk', '16 KiB: one full chunk and an empty final chunk', ['aes-1'], C, 4);
await addValid('chunk-plus-one', '16 KiB + 1: one full chunk and a 1-byte final chunk', ['aes-1'], C + 1, 5);
await addValid('several-chunks', 'three full chunks and a short one', ['aes-1'], 3 * C + 123, 6, { tenant: 'acme' });
await addValid('several-recipients', 'two raw AES keys and an RSA key; each alone decrypts', ['aes-1', 'aes-2', 'rsa-1'], 1000, 7, { tenant: 'acme', purpose: 'backup' });
await addValid('unicode-context', 'context keys and values outside ASCII; sorted by encoded bytes', ['aes-1'], 50, 8, { 'ファイル': 'résumé 📄', z: 'last?', 'Ω': '' });
await addValid('rsa-recipient', 'RSA-OAEP-256 recipient only', ['rsa-1'], 300, 9, { tenant: 'globex' });
await addValid('chunk-size-64k', 'non-default chunk size 65536', ['aes-1'], 70000, 10, {}, 65536);
await addValid('empty-context', 'no context entries (an empty map)', ['rsa-1'], 16, 11);
// A data key is random, so one in 256 starts with a zero byte; an RSA-OAEP decrypt that returns the
// message as a number (WebKitGTK's) drops it, and such envelopes must still open everywhere.
await addValid('rsa-data-key-leading-zero', 'RSA recipient; the data key starts with one zero byte', ['rsa-1'], 100, 13, { tenant: 'acme' }, C, ['rsa-1'], LEADING_ZERO_KEYS[0]);
await addValid('rsa-data-key-leading-zeros', 'RSA recipient; the data key starts with three zero bytes', ['rsa-1'], 100, 14, { tenant: 'acme' }, C, ['rsa-1'], LEADING_ZERO_KEYS[1]);
{
  // A recipient of an unknown type ahead of a known one: kept and skipped.
  const { envelope, plaintext } = await make(['aes-1'], 20, 12);
  const parsed = parseEnvelopeHeader(envelope, DEFAULT_LIMITS);
  const unknown: CborValue = [99, 'future-kms', Uint8Array.of(1, 2, 3), new Map<number, CborValue>([[7, 'x']])];
  const rebuilt = rebuild(parsed.protectedBytes, [unknown, ...parsed.recipients.map(encodeRecipient)], envelope.subarray(parsed.headerLength));
  valid.push({ name: 'unknown-recipient-type', comment: 'a recipient of unknown type 99 is skipped', keyring: ['aes-1'], chunkSize: C, context: {}, dataKey: hex(DATA_KEY), salt: hex(SALT), plaintext: await plaintextField(plaintext, 12), envelope: b64(rebuilt) });
}

// ── invalid ───────────────────────────────────────────────────────────────────────────────────
/** The CBOR head of a byte string of `length` bytes, shortest form. */
function bstrHead(length: number): Uint8Array {
  const whole = encodeCbor(new Uint8Array(length));
  return whole.subarray(0, whole.length - length);
}
function prefix(headerLength: number): Uint8Array {
  const out = new Uint8Array(8);
  out.set([0x53, 0x42, 0x58, 0x01]);
  new DataView(out.buffer).setUint32(4, headerLength);
  return out;
}
function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
/** Re-assembles an envelope from protected bytes, recipient items and payload. */
function rebuild(protectedBytes: Uint8Array, recipients: CborValue[], payload: Uint8Array): Uint8Array {
  const header = encodeCbor([protectedBytes, recipients]);
  return concat(prefix(header.length), header, payload);
}
/** Same, with hand-made raw header bytes. */
function rawEnvelope(header: Uint8Array, payload: Uint8Array): Uint8Array {
  return concat(prefix(header.length), header, payload);
}
function flip(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = bytes.slice();
  out[index]! ^= 1 << bit;
  return out;
}

const invalid: unknown[] = [];
const add = (name: string, comment: string, keyring: string[], envelope: Uint8Array, error: string) =>
  invalid.push({ name, comment, keyring, error, envelope: b64(envelope) });

const small = await make(['aes-1'], 40, 21, { tenant: 'acme' });
const smallParsed = parseEnvelopeHeader(small.envelope, DEFAULT_LIMITS);
const smallPayload = small.envelope.subarray(smallParsed.headerLength);
const smallRecipients = smallParsed.recipients.map(encodeRecipient);
const P = smallParsed.protectedBytes;
const H = smallParsed.headerLength - 8;
const rsaSmall = await make(['rsa-1'], 40, 22, { tenant: 'acme' });
const rsaParsed = parseEnvelopeHeader(rsaSmall.envelope, DEFAULT_LIMITS);
const rsaPayload = rsaSmall.envelope.subarray(rsaParsed.headerLength);
const rsaRecipients = rsaParsed.recipients.map(encodeRecipient);
const big = await make(['aes-1'], 2 * C + 100, 23);
const bigParsed = parseEnvelopeHeader(big.envelope, DEFAULT_LIMITS);
const bigHead = big.envelope.subarray(0, bigParsed.headerLength + 56);
const S = C + 16;
const chunkAt = (k: number) => big.envelope.subarray(bigHead.length + k * S, bigHead.length + (k + 1) * S);
const finalChunk = big.envelope.subarray(bigHead.length + 2 * S);

const protectedMap = (entries: [number, CborValue][]) => encodeCbor(new Map(entries));
const ctx = new Map<string, CborValue>([['tenant', 'acme']]);

add('bad-magic', 'first byte is not "S"', ['aes-1'], flip(small.envelope, 0, 1), 'ERR_FORMAT');
add('unknown-version', 'version byte 2', ['aes-1'], (() => { const e = small.envelope.slice(); e[3] = 2; return e; })(), 'ERR_UNSUPPORTED_VERSION');
add('prefix-truncated', 'only 6 of the 8 prefix bytes', ['aes-1'], small.envelope.subarray(0, 6), 'ERR_TRUNCATED');
add('header-truncated', 'the envelope ends inside the header', ['aes-1'], small.envelope.subarray(0, 8 + Math.floor(H / 2)), 'ERR_TRUNCATED');
add('header-length-zero', 'header length field is 0', ['aes-1'], concat(prefix(0), small.envelope.subarray(8)), 'ERR_FORMAT');
add('header-length-huge', 'header length field claims 4 GiB − 1 (must not be allocated)', ['aes-1'], (() => { const e = small.envelope.slice(); e.set([0xff, 0xff, 0xff, 0xff], 4); return e; })(), 'ERR_LIMIT');
add('header-length-short', 'header length one less than the CBOR item', ['aes-1'], concat(prefix(H - 1), small.envelope.subarray(8)), 'ERR_FORMAT');
add('header-trailing-byte', 'one byte after the CBOR item, inside the declared header', ['aes-1'], rawEnvelope(concat(encodeCbor([P, smallRecipients]), Uint8Array.of(0)), smallPayload), 'ERR_FORMAT');
add('duplicate-cbor-key', 'protected map has key 1 twice', ['aes-1'],
  rebuild(concat(Uint8Array.of(0xa4, 0x01, 0x01, 0x01, 0x01, 0x02, 0x19, 0x40, 0x00), encodeCbor(3), encodeCbor(ctx)), smallRecipients, smallPayload), 'ERR_FORMAT');
add('non-canonical-integer', 'chunk size 16384 encoded in 4 bytes (0x1a) instead of 2 (0x19)', ['aes-1'],
  rebuild(concat(Uint8Array.of(0xa3, 0x01, 0x01, 0x02, 0x1a, 0x00, 0x00, 0x40, 0x00), encodeCbor(3), encodeCbor(ctx)), smallRecipients, smallPayload), 'ERR_FORMAT');
add('non-canonical-length', 'header array length encoded as 0x98 0x02 instead of 0x82', ['aes-1'],
  rawEnvelope(concat(Uint8Array.of(0x98, 0x02), encodeCbor([P, smallRecipients]).subarray(1)), smallPayload), 'ERR_FORMAT');
add('indefinite-length', 'header array with indefinite length (0x9f … 0xff)', ['aes-1'],
  rawEnvelope(concat(Uint8Array.of(0x9f), encodeCbor([P, smallRecipients]).subarray(1), Uint8Array.of(0xff)), smallPayload), 'ERR_FORMAT');
add('unsorted-map-keys', 'protected map keys in order 2, 1, 3', ['aes-1'],
  rebuild(concat(Uint8Array.of(0xa3, 0x02, 0x19, 0x40, 0x00, 0x01, 0x01), encodeCbor(3), encodeCbor(ctx)), smallRecipients, smallPayload), 'ERR_FORMAT');
add('unknown-protected-key', 'protected map has an extra key 4', ['aes-1'], rebuild(protectedMap([[1, 1], [2, C], [3, ctx], [4, 0]]), smallRecipients, smallPayload), 'ERR_FORMAT');
add('missing-context', 'protected map lacks key 3', ['aes-1'], rebuild(protectedMap([[1, 1], [2, C]]), smallRecipients, smallPayload), 'ERR_FORMAT');
add('unknown-suite', 'suite 2', ['aes-1'], rebuild(protectedMap([[1, 2], [2, C], [3, ctx]]), smallRecipients, smallPayload), 'ERR_UNSUPPORTED');
add('negative-suite', 'suite as a negative integer (major type 1)', ['aes-1'],
  rebuild(concat(Uint8Array.of(0xa3, 0x01, 0x20, 0x02, 0x19, 0x40, 0x00), encodeCbor(3), encodeCbor(ctx)), smallRecipients, smallPayload), 'ERR_FORMAT');
add('chunk-size-not-power-of-two', 'chunk size 20000', ['aes-1'], rebuild(protectedMap([[1, 1], [2, 20000], [3, ctx]]), smallRecipients, smallPayload), 'ERR_LIMIT');
add('chunk-size-too-small', 'chunk size 8192', ['aes-1'], rebuild(protectedMap([[1, 1], [2, 8192], [3, ctx]]), smallRecipients, smallPayload), 'ERR_LIMIT');
add('chunk-size-too-large', 'chunk size 8 MiB', ['aes-1'], rebuild(protectedMap([[1, 1], [2, 8 * 1024 * 1024], [3, ctx]]), smallRecipients, smallPayload), 'ERR_LIMIT');
add('too-many-recipients', '11 recipients', ['aes-1'], rebuild(P, Array.from({ length: 11 }, () => smallRecipients[0]!), smallPayload), 'ERR_LIMIT');
add('no-recipients', 'an empty recipients array', ['aes-1'], rebuild(P, [], smallPayload), 'ERR_FORMAT');
add('tagged-protected', 'protected bytes wrapped in CBOR tag 24', ['aes-1'],
  rawEnvelope(concat(Uint8Array.of(0x82, 0xd8, 0x18), encodeCbor(P), encodeCbor(smallRecipients)), smallPayload), 'ERR_FORMAT');
add('invalid-utf8-context', 'a context value with invalid UTF-8 (0xff)', ['aes-1'],
  rebuild(concat(Uint8Array.of(0xa3, 0x01, 0x01, 0x02, 0x19, 0x40, 0x00, 0x03, 0xa1, 0x61, 0x74, 0x61, 0xff)), smallRecipients, smallPayload), 'ERR_FORMAT');
add('empty-context-key', 'a context entry with an empty key', ['aes-1'], rebuild(protectedMap([[1, 1], [2, C], [3, new Map([['', 'x']])]]), smallRecipients, smallPayload), 'ERR_FORMAT');
add('recipient-wrong-shape', 'a recipient array of three items', ['aes-1'], rebuild(P, [(smallRecipients[0] as CborValue[]).slice(0, 3)], smallPayload), 'ERR_FORMAT');
add('recipient-unknown-param', 'a raw AES recipient with an extra param 2', ['aes-1'],
  rebuild(P, [[...(smallRecipients[0] as CborValue[]).slice(0, 3), new Map<number, CborValue>([[1, (smallParsed.recipients[0]!.params.get(1) as Uint8Array)], [2, 0]])]], smallPayload), 'ERR_FORMAT');
add('recipient-short-iv', 'a raw AES recipient with an 8-byte IV', ['aes-1'],
  rebuild(P, [[...(smallRecipients[0] as CborValue[]).slice(0, 3), new Map<number, CborValue>([[1, new Uint8Array(8)]])]], smallPayload), 'ERR_FORMAT');
add('recipient-key-id-changed', 'the recipient names another key', ['aes-1'],
  rebuild(P, [[3, 'someone-else', smallParsed.recipients[0]!.wrappedKey, smallParsed.recipients[0]!.params]], smallPayload), 'ERR_NO_KEYRING_MATCH');
add('wrapped-key-flipped', 'one bit of the AES-wrapped data key flipped', ['aes-1'],
  rebuild(P, [[3, AES_KEY_NAME, flip(smallParsed.recipients[0]!.wrappedKey, 5), smallParsed.recipients[0]!.params]], smallPayload), 'ERR_NO_KEYRING_MATCH');
add('only-unknown-recipient', 'the only recipient is of unknown type 99', ['aes-1'], rebuild(P, [[99, 'x', Uint8Array.of(1), new Map()]], smallPayload), 'ERR_NO_KEYRING_MATCH');
add('context-changed', 'RSA recipient (no AAD); the context value changed from "acme" to "evil"', ['rsa-1'],
  rebuild(protectedMap([[1, 1], [2, C], [3, new Map([['tenant', 'evil']])]]), rsaRecipients, rsaPayload), 'ERR_COMMITMENT');
add('context-entry-added', 'RSA recipient; a context entry added', ['rsa-1'],
  rebuild(protectedMap([[1, 1], [2, C], [3, new Map([['tenant', 'acme'], ['role', 'admin']])]]), rsaRecipients, rsaPayload), 'ERR_COMMITMENT');
add('chunk-size-changed', 'RSA recipient; chunk size changed to 32768', ['rsa-1'],
  rebuild(protectedMap([[1, 1], [2, 2 * C], [3, new Map([['tenant', 'acme']])]]), rsaRecipients, rsaPayload), 'ERR_COMMITMENT');
add('wrong-commitment', 'one bit of the commitment flipped', ['aes-1'], flip(small.envelope, smallParsed.headerLength + 24 + 7, 3), 'ERR_COMMITMENT');
add('salt-changed', 'one bit of the salt flipped', ['aes-1'], flip(small.envelope, smallParsed.headerLength + 2, 0), 'ERR_COMMITMENT');
add('context-changed-aes', 'raw AES recipient; changed context fails the wrapped key AAD first', ['aes-1'],
  rebuild(protectedMap([[1, 1], [2, C], [3, new Map([['tenant', 'evil']])]]), smallRecipients, smallPayload), 'ERR_NO_KEYRING_MATCH');
add('payload-too-short', 'the payload holds only the salt and part of the commitment', ['aes-1'], small.envelope.subarray(0, smallParsed.headerLength + 40), 'ERR_TRUNCATED');
add('flipped-ciphertext-bit', 'a bit of chunk 1 body flipped', ['aes-1'], flip(big.envelope, bigHead.length + S + 100, 4), 'ERR_TAMPERED');
add('flipped-tag-bit', 'a bit of the final chunk tag flipped', ['aes-1'], flip(big.envelope, big.envelope.length - 1, 7), 'ERR_TAMPERED');
add('chunks-swapped', 'chunks 0 and 1 swapped', ['aes-1'], concat(bigHead, chunkAt(1), chunkAt(0), finalChunk), 'ERR_TAMPERED');
add('chunk-duplicated', 'chunk 0 in place of chunk 1', ['aes-1'], concat(bigHead, chunkAt(0), chunkAt(0), finalChunk), 'ERR_TAMPERED');
add('chunk-dropped', 'chunk 1 removed', ['aes-1'], concat(bigHead, chunkAt(0), finalChunk), 'ERR_TAMPERED');
add('final-chunk-missing', 'ends after the last full chunk', ['aes-1'], concat(bigHead, chunkAt(0), chunkAt(1)), 'ERR_TRUNCATED');
add('truncated-in-tag', 'ends 10 bytes into the final chunk (inside what must be at least a tag)', ['aes-1'], concat(bigHead, chunkAt(0), chunkAt(1), finalChunk.subarray(0, 10)), 'ERR_TRUNCATED');
add('truncated-mid-chunk', 'ends in the middle of chunk 1 (read as a bad final chunk)', ['aes-1'], concat(bigHead, chunkAt(0), chunkAt(1).subarray(0, 5000)), 'ERR_TAMPERED');
add('trailing-bytes', '20 zero bytes after the final chunk', ['aes-1'], concat(big.envelope, new Uint8Array(20)), 'ERR_TAMPERED');
add('extra-chunk', 'a copy of the final chunk appended', ['aes-1'], concat(big.envelope, finalChunk), 'ERR_TAMPERED');

writeFileSync(new URL('../test/vectors/v1/valid.json', import.meta.url), JSON.stringify({ format: 'sealbox-envelope-v1', description: 'Valid Sealbox v1 envelopes: decrypt with any one of `keyring` (names in `keys`) to the plaintext described. Plaintext bytes are pattern(length, seed) from test/suite/harness.ts (xorshift32); `hex` is given for short ones.', keys, vectors: valid }, null, 1) + '\n');
writeFileSync(new URL('../test/vectors/v1/invalid.json', import.meta.url), JSON.stringify({ format: 'sealbox-envelope-v1', description: 'Invalid Sealbox v1 envelopes: decrypting with `keyring` must fail with `error`. Keys are those of valid.json.', vectors: invalid }, null, 1) + '\n');
console.log(`${valid.length} valid, ${invalid.length} invalid vectors written`);
