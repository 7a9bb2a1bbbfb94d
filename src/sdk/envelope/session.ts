/**
 * The two ends of every envelope operation, shared by one-shot encrypt/decrypt, the streams and
 * ranged decryption: building a header and message keys, and recovering the keys from a header.
 */
import { SealboxError } from '../errors.js';
import { randomBytes } from '../crypto/backend.js';
import { concatBytes, isBytes, wipe } from '../crypto/bytes.js';
import {
  DEFAULT_CHUNK_SIZE,
  type EnvelopeLimits,
  SUITE_COBBLESTONE_256,
  isValidChunkSize,
  resolveLimits,
} from '../format/constants.js';
import {
  type EncryptionContext,
  type ParsedHeader,
  encodeEnvelopeHeader,
  encodeProtected,
  headerAad,
  validateContext,
} from '../format/header.js';
import type { Keyring, WrapRequest } from '../keyring/types.js';
import { DATA_KEY_BYTES } from '../keyring/types.js';
import {
  COMMITMENT_BYTES,
  type MessageKeys,
  SALT_BYTES,
  checkCommitment,
  deriveMessageKeys,
} from '../payload/cobblestone.js';
import type { WorkerOptions } from '../payload/batching.js';

/**
 * Options of `encrypt` and `EncryptStream`.
 *
 * @example
 * ```ts
 * await encrypt(data, { keyring, context: { tenant: 'acme' }, chunkSize: 64 * 1024 });
 * ```
 */
export interface EncryptOptions extends WorkerOptions {
  keyring: Keyring;
  /** Authenticated, stored in clear in the header, and sent to the KMS as `EncryptionContext`. */
  context?: EncryptionContext;
  /** Power of two from 16 KiB (the default, the Cobblestone standard) to 4 MiB. */
  chunkSize?: number;
  limits?: Partial<EnvelopeLimits>;
  /** The plaintext length, when known in advance: lets a caching keyring enforce its byte limit. */
  plaintextLength?: number;
  /**
   * Fixes the 24-byte salt. Only for test vectors and reproducible tests: a salt must never repeat
   * for the same data key, and by default it is random.
   */
  salt?: Uint8Array;
}

/**
 * Options of `decrypt`, `DecryptStream` and `decryptRange`.
 *
 * @example
 * ```ts
 * await decrypt(envelope, { keyring, expectContext: { tenant: 'acme' } });
 * ```
 */
export interface DecryptOptions extends WorkerOptions {
  keyring: Keyring;
  /** Each pair must be present in the envelope's context, or decryption fails with ERR_CONTEXT_MISMATCH. */
  expectContext?: EncryptionContext;
  limits?: Partial<EnvelopeLimits>;
}

export interface EncryptionSession {
  /** Everything before the first chunk: prefix, CBOR header, salt and commitment. */
  head: Uint8Array;
  keys: MessageKeys;
  chunkSize: number;
  context: EncryptionContext;
}

function checkKeyring(keyring: unknown): asserts keyring is Keyring {
  const k = keyring as Partial<Keyring> | undefined;
  if (!k || typeof k.wrapDataKey !== 'function' || typeof k.unwrapDataKey !== 'function') {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'options.keyring must be a keyring (RawAesKeyring, RsaOaepKeyring, KmsKeyring, MultiKeyring…)');
  }
}

export async function startEncryption(options: EncryptOptions): Promise<EncryptionSession> {
  if (!options || typeof options !== 'object') throw new SealboxError('ERR_INVALID_ARGUMENT', 'encryption needs options with a keyring');
  checkKeyring(options.keyring);
  const limits = resolveLimits(options.limits);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!isValidChunkSize(chunkSize)) {
    throw new SealboxError('ERR_LIMIT', `chunkSize ${chunkSize} is not a power of two from 16384 (16 KiB) to 4194304 (4 MiB)`);
  }
  const context = validateContext(options.context, limits);
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  if (!isBytes(salt) || salt.length !== SALT_BYTES) throw new SealboxError('ERR_INVALID_ARGUMENT', `salt must be ${SALT_BYTES} bytes`);

  const protectedBytes = encodeProtected({ suite: SUITE_COBBLESTONE_256, chunkSize, context });
  const aad = headerAad(protectedBytes);
  const request: WrapRequest = { context, headerAad: aad };
  if (options.plaintextLength !== undefined) request.plaintextLength = options.plaintextLength;
  const wrapped = await options.keyring.wrapDataKey(request);
  if (!isBytes(wrapped?.dataKey) || wrapped.dataKey.length !== DATA_KEY_BYTES || !Array.isArray(wrapped.recipients)) {
    throw new SealboxError('ERR_INVALID_ARGUMENT', 'the keyring returned no 32-byte data key or no recipients');
  }
  try {
    const header = encodeEnvelopeHeader(protectedBytes, wrapped.recipients, limits);
    const keys = await deriveMessageKeys(wrapped.dataKey, salt, aad);
    return { head: concatBytes(header, salt, keys.commitment), keys, chunkSize, context };
  } finally {
    wipe(wrapped.dataKey);
  }
}

export function checkExpectedContext(context: EncryptionContext, expected: EncryptionContext | undefined): void {
  if (expected === undefined) return;
  if (typeof expected !== 'object' || expected === null) throw new SealboxError('ERR_INVALID_ARGUMENT', 'expectContext must be an object');
  for (const [key, value] of Object.entries(expected)) {
    if (!Object.hasOwn(context, key) || context[key] !== value) {
      throw new SealboxError(
        'ERR_CONTEXT_MISMATCH',
        Object.hasOwn(context, key)
          ? `the envelope's context has ${key}=${JSON.stringify(context[key])}, expected ${JSON.stringify(value)}`
          : `the envelope's context lacks the expected key "${key}"`,
      );
    }
  }
}

/**
 * Unwraps the data key and derives the message keys; checks the commitment (constant time)
 * before anything is decrypted. `cobblestoneHead` is the 56 bytes of salt and commitment.
 */
export async function startDecryption(parsed: ParsedHeader, cobblestoneHead: Uint8Array, options: DecryptOptions): Promise<MessageKeys> {
  checkKeyring(options?.keyring);
  checkExpectedContext(parsed.protected.context, options.expectContext);
  const aad = headerAad(parsed.protectedBytes);
  const salt = cobblestoneHead.subarray(0, SALT_BYTES);
  const commitment = cobblestoneHead.subarray(SALT_BYTES, SALT_BYTES + COMMITMENT_BYTES);
  const dataKey = await options.keyring.unwrapDataKey({ context: parsed.protected.context, headerAad: aad, recipients: parsed.recipients, salt, commitment });
  if (dataKey === undefined) {
    const list = parsed.recipients.map((r) => `${r.type}:${r.keyId}`).join(', ');
    throw new SealboxError('ERR_NO_KEYRING_MATCH', `none of the envelope's recipients (${list}) belongs to this keyring`);
  }
  try {
    const keys = await deriveMessageKeys(dataKey, salt, aad);
    checkCommitment(keys, commitment);
    return keys;
  } finally {
    if (dataKey instanceof Uint8Array) wipe(dataKey);
  }
}
