/**
 * Wraps the data key with a 256-bit AES key the application holds: AES-256-GCM, random 12-byte
 * IV (stored in the recipient's params), AAD = magic ‖ version ‖ protected header.
 */
import { SealboxError } from '../errors.js';
import { type AeadKey, aesGcmOpen, aesGcmSeal, importAeadKey } from '../crypto/aes-gcm.js';
import { randomBytes } from '../crypto/backend.js';
import { isBytes } from '../crypto/bytes.js';
import { PARAM_IV, RECIPIENT_RAW_AES_256_GCM } from '../format/constants.js';
import type { Keyring, UnwrapRequest, WrapRequest, WrapResult, DataKey } from './types.js';
import { DATA_KEY_BYTES } from './types.js';

/**
 * Options of `RawAesKeyring`.
 *
 * @example
 * ```ts
 * new RawAesKeyring({ keyName: 'backup-2026', key: rawKeyBytes });
 * ```
 */
export interface RawAesKeyringOptions {
  /** Stored in the envelope as the recipient's key id; decryption looks the key up by it. */
  keyName: string;
  /** 32 raw bytes. */
  key: Uint8Array;
}

/**
 * A keyring holding a 256-bit AES key itself (no KMS): wraps the data key with AES-256-GCM.
 *
 * @example
 * ```ts
 * const keyring = new RawAesKeyring({ keyName: 'k1', key: crypto.getRandomValues(new Uint8Array(32)) });
 * ```
 */
export class RawAesKeyring implements Keyring {
  readonly keyName: string;
  readonly #key: Promise<AeadKey>;

  constructor(options: RawAesKeyringOptions) {
    if (typeof options?.keyName !== 'string' || options.keyName.length === 0) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'RawAesKeyring needs a non-empty keyName');
    }
    if (!isBytes(options.key) || options.key.length !== 32) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'RawAesKeyring needs a 32-byte (256-bit) key');
    }
    this.keyName = options.keyName;
    this.#key = importAeadKey(options.key);
    this.#key.catch(() => {});
  }

  async wrapDataKey(request: WrapRequest): Promise<WrapResult> {
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_BYTES);
    const iv = randomBytes(12);
    const wrappedKey = await aesGcmSeal(await this.#key, iv, dataKey, request.headerAad);
    return {
      dataKey,
      recipients: [{ type: RECIPIENT_RAW_AES_256_GCM, keyId: this.keyName, wrappedKey, params: new Map([[PARAM_IV, iv]]) }],
    };
  }

  async unwrapDataKey(request: UnwrapRequest): Promise<DataKey | undefined> {
    const mine = request.recipients.filter((r) => r.type === RECIPIENT_RAW_AES_256_GCM && r.keyId === this.keyName);
    if (mine.length === 0) return undefined;
    const key = await this.#key;
    for (const recipient of mine) {
      const iv = recipient.params.get(PARAM_IV) as Uint8Array;
      const dataKey = await aesGcmOpen(key, iv, recipient.wrappedKey, request.headerAad);
      if (dataKey && dataKey.length === DATA_KEY_BYTES) return dataKey;
    }
    throw new SealboxError(
      'ERR_NO_KEYRING_MATCH',
      `the raw AES key "${this.keyName}" did not unwrap its recipient: a different key under the same name, or a changed header`,
    );
  }
}
