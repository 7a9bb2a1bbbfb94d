/** Every number of the v1 envelope format, as docs/FORMAT.md fixes them. */

/** "SBX" followed by the format version. */
export const MAGIC = Uint8Array.of(0x53, 0x42, 0x58);
export const FORMAT_VERSION = 1;
/** magic (3) ‖ version (1) ‖ u32 BE header length (4). */
export const PREFIX_BYTES = 8;

/** Integer keys of the protected header map. */
export const PROTECTED_SUITE = 1;
export const PROTECTED_CHUNK_SIZE = 2;
export const PROTECTED_CONTEXT = 3;

/** Suite ids. */
export const SUITE_COBBLESTONE_256 = 1;
export const SUITE_NAMES: Record<number, string> = { [SUITE_COBBLESTONE_256]: 'cobblestone-256' };

/** Recipient types. */
export const RECIPIENT_KMS = 1;
export const RECIPIENT_RSA_OAEP_256 = 2;
export const RECIPIENT_RAW_AES_256_GCM = 3;
export const RECIPIENT_TYPE_NAMES: Record<number, string> = {
  [RECIPIENT_KMS]: 'kms',
  [RECIPIENT_RSA_OAEP_256]: 'rsa-oaep-256',
  [RECIPIENT_RAW_AES_256_GCM]: 'raw-aes-256-gcm',
};
/** Integer keys of a raw-aes-256-gcm recipient's params map. */
export const PARAM_IV = 1;

export const DEFAULT_CHUNK_SIZE = 16384;
export const MIN_CHUNK_SIZE = 16384;
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;

/**
 * Bounds on what an envelope may declare (header size, recipients, context, key ids); each has a default and an error code.
 *
 * @example
 * ```ts
 * await decrypt(envelope, { keyring, limits: { maxHeaderBytes: 16384 } });
 * ```
 */
export interface EnvelopeLimits {
  /** Largest CBOR header accepted, in bytes (the u32 length field is checked against it first). */
  maxHeaderBytes: number;
  maxRecipients: number;
  maxContextEntries: number;
  /** Sum of the UTF-8 lengths of all context keys and values. */
  maxContextBytes: number;
  maxKeyIdBytes: number;
  maxWrappedKeyBytes: number;
}

/**
 * The limits every envelope is parsed under, unless `limits` overrides some of them.
 *
 * @example
 * ```ts
 * await decrypt(envelope, { keyring, limits: { maxRecipients: DEFAULT_LIMITS.maxRecipients * 2 } });
 * ```
 */
export const DEFAULT_LIMITS: Readonly<EnvelopeLimits> = Object.freeze({
  maxHeaderBytes: 65536,
  maxRecipients: 10,
  maxContextEntries: 64,
  maxContextBytes: 8192,
  maxKeyIdBytes: 2048,
  maxWrappedKeyBytes: 6144,
});

export function resolveLimits(overrides?: Partial<EnvelopeLimits>): EnvelopeLimits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

export function isValidChunkSize(size: number): boolean {
  return Number.isInteger(size) && size >= MIN_CHUNK_SIZE && size <= MAX_CHUNK_SIZE && (size & (size - 1)) === 0;
}
