/**
 * Rewrap: move an envelope to a new key (or a rotated key's newest version) by rewriting its
 * recipients only. The protected header is kept byte for byte, so the salt, the commitment and
 * every chunk stay valid: the payload bytes are unchanged.
 *
 * Two ways:
 * - through KMS `ReEncrypt` (`{ client, destinationKeyId, sourceKeyId? }`): the KMS decrypts and
 *   re-encrypts inside itself and the caller never sees the data key. The `kms` recipients of the
 *   source key (by default: all `kms` recipients) are tried in order until one re-encrypts; all of
 *   them are replaced by the new recipient, placed first; other recipients are kept.
 * - through keyrings (`{ keyring, newKeyring? }`): `keyring` unwraps the data key as bytes, the
 *   commitment is checked, and `newKeyring` (default: `keyring`) wraps the same key; its recipients
 *   replace all the old ones. A keyring that returns a non-extractable CryptoKey (an RSA private
 *   key imported with `unwrapKey` usage) cannot be used: import the private key with `decrypt`
 *   usage only, or rewrap through the KMS.
 *
 * Big stored objects: `rewrapHeader(head)` takes only the start of the object, at least the
 * prefix and header (`envelopeHeadLength(first8Bytes)` bytes with salt and commitment, which the
 * keyring way needs), and returns the same bytes with the header replaced. The new header's length
 * usually differs (other key ARNs and wrapped-key sizes), so a store writes `newHead ‖ the object
 * from head.length on`: e.g. an S3 multipart upload (new head plus 5 MiB re-uploaded, the rest by `UploadPartCopy`), or a
 * store that keeps heads and bodies apart.
 */
import { SealboxError, isSealboxError } from '../errors.js';
import { equalBytesConstantTime, isBytes, readU32BE, wipe } from '../crypto/bytes.js';
import { type EnvelopeLimits, PREFIX_BYTES, RECIPIENT_KMS, resolveLimits } from '../format/constants.js';
import { type ParsedHeader, type Recipient, encodeEnvelopeHeader, headerAad, parseEnvelopeHeader } from '../format/header.js';
import type { KmsClient } from '../client/kms-client.js';
import type { Keyring } from '../keyring/types.js';
import { DATA_KEY_BYTES } from '../keyring/types.js';
import { COBBLESTONE_HEADER_BYTES, COMMITMENT_BYTES, SALT_BYTES, checkCommitment, deriveMessageKeys } from '../payload/cobblestone.js';

/**
 * Rewrap through the KMS: its `kms` recipients are re-encrypted with `ReEncrypt`, the data key never leaves the KMS.
 *
 * @example
 * ```ts
 * await rewrap(envelope, { client, destinationKeyId: 'alias/app', sourceKeyId: oldKeyArn });
 * ```
 */
export interface RewrapWithKmsOptions {
  client: KmsClient;
  /** Key (ARN, id or alias) to move to. The same key as the source moves to its newest version. */
  destinationKeyId: string;
  /** Only `kms` recipients of this key (ARN, id or alias ARN as stored) are re-encrypted and replaced. */
  sourceKeyId?: string;
  grantTokens?: string[];
  limits?: Partial<EnvelopeLimits>;
}

/**
 * Rewrap with keyrings: `keyring` unwraps the data key, `newKeyring` wraps it again.
 *
 * @example
 * ```ts
 * await rewrap(envelope, { keyring: new RawAesKeyring({ keyName: 'old', key: oldKey }), newKeyring });
 * ```
 */
export interface RewrapWithKeyringOptions {
  /** Unwraps the data key (must give bytes, not a CryptoKey). */
  keyring: Keyring;
  /** Wraps the data key again; its recipients replace all old ones. Default: `keyring`. */
  newKeyring?: Keyring;
  limits?: Partial<EnvelopeLimits>;
}

/**
 * Options of `rewrap` and `rewrapHeader`: through the KMS (`ReEncrypt`), or with keyrings.
 *
 * @example
 * ```ts
 * await rewrap(envelope, { keyring: oldKeyring, newKeyring }); // or { client, destinationKeyId }
 * ```
 */
export type RewrapOptions = RewrapWithKmsOptions | RewrapWithKeyringOptions;

/**
 * Rewraps a whole envelope; the bytes after the header are copied unchanged.
 *
 * @example
 * ```ts
 * const moved = await rewrap(envelope, { client, destinationKeyId: 'alias/app-2026' });
 * ```
 */
export function rewrap(envelope: Uint8Array, options: RewrapOptions): Promise<Uint8Array> {
  return rewrapHeader(envelope, options);
}

/**
 * From the first 8 bytes of an envelope: how many bytes `rewrapHeader` needs (prefix, header,
 * salt and commitment).
 *
 * @example
 * ```ts
 * const length = envelopeHeadLength(first8Bytes); // then read that many bytes for rewrapHeader
 * ```
 */
export function envelopeHeadLength(first8Bytes: Uint8Array): number {
  if (!isBytes(first8Bytes) || first8Bytes.length < PREFIX_BYTES) throw new SealboxError('ERR_TRUNCATED', 'need the 8-byte envelope prefix');
  return PREFIX_BYTES + readU32BE(first8Bytes, 4) + COBBLESTONE_HEADER_BYTES;
}

/**
 * Rewraps the start of an envelope: returns `new prefix and header ‖ head.subarray(old header
 * length)`. Bytes of the object past `head` are not needed and not touched.
 *
 * @example
 * ```ts
 * const head = await readBytes(0, envelopeHeadLength(await readBytes(0, 8)));
 * const newHead = await rewrapHeader(head, { keyring: oldKeyring, newKeyring });
 * ```
 */
export async function rewrapHeader(head: Uint8Array, options: RewrapOptions): Promise<Uint8Array> {
  if (!isBytes(head)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'rewrap expects the envelope (or its head) as a Uint8Array');
  if (!options || typeof options !== 'object') throw new SealboxError('ERR_INVALID_ARGUMENT', 'rewrap needs options: { client, destinationKeyId } or { keyring, newKeyring }');
  const limits = resolveLimits(options.limits);
  const parsed = parseEnvelopeHeader(head, limits);
  let recipients: Recipient[];
  if ('client' in options && options.client) recipients = await viaReEncrypt(parsed, options);
  else if ('keyring' in options && options.keyring) recipients = await viaKeyrings(parsed, head, options);
  else throw new SealboxError('ERR_INVALID_ARGUMENT', 'rewrap needs { client, destinationKeyId } or { keyring, newKeyring }');
  const header = encodeEnvelopeHeader(parsed.protectedBytes, recipients, limits);
  const rest = head.subarray(parsed.headerLength);
  const out = new Uint8Array(header.length + rest.length);
  out.set(header, 0);
  out.set(rest, header.length);
  return out;
}

async function viaReEncrypt(parsed: ParsedHeader, options: RewrapWithKmsOptions): Promise<Recipient[]> {
  const { client, destinationKeyId, sourceKeyId } = options;
  if (typeof destinationKeyId !== 'string' || destinationKeyId === '') throw new SealboxError('ERR_INVALID_ARGUMENT', 'rewrap needs a destinationKeyId');
  const context = parsed.protected.context;
  const hasContext = Object.keys(context).length > 0;
  const isSource = (r: Recipient) =>
    r.type === RECIPIENT_KMS && (sourceKeyId === undefined || r.keyId === sourceKeyId || r.keyId.endsWith(`:key/${sourceKeyId}`));
  const sources = parsed.recipients.filter(isSource);
  if (sources.length === 0) {
    throw new SealboxError('ERR_NO_KEYRING_MATCH', `the envelope has no kms recipient${sourceKeyId === undefined ? '' : ` for ${sourceKeyId}`} to re-encrypt`);
  }
  const errors: SealboxError[] = [];
  for (const source of sources) {
    try {
      const out = await client.reEncrypt({
        CiphertextBlob: source.wrappedKey,
        SourceKeyId: source.keyId,
        DestinationKeyId: destinationKeyId,
        ...(hasContext ? { SourceEncryptionContext: context, DestinationEncryptionContext: context } : {}),
        ...(options.grantTokens ? { GrantTokens: options.grantTokens } : {}),
      });
      if (!(out.CiphertextBlob instanceof Uint8Array) || typeof out.KeyId !== 'string') throw new SealboxError('ERR_KMS', 'ReEncrypt returned no CiphertextBlob or KeyId');
      const fresh: Recipient = { type: RECIPIENT_KMS, keyId: out.KeyId, wrappedKey: out.CiphertextBlob, params: new Map() };
      return [fresh, ...parsed.recipients.filter((r) => !isSource(r))];
    } catch (error) {
      if (isSealboxError(error, 'ERR_ABORTED') || !isSealboxError(error)) throw error;
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0]!;
  throw new SealboxError('ERR_NO_KEYRING_MATCH', `ReEncrypt failed for every source recipient: ${errors.map((e) => e.message).join('; ')}`, { cause: new AggregateError(errors) });
}

async function viaKeyrings(parsed: ParsedHeader, head: Uint8Array, options: RewrapWithKeyringOptions): Promise<Recipient[]> {
  const cobblestone = head.subarray(parsed.headerLength, parsed.headerLength + COBBLESTONE_HEADER_BYTES);
  if (cobblestone.length < COBBLESTONE_HEADER_BYTES) {
    throw new SealboxError('ERR_TRUNCATED', 'rewrap through keyrings needs the salt and commitment after the header (envelopeHeadLength bytes)');
  }
  const salt = cobblestone.subarray(0, SALT_BYTES);
  const commitment = cobblestone.subarray(SALT_BYTES, SALT_BYTES + COMMITMENT_BYTES);
  const aad = headerAad(parsed.protectedBytes);
  const context = parsed.protected.context;
  const unwrapped = await options.keyring.unwrapDataKey({ context, headerAad: aad, recipients: parsed.recipients, salt, commitment });
  if (unwrapped === undefined) {
    throw new SealboxError('ERR_NO_KEYRING_MATCH', `none of the envelope's recipients (${parsed.recipients.map((r) => `${r.type}:${r.keyId}`).join(', ')}) belongs to this keyring`);
  }
  if (!(unwrapped instanceof Uint8Array)) {
    throw new SealboxError(
      'ERR_UNSUPPORTED',
      'rewrap through keyrings needs the data key as bytes, but the keyring gave a non-extractable CryptoKey (an RSA private key with unwrapKey usage): ' +
        'give RsaOaepKeyring a private CryptoKey with only "decrypt" usage, or rewrap through KMS ReEncrypt',
    );
  }
  const dataKey = unwrapped;
  try {
    if (dataKey.length !== DATA_KEY_BYTES) throw new SealboxError('ERR_INVALID_ARGUMENT', 'the keyring returned a data key that is not 32 bytes');
    // Never wrap a wrong key: the commitment must hold before anything is rewritten.
    checkCommitment(await deriveMessageKeys(dataKey, salt, aad), commitment);
    const wrapped = await (options.newKeyring ?? options.keyring).wrapDataKey({ context, headerAad: aad, dataKey: dataKey.slice() });
    try {
      if (!isBytes(wrapped?.dataKey) || !equalBytesConstantTime(wrapped.dataKey, dataKey) || !Array.isArray(wrapped.recipients) || wrapped.recipients.length === 0) {
        throw new SealboxError('ERR_INVALID_ARGUMENT', 'the new keyring did not wrap the given data key (it must honour WrapRequest.dataKey)');
      }
      return wrapped.recipients;
    } finally {
      wipe(wrapped?.dataKey);
    }
  } finally {
    wipe(dataKey);
  }
}
