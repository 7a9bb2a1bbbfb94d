/**
 * A keyring backed by a KMS (AWS KMS, the Sealbox local KMS, or either behind the Sealbox proxy).
 *
 * Symmetric keys (docs/FORMAT.md §5, type 1 `kms`): `GenerateDataKey` with the envelope's context
 * as `EncryptionContext` makes and wraps the data key in one call; each additional key wraps the
 * same key with `Encrypt`. Unwrap is `Decrypt` with the same context.
 *
 * RSA keys (type 2 `rsa-oaep-256`, keyId = the key ARN): the data key is wrapped offline with the
 * key's public key (`GetPublicKey` once per keyring), so encrypting needs no KMS call after the
 * first. Unwrap is `Decrypt` with `RSAES_OAEP_SHA_256`, sending the envelope's protected header,
 * salt and commitment as `SealboxEnvelope`, so a Sealbox proxy can check the commitment and apply
 * its policy to the context it authenticates (a KMS called directly ignores the member).
 *
 * Key type: from `keyTypes` when given; otherwise a key is tried as symmetric first, and a KMS
 * answer of `InvalidKeyUsageException` makes the keyring fetch its public key and remember that
 * it is an RSA key. So symmetric keys need no extra call (and no `kms:DescribeKey` permission).
 */
import { SealboxError, isSealboxError } from '../errors.js';
import { randomBytes } from '../crypto/backend.js';
import { importRsaPublicKey, rsaOaepEncrypt } from '../crypto/rsa-oaep.js';
import { RECIPIENT_KMS, RECIPIENT_RSA_OAEP_256 } from '../format/constants.js';
import type { EncryptionContext, Recipient } from '../format/header.js';
import { KmsClient, KmsRequestError } from '../client/kms-client.js';
import type { DataKey, Keyring, UnwrapRequest, WrapRequest, WrapResult } from './types.js';
import { DATA_KEY_BYTES } from './types.js';

/**
 * How a KMS key wraps data keys: `symmetric` (the KMS makes and wraps them) or `rsa` (wrapped offline with its public key).
 *
 * @example
 * ```ts
 * new KmsKeyring({ client, keyId, keyTypes: { [keyId]: 'rsa' } });
 * ```
 */
export type KmsKeyType = 'symmetric' | 'rsa';

/**
 * Options of `KmsKeyring`.
 *
 * @example
 * ```ts
 * new KmsKeyring({ client, keyId: 'alias/app', additionalKeyIds: ['arn:aws:kms:eu-west-1:111122223333:alias/app'] });
 * ```
 */
export interface KmsKeyringOptions {
  client: KmsClient;
  /** Key ARN, key id, alias name (`alias/x`) or alias ARN. Generates (symmetric) or wraps (RSA) the data key. */
  keyId: string;
  /** More keys wrapping the same data key (another region, a recovery key…); any one can decrypt. */
  additionalKeyIds?: string[];
  /** Clients for keys in other regions, by region (taken from a key or alias ARN); others use `client`. */
  clients?: Record<string, KmsClient>;
  /** Key types by the ids given above, to skip detection. */
  keyTypes?: Record<string, KmsKeyType>;
  grantTokens?: string[];
}

interface RsaKey {
  arn: string;
  publicKey: CryptoKey;
}

const KEY_ARN = /^arn:[^:]+:kms:([^:]+):[^:]+:key\/(.+)$/;
const ANY_ARN = /^arn:[^:]+:kms:([^:]+):/;

function withContext<T extends object>(input: T, context: EncryptionContext): T & { EncryptionContext?: EncryptionContext } {
  return Object.keys(context).length > 0 ? { ...input, EncryptionContext: context } : input;
}

/**
 * A keyring backed by AWS KMS (or the local KMS, or a Sealbox proxy): data keys from `GenerateDataKey`, or wrapped offline with an RSA key's public key.
 *
 * @example
 * ```ts
 * const keyring = new KmsKeyring({ client: new KmsClient({ endpoint: '/kms', auth: () => ({ authorization: `Bearer ${jwt}` }) }), keyId: 'alias/tenant-acme' });
 * ```
 */
export class KmsKeyring implements Keyring {
  readonly client: KmsClient;
  readonly keyId: string;
  readonly additionalKeyIds: readonly string[];
  readonly #clients: Record<string, KmsClient>;
  readonly #types = new Map<string, KmsKeyType>();
  readonly #rsa = new Map<string, Promise<RsaKey>>();
  /** Configured id → key ARN, learned from KMS answers or DescribeKey. */
  readonly #arns = new Map<string, Promise<string | undefined>>();
  readonly #grantTokens?: string[];

  constructor(options: KmsKeyringOptions) {
    if (!options || !(options.client instanceof KmsClient)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'KmsKeyring needs a KmsClient as options.client');
    const ids = [options.keyId, ...(options.additionalKeyIds ?? [])];
    if (!ids.every((id) => typeof id === 'string' && id.length > 0)) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'keyId and additionalKeyIds must be non-empty strings');
    }
    this.client = options.client;
    this.keyId = options.keyId;
    this.additionalKeyIds = [...(options.additionalKeyIds ?? [])];
    this.#clients = { ...options.clients };
    for (const [id, type] of Object.entries(options.keyTypes ?? {})) this.#types.set(id, type);
    if (options.grantTokens) this.#grantTokens = [...options.grantTokens];
    for (const id of ids) if (KEY_ARN.test(id)) this.#arns.set(id, Promise.resolve(id));
  }

  /** The client for a key: by the region in its ARN, else the default client. */
  clientFor(keyId: string): KmsClient {
    const region = ANY_ARN.exec(keyId)?.[1];
    return (region !== undefined && this.#clients[region]) || this.client;
  }

  #key<T extends object>(input: T): T & { GrantTokens?: string[] } {
    return this.#grantTokens ? { ...input, GrantTokens: this.#grantTokens } : input;
  }

  async wrapDataKey(request: WrapRequest): Promise<WrapResult> {
    const { context } = request;
    let dataKey = request.dataKey;
    const recipients: Recipient[] = [];
    try {
      if (dataKey === undefined && this.#types.get(this.keyId) !== 'rsa') {
        const generated = await this.#generate(context);
        if (generated) {
          dataKey = generated.dataKey;
          recipients.push(generated.recipient);
        }
      }
      dataKey ??= randomBytes(DATA_KEY_BYTES);
      const key = dataKey;
      const ids = recipients.length > 0 ? this.additionalKeyIds : [this.keyId, ...this.additionalKeyIds];
      recipients.push(...(await Promise.all(ids.map((id) => this.#wrap(id, key, context)))));
      return { dataKey, recipients };
    } catch (error) {
      if (request.dataKey === undefined) dataKey?.fill(0);
      throw error;
    }
  }

  /** GenerateDataKey; undefined when the key turns out to be an RSA key. */
  async #generate(context: EncryptionContext): Promise<{ dataKey: Uint8Array; recipient: Recipient } | undefined> {
    try {
      const out = await this.clientFor(this.keyId).generateDataKey(this.#key(withContext({ KeyId: this.keyId, KeySpec: 'AES_256' as const }, context)));
      if (!(out.Plaintext instanceof Uint8Array) || out.Plaintext.length !== DATA_KEY_BYTES || !(out.CiphertextBlob instanceof Uint8Array) || typeof out.KeyId !== 'string') {
        throw new SealboxError('ERR_KMS', 'GenerateDataKey returned no 32-byte Plaintext, CiphertextBlob or KeyId');
      }
      this.#learn(this.keyId, 'symmetric', out.KeyId);
      return { dataKey: out.Plaintext, recipient: { type: RECIPIENT_KMS, keyId: out.KeyId, wrappedKey: out.CiphertextBlob, params: new Map() } };
    } catch (error) {
      if (await this.#isRsa(this.keyId, error)) return undefined;
      throw error;
    }
  }

  /** Wraps an existing data key for one key: Encrypt (symmetric) or offline RSA-OAEP (RSA). */
  async #wrap(keyId: string, dataKey: Uint8Array, context: EncryptionContext): Promise<Recipient> {
    if (this.#types.get(keyId) !== 'rsa') {
      try {
        const out = await this.clientFor(keyId).encrypt(this.#key(withContext({ KeyId: keyId, Plaintext: dataKey }, context)));
        if (!(out.CiphertextBlob instanceof Uint8Array) || typeof out.KeyId !== 'string') throw new SealboxError('ERR_KMS', 'Encrypt returned no CiphertextBlob or KeyId');
        this.#learn(keyId, 'symmetric', out.KeyId);
        return { type: RECIPIENT_KMS, keyId: out.KeyId, wrappedKey: out.CiphertextBlob, params: new Map() };
      } catch (error) {
        if (!(await this.#isRsa(keyId, error))) throw error;
      }
    }
    const rsa = await this.#rsaKey(keyId);
    return { type: RECIPIENT_RSA_OAEP_256, keyId: rsa.arn, wrappedKey: await rsaOaepEncrypt(rsa.publicKey, dataKey), params: new Map() };
  }

  /** After a refusal of a symmetric operation: is this an RSA key? (Fetches and caches its public key.) */
  async #isRsa(keyId: string, error: unknown): Promise<boolean> {
    if (this.#types.has(keyId) || !(error instanceof KmsRequestError) || error.kmsErrorType !== 'InvalidKeyUsageException') return false;
    try {
      await this.#rsaKey(keyId);
      return true;
    } catch {
      return false;
    }
  }

  #rsaKey(keyId: string): Promise<RsaKey> {
    let key = this.#rsa.get(keyId);
    if (!key) {
      key = (async () => {
        const out = await this.clientFor(keyId).getPublicKey(this.#key({ KeyId: keyId }));
        if (!out.EncryptionAlgorithms?.includes('RSAES_OAEP_SHA_256') || !(out.PublicKey instanceof Uint8Array) || typeof out.KeyId !== 'string') {
          throw new SealboxError('ERR_UNSUPPORTED', `KMS key ${keyId} is neither a symmetric key nor an RSA key for RSAES_OAEP_SHA_256 (${out.KeySpec ?? 'unknown spec'}, ${out.KeyUsage ?? 'unknown usage'})`);
        }
        const publicKey = await importRsaPublicKey(out.PublicKey);
        this.#learn(keyId, 'rsa', out.KeyId);
        return { arn: out.KeyId, publicKey };
      })();
      this.#rsa.set(keyId, key);
      key.catch(() => this.#rsa.delete(keyId));
    }
    return key;
  }

  #learn(keyId: string, type: KmsKeyType, arn: string): void {
    this.#types.set(keyId, type);
    if (KEY_ARN.test(arn)) this.#arns.set(keyId, Promise.resolve(arn));
  }

  /** The key ARN of a configured id: given, learned, or from DescribeKey; undefined if unknown. */
  #arn(keyId: string): Promise<string | undefined> {
    let arn = this.#arns.get(keyId);
    if (!arn) {
      // RSA keys: GetPublicKey (needed anyway, and what a proxy lets RSA users call); else DescribeKey.
      arn = (this.#types.get(keyId) === 'rsa'
        ? this.#rsaKey(keyId).then((k) => k.arn)
        : this.clientFor(keyId)
            .describeKey(this.#key({ KeyId: keyId }))
            .then((out) => out.KeyMetadata?.Arn)
      ).catch(() => undefined);
      this.#arns.set(keyId, arn);
      // A failure is not cached: try again next time.
      arn.then((value) => value === undefined && this.#arns.delete(keyId));
    }
    return arn;
  }

  /**
   * The KeyId to send to Decrypt when a recipient belongs to one of this keyring's keys: the
   * recipient's ARN, or, for an alias that cannot be resolved (no DescribeKey permission), the
   * alias itself, so the KMS checks that the ciphertext is under the key the alias names (a
   * symmetric blob names its key; an RSA one fails OAEP under another key).
   */
  async #decryptKeyId(recipient: Recipient): Promise<string | undefined> {
    const bare = KEY_ARN.exec(recipient.keyId)?.[2];
    for (const id of [this.keyId, ...this.additionalKeyIds]) {
      if (recipient.keyId === id || (bare !== undefined && bare === id)) return recipient.keyId;
      if (KEY_ARN.test(id) || !/^(arn:|alias\/)/.test(id)) continue;
      const arn = await this.#arn(id);
      if (arn === recipient.keyId) return recipient.keyId;
      if (arn === undefined) return id;
    }
    return undefined;
  }

  async unwrapDataKey(request: UnwrapRequest): Promise<DataKey | undefined> {
    const errors: SealboxError[] = [];
    let tried = false;
    for (const recipient of request.recipients) {
      if (recipient.type !== RECIPIENT_KMS && recipient.type !== RECIPIENT_RSA_OAEP_256) continue;
      if (recipient.type === RECIPIENT_RSA_OAEP_256 && !KEY_ARN.test(recipient.keyId)) continue;
      const keyId = await this.#decryptKeyId(recipient);
      if (keyId === undefined) continue;
      tried = true;
      try {
        const rsa = recipient.type === RECIPIENT_RSA_OAEP_256;
        const out = await this.clientFor(keyId).decrypt(
          this.#key(
            rsa
              ? {
                  KeyId: keyId,
                  CiphertextBlob: recipient.wrappedKey,
                  EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
                  SealboxEnvelope: { Protected: request.headerAad.subarray(4), Salt: request.salt, Commitment: request.commitment },
                }
              : withContext({ KeyId: keyId, CiphertextBlob: recipient.wrappedKey }, request.context),
          ),
        );
        if (out.Plaintext instanceof Uint8Array && out.Plaintext.length === DATA_KEY_BYTES) return out.Plaintext;
        if (out.Plaintext instanceof Uint8Array) out.Plaintext.fill(0);
        errors.push(new SealboxError('ERR_KMS_DECRYPT', `KMS Decrypt of the recipient for ${recipient.keyId} returned no 32-byte key`));
      } catch (error) {
        if (isSealboxError(error, 'ERR_ABORTED')) throw error;
        errors.push(isSealboxError(error) ? error : new SealboxError('ERR_KMS', String(error), { cause: error }));
      }
    }
    if (!tried) return undefined;
    throw mostUseful(errors);
  }
}

/** One failure keeps its code; several with one code keep it; otherwise ERR_NO_KEYRING_MATCH. */
function mostUseful(errors: SealboxError[]): SealboxError {
  if (errors.length === 1) return errors[0]!;
  const first = errors[0]!;
  const message = `no KMS recipient could be unwrapped: ${errors.map((e) => e.message).join('; ')}`;
  const code = errors.every((e) => e.code === first.code) ? first.code : 'ERR_NO_KEYRING_MATCH';
  return new SealboxError(code, message, { cause: new AggregateError(errors), ...(first.requestId ? { requestId: first.requestId } : {}) });
}
