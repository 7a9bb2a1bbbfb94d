/**
 * Wraps the data key with an RSA public key (RSA-OAEP, SHA-256, empty label), so encrypting
 * needs no network: the public key can be a KMS asymmetric key's `GetPublicKey` SPKI. Decrypting
 * needs the private key here, or the KMS (through the proxy) for a KMS key.
 */
import { SealboxError } from '../errors.js';
import { randomBytes, requireSubtle } from '../crypto/backend.js';
import { toHex } from '../crypto/bytes.js';
import { type RsaKeyInput, importRsaPrivateKey, importRsaPublicKey, rsaOaepEncrypt, rsaOaepUnwrapDataKey, spkiOf } from '../crypto/rsa-oaep.js';
import { RECIPIENT_RSA_OAEP_256 } from '../format/constants.js';
import type { DataKey, Keyring, UnwrapRequest, WrapRequest, WrapResult } from './types.js';
import { DATA_KEY_BYTES } from './types.js';

/**
 * Options of `RsaOaepKeyring`: a public key to encrypt, a private key to decrypt.
 *
 * @example
 * ```ts
 * new RsaOaepKeyring({ privateKey: pkcs8Pem });
 * ```
 */
export interface RsaOaepKeyringOptions {
  /** SPKI (DER bytes or PEM "PUBLIC KEY") or a CryptoKey; needed to encrypt. */
  publicKey?: RsaKeyInput;
  /** PKCS#8 (DER bytes or PEM "PRIVATE KEY") or a CryptoKey; needed to decrypt. */
  privateKey?: RsaKeyInput;
  /**
   * Stored as the recipient's key id (e.g. a KMS key ARN). Defaults to "sha256:" + hex SHA-256 of
   * the SPKI. Without it, decryption tries every RSA recipient.
   */
  keyId?: string;
}

/**
 * A keyring for an RSA key pair (RSA-OAEP-256, empty label): encrypts offline with the public key (a KMS asymmetric key's, say); decrypts with the private key.
 *
 * @example
 * ```ts
 * const keyring = new RsaOaepKeyring({ publicKey: spkiPem, keyId: kmsKeyArn });
 * ```
 */
export class RsaOaepKeyring implements Keyring {
  readonly #publicKey?: Promise<CryptoKey>;
  readonly #privateKey?: Promise<CryptoKey>;
  readonly #keyId?: string;
  #defaultKeyId?: Promise<string>;

  constructor(options: RsaOaepKeyringOptions) {
    if (!options || (options.publicKey === undefined && options.privateKey === undefined)) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'RsaOaepKeyring needs a publicKey (to encrypt), a privateKey (to decrypt), or both');
    }
    if (options.keyId !== undefined && (typeof options.keyId !== 'string' || options.keyId.length === 0)) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'keyId must be a non-empty string');
    }
    if (options.publicKey !== undefined) this.#publicKey = silence(importRsaPublicKey(options.publicKey));
    if (options.privateKey !== undefined) this.#privateKey = silence(importRsaPrivateKey(options.privateKey));
    if (options.keyId !== undefined) this.#keyId = options.keyId;
  }

  /** The key id written into envelopes. */
  async keyId(): Promise<string> {
    if (this.#keyId) return this.#keyId;
    if (!this.#publicKey) throw new SealboxError('ERR_INVALID_ARGUMENT', 'a keyId needs the public key or an explicit keyId');
    this.#defaultKeyId ??= this.#publicKey.then(async (key) => {
      const digest = await requireSubtle('RSA-OAEP').digest('SHA-256', (await spkiOf(key)) as BufferSource);
      return `sha256:${toHex(new Uint8Array(digest))}`;
    });
    return this.#defaultKeyId;
  }

  async wrapDataKey(request: WrapRequest): Promise<WrapResult> {
    if (!this.#publicKey) throw new SealboxError('ERR_INVALID_ARGUMENT', 'this RsaOaepKeyring has no public key, so it cannot encrypt');
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_BYTES);
    const wrappedKey = await rsaOaepEncrypt(await this.#publicKey, dataKey);
    return { dataKey, recipients: [{ type: RECIPIENT_RSA_OAEP_256, keyId: await this.keyId(), wrappedKey, params: new Map() }] };
  }

  async unwrapDataKey(request: UnwrapRequest): Promise<DataKey | undefined> {
    if (!this.#privateKey) return undefined;
    const keyId = this.#keyId ?? (this.#publicKey ? await this.keyId() : undefined);
    const mine = request.recipients.filter((r) => r.type === RECIPIENT_RSA_OAEP_256 && (keyId === undefined || r.keyId === keyId));
    if (mine.length === 0) return undefined;
    const privateKey = await this.#privateKey;
    for (const recipient of mine) {
      const dataKey = await rsaOaepUnwrapDataKey(privateKey, recipient.wrappedKey);
      if (dataKey) return dataKey;
    }
    throw new SealboxError('ERR_NO_KEYRING_MATCH', 'the RSA private key did not unwrap any RSA recipient: a different key pair, or a damaged wrapped key');
  }
}

function silence<T>(promise: Promise<T>): Promise<T> {
  // Errors surface when the key is used; don't let them become unhandled rejections before that.
  promise.catch(() => {});
  return promise;
}
