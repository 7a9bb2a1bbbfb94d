/**
 * A keyring wraps a message's data key for one or more recipients, and unwraps it again. It is
 * a small public interface, so a keyring for another KMS (Vault, GCP, Azure) is a page of code.
 */
import type { EncryptionContext, Recipient } from '../format/header.js';

/**
 * A 32-byte data key: bytes, or a non-extractable HMAC SHA-512 CryptoKey (what RSA `unwrapKey`
 * gives, so the key never exists as bytes in JavaScript).
 *
 * @example
 * ```ts
 * const key: DataKey | undefined = await keyring.unwrapDataKey(request);
 * ```
 */
export type DataKey = Uint8Array | CryptoKey;

/**
 * What a keyring gets to wrap a data key: the context, the header AAD, and the key when another keyring made it.
 *
 * @example
 * ```ts
 * const { dataKey, recipients } = await keyring.wrapDataKey(request);
 * ```
 */
export interface WrapRequest {
  context: EncryptionContext;
  /** magic ‖ version ‖ protected header bytes: the AAD for schemes that take one. */
  headerAad: Uint8Array;
  /** Present when another keyring already generated the data key: wrap this one, don't make one. */
  dataKey?: Uint8Array;
  /** The message's plaintext length when known (one-shot encrypt), for caching keyrings' byte limits. */
  plaintextLength?: number;
}

/**
 * What a keyring gives back from `wrapDataKey`: the data key and its wrapped copies.
 *
 * @example
 * ```ts
 * const { dataKey, recipients } = await keyring.wrapDataKey(request);
 * ```
 */
export interface WrapResult {
  /**
   * The 32-byte data key (the one passed in, or a fresh one). The caller wipes it after use, so a
   * keyring that keeps the key (a cache) must hand out a copy.
   */
  dataKey: Uint8Array;
  recipients: Recipient[];
}

/**
 * What a keyring gets to unwrap: the context, the header AAD and the envelope's recipients.
 *
 * @example
 * ```ts
 * const dataKey = await keyring.unwrapDataKey(request); // undefined: no recipient is this keyring's
 * ```
 */
export interface UnwrapRequest {
  context: EncryptionContext;
  headerAad: Uint8Array;
  recipients: readonly Recipient[];
  /**
   * The payload's salt (24 bytes) and key commitment (32 bytes). A keyring that unwraps through
   * a proxy sends them along for RSA recipients, so the proxy can check the commitment and apply
   * its policy to the context the commitment authenticates.
   */
  salt: Uint8Array;
  commitment: Uint8Array;
}

/**
 * Wraps and unwraps data keys; the extension point for key management. Sealbox's keyrings implement it, and so can yours.
 *
 * @example
 * ```ts
 * const keyring: Keyring = new MultiKeyring({ generator: kmsKeyring, others: [recoveryKeyring] });
 * ```
 */
export interface Keyring {
  wrapDataKey(request: WrapRequest): Promise<WrapResult>;
  /**
   * Resolves to the data key, or to `undefined` when no recipient is this keyring's. Throws a
   * SealboxError when a recipient is this keyring's but unwrapping it failed (access denied,
   * disabled key, wrong key material…), so the caller can say why.
   */
  unwrapDataKey(request: UnwrapRequest): Promise<DataKey | undefined>;
}

export const DATA_KEY_BYTES = 32;
