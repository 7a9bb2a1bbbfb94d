/**
 * The v1 envelope header (docs/FORMAT.md §3):
 *
 *   envelope  = "SBX" ‖ 0x01 ‖ u32 BE header length ‖ header ‖ Cobblestone-256 ciphertext
 *   header    = [ protected: bstr, recipients: [+ recipient] ]
 *   protected = { 1: suite, 2: chunk size, 3: { * tstr => tstr } }      (the encryption context)
 *   recipient = [ type: uint, keyId: tstr, wrappedKey: bstr, params: { * uint => any } ]
 *
 * The protected bytes are authenticated (they are part of the Cobblestone context, so a change
 * fails the key commitment); the recipients are not, so rewrap can replace them.
 */
import { SealboxError } from '../errors.js';
import { concatBytes, readU32BE, utf8Encode, writeU32BE } from '../crypto/bytes.js';
import { type CborMap, type CborValue, decodeCbor, encodeCbor } from './cbor.js';
import {
  type EnvelopeLimits,
  FORMAT_VERSION,
  MAGIC,
  PARAM_IV,
  PREFIX_BYTES,
  PROTECTED_CHUNK_SIZE,
  PROTECTED_CONTEXT,
  PROTECTED_SUITE,
  RECIPIENT_RAW_AES_256_GCM,
  RECIPIENT_KMS,
  RECIPIENT_RSA_OAEP_256,
  RECIPIENT_TYPE_NAMES,
  SUITE_COBBLESTONE_256,
  SUITE_NAMES,
  isValidChunkSize,
} from './constants.js';

/**
 * Key-value pairs bound to an envelope: authenticated, stored in clear in the header, sent to the KMS and seen by the proxy's policy.
 *
 * @example
 * ```ts
 * const context: EncryptionContext = { tenant: 'acme', purpose: 'invoice' };
 * ```
 */
export type EncryptionContext = Record<string, string>;

/**
 * One wrapped copy of the data key. Public so that users can write keyrings of their own.
 *
 * @example
 * ```ts
 * const mine = request.recipients.filter((r) => r.type === 3 && r.keyId === 'k1');
 * ```
 */
export interface Recipient {
  /** 1 kms, 2 rsa-oaep-256, 3 raw-aes-256-gcm; other values are kept and skipped by our keyrings. */
  type: number;
  keyId: string;
  wrappedKey: Uint8Array;
  params: Map<number, CborValue>;
}

export interface ProtectedHeader {
  suite: number;
  chunkSize: number;
  context: EncryptionContext;
}

export interface ParsedHeader {
  protected: ProtectedHeader;
  /** The exact protected bytes, as authenticated. */
  protectedBytes: Uint8Array;
  recipients: Recipient[];
  /** Bytes from the start of the envelope to the start of the Cobblestone ciphertext. */
  headerLength: number;
}

/**
 * What `inspect` tells without any key.
 *
 * @example
 * ```ts
 * const { suite, chunkSize, context, recipients } = await inspect(envelope);
 * ```
 */
export interface HeaderInfo {
  version: number;
  suite: string;
  chunkSize: number;
  context: EncryptionContext;
  recipients: { type: string; typeId: number; keyId: string; wrappedKeyLength: number }[];
  /** Offset of the Cobblestone ciphertext (salt) in the envelope. */
  headerLength: number;
}

// ── context ─────────────────────────────────────────────────────────────────────────────────

export function validateContext(context: unknown, limits: EnvelopeLimits): EncryptionContext {
  if (context === undefined) return {};
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'the encryption context must be an object of string keys and string values');
  }
  const entries = Object.entries(context);
  if (entries.length > limits.maxContextEntries) {
    throw new SealboxError('ERR_LIMIT', `the encryption context has ${entries.length} entries; the limit is ${limits.maxContextEntries}`);
  }
  let bytes = 0;
  const out: EncryptionContext = {};
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw new SealboxError('ERR_INVALID_ARGUMENT', `encryption context value for "${key}" must be a string`);
    if (key.length === 0) throw new SealboxError('ERR_INVALID_ARGUMENT', 'encryption context keys must not be empty');
    bytes += utf8Encode(key, 'an encryption context key').length + utf8Encode(value, 'an encryption context value').length;
    // defineProperty: `out[key] = value` would drop a key named "__proto__" (setting the prototype instead).
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  if (bytes > limits.maxContextBytes) {
    throw new SealboxError('ERR_LIMIT', `the encryption context is ${bytes} bytes; the limit is ${limits.maxContextBytes}`);
  }
  return out;
}

// ── encoding ────────────────────────────────────────────────────────────────────────────────

export function encodeProtected(header: ProtectedHeader): Uint8Array {
  const context: CborMap = new Map(Object.entries(header.context));
  return encodeCbor(
    new Map<number, CborValue>([
      [PROTECTED_SUITE, header.suite],
      [PROTECTED_CHUNK_SIZE, header.chunkSize],
      [PROTECTED_CONTEXT, context],
    ]),
  );
}

/** The Cobblestone context, and the AAD of raw AES recipients: magic ‖ version ‖ protected bytes. */
export function headerAad(protectedBytes: Uint8Array): Uint8Array {
  return concatBytes(MAGIC, Uint8Array.of(FORMAT_VERSION), protectedBytes);
}

export function encodeRecipient(recipient: Recipient): CborValue {
  return [recipient.type, recipient.keyId, recipient.wrappedKey, new Map(recipient.params)];
}

/** magic ‖ version ‖ u32 BE length ‖ CBOR header. */
export function encodeEnvelopeHeader(protectedBytes: Uint8Array, recipients: Recipient[], limits: EnvelopeLimits): Uint8Array {
  checkRecipients(recipients, limits);
  const cbor = encodeCbor([protectedBytes, recipients.map(encodeRecipient)]);
  if (cbor.length > limits.maxHeaderBytes) {
    throw new SealboxError('ERR_LIMIT', `the header is ${cbor.length} bytes; the limit is ${limits.maxHeaderBytes}`);
  }
  const out = new Uint8Array(PREFIX_BYTES + cbor.length);
  out.set(MAGIC, 0);
  out[3] = FORMAT_VERSION;
  writeU32BE(cbor.length, out, 4);
  out.set(cbor, PREFIX_BYTES);
  return out;
}

function checkRecipients(recipients: readonly unknown[], limits: EnvelopeLimits): void {
  if (recipients.length === 0) throw new SealboxError('ERR_FORMAT', 'an envelope needs at least one recipient');
  if (recipients.length > limits.maxRecipients) {
    throw new SealboxError('ERR_LIMIT', `the envelope has ${recipients.length} recipients; the limit is ${limits.maxRecipients}`);
  }
}

// ── decoding ────────────────────────────────────────────────────────────────────────────────

/**
 * Reads the 8-byte prefix. Returns the CBOR header's length, checked against the limit before
 * anything is read or allocated for it.
 */
export function readPrefix(bytes: Uint8Array, limits: EnvelopeLimits): number {
  const magicBytes = Math.min(bytes.length, MAGIC.length);
  for (let i = 0; i < magicBytes; i++) {
    if (bytes[i] !== MAGIC[i]) throw new SealboxError('ERR_FORMAT', 'not a Sealbox envelope (bad magic bytes)');
  }
  if (bytes.length >= 4 && bytes[3] !== FORMAT_VERSION) {
    throw new SealboxError('ERR_UNSUPPORTED_VERSION', `envelope format version ${bytes[3]} is not supported (this library reads version ${FORMAT_VERSION})`);
  }
  if (bytes.length < PREFIX_BYTES) throw new SealboxError('ERR_TRUNCATED', 'the envelope ends inside its 8-byte prefix');
  const length = readU32BE(bytes, 4);
  if (length === 0) throw new SealboxError('ERR_FORMAT', 'the header length is zero');
  if (length > limits.maxHeaderBytes) {
    throw new SealboxError('ERR_LIMIT', `the header claims ${length} bytes; the limit is ${limits.maxHeaderBytes}`);
  }
  return length;
}

/** Parses prefix and header from the start of an envelope (more bytes may follow). */
export function parseEnvelopeHeader(bytes: Uint8Array, limits: EnvelopeLimits): ParsedHeader {
  const cborLength = readPrefix(bytes, limits);
  if (bytes.length < PREFIX_BYTES + cborLength) throw new SealboxError('ERR_TRUNCATED', 'the envelope ends inside its header');
  const header = decodeCbor(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + cborLength));
  if (!Array.isArray(header) || header.length !== 2) throw new SealboxError('ERR_FORMAT', 'the header must be a CBOR array of two items');
  const [protectedBytes, recipientItems] = header;
  if (!(protectedBytes instanceof Uint8Array)) throw new SealboxError('ERR_FORMAT', 'the protected header must be a byte string');
  if (!Array.isArray(recipientItems)) throw new SealboxError('ERR_FORMAT', 'the recipients must be a CBOR array');
  const protectedHeader = decodeProtected(protectedBytes, limits);
  checkRecipients(recipientItems, limits);
  const recipients = recipientItems.map((item) => decodeRecipient(item, limits));
  return { protected: protectedHeader, protectedBytes, recipients, headerLength: PREFIX_BYTES + cborLength };
}

export function decodeProtected(bytes: Uint8Array, limits: EnvelopeLimits): ProtectedHeader {
  const map = decodeCbor(bytes);
  if (!(map instanceof Map)) throw new SealboxError('ERR_FORMAT', 'the protected header must be a CBOR map');
  for (const key of map.keys()) {
    if (key !== PROTECTED_SUITE && key !== PROTECTED_CHUNK_SIZE && key !== PROTECTED_CONTEXT) {
      throw new SealboxError('ERR_FORMAT', `unknown protected header key ${JSON.stringify(key)}`);
    }
  }
  const suite = map.get(PROTECTED_SUITE);
  const chunkSize = map.get(PROTECTED_CHUNK_SIZE);
  const contextMap = map.get(PROTECTED_CONTEXT);
  if (typeof suite !== 'number') throw new SealboxError('ERR_FORMAT', 'the protected header lacks its suite');
  if (suite !== SUITE_COBBLESTONE_256) throw new SealboxError('ERR_UNSUPPORTED', `unknown suite ${suite}`);
  if (typeof chunkSize !== 'number') throw new SealboxError('ERR_FORMAT', 'the protected header lacks its chunk size');
  if (!isValidChunkSize(chunkSize)) {
    throw new SealboxError('ERR_LIMIT', `chunk size ${chunkSize} is not a power of two from 16 KiB to 4 MiB`);
  }
  if (!(contextMap instanceof Map)) throw new SealboxError('ERR_FORMAT', 'the protected header lacks its encryption context map');
  const context: EncryptionContext = {};
  for (const [key, value] of contextMap) {
    if (typeof key !== 'string' || typeof value !== 'string') {
      throw new SealboxError('ERR_FORMAT', 'encryption context entries must be text strings');
    }
    Object.defineProperty(context, key, { value, enumerable: true, writable: true, configurable: true });
  }
  let checked: EncryptionContext;
  try {
    checked = validateContext(context, limits);
  } catch (error) {
    if (error instanceof SealboxError && error.code === 'ERR_INVALID_ARGUMENT') throw new SealboxError('ERR_FORMAT', error.message);
    throw error;
  }
  return { suite, chunkSize, context: checked };
}

function decodeRecipient(item: CborValue, limits: EnvelopeLimits): Recipient {
  if (!Array.isArray(item) || item.length !== 4) throw new SealboxError('ERR_FORMAT', 'a recipient must be a CBOR array of four items');
  const [type, keyId, wrappedKey, params] = item;
  if (typeof type !== 'number') throw new SealboxError('ERR_FORMAT', 'a recipient type must be an unsigned integer');
  if (typeof keyId !== 'string') throw new SealboxError('ERR_FORMAT', 'a recipient key id must be a text string');
  if (!(wrappedKey instanceof Uint8Array)) throw new SealboxError('ERR_FORMAT', 'a wrapped key must be a byte string');
  if (!(params instanceof Map)) throw new SealboxError('ERR_FORMAT', 'recipient params must be a CBOR map');
  if (utf8Encode(keyId).length > limits.maxKeyIdBytes) throw new SealboxError('ERR_LIMIT', 'a recipient key id is too long');
  if (wrappedKey.length === 0 || wrappedKey.length > limits.maxWrappedKeyBytes) {
    throw new SealboxError(wrappedKey.length === 0 ? 'ERR_FORMAT' : 'ERR_LIMIT', `a wrapped key of ${wrappedKey.length} bytes is out of range`);
  }
  for (const key of params.keys()) if (typeof key !== 'number') throw new SealboxError('ERR_FORMAT', 'recipient params keys must be integers');
  const recipient: Recipient = { type, keyId, wrappedKey, params: params as Map<number, CborValue> };
  checkKnownRecipient(recipient);
  return recipient;
}

/** Known types have fixed params; unknown types are kept as they are. */
function checkKnownRecipient(recipient: Recipient): void {
  const allowed: number[] | undefined = {
    [RECIPIENT_KMS]: [],
    [RECIPIENT_RSA_OAEP_256]: [],
    [RECIPIENT_RAW_AES_256_GCM]: [PARAM_IV],
  }[recipient.type];
  if (!allowed) return;
  for (const key of recipient.params.keys()) {
    if (!allowed.includes(key)) throw new SealboxError('ERR_FORMAT', `unknown param ${key} for a ${RECIPIENT_TYPE_NAMES[recipient.type]} recipient`);
  }
  if (recipient.type === RECIPIENT_RAW_AES_256_GCM) {
    const iv = recipient.params.get(PARAM_IV);
    if (!(iv instanceof Uint8Array) || iv.length !== 12) throw new SealboxError('ERR_FORMAT', 'a raw-aes-256-gcm recipient needs a 12-byte IV');
  }
}

export function headerInfo(parsed: ParsedHeader): HeaderInfo {
  return {
    version: FORMAT_VERSION,
    suite: SUITE_NAMES[parsed.protected.suite] ?? `unknown(${parsed.protected.suite})`,
    chunkSize: parsed.protected.chunkSize,
    context: { ...parsed.protected.context },
    recipients: parsed.recipients.map((r) => ({
      type: RECIPIENT_TYPE_NAMES[r.type] ?? `unknown(${r.type})`,
      typeId: r.type,
      keyId: r.keyId,
      wrappedKeyLength: r.wrappedKey.length,
    })),
    headerLength: parsed.headerLength,
  };
}

/**
 * The `header` promise a decrypting stream hands out before it has read the header: settled by the
 * stream later. Nobody has to look at it, so its rejection is never an unhandled one.
 */
export function pendingHeader(): { promise: Promise<HeaderInfo>; resolve(info: HeaderInfo): void; reject(error: unknown): void } {
  let resolve!: (info: HeaderInfo) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<HeaderInfo>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
