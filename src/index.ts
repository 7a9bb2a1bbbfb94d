/**
 * Sealbox: envelope encryption for browsers and the edge. This entry runs in every runtime
 * (browsers, Node, Deno, Bun, Workers): Web platform APIs only, no Node built-ins.
 *
 * The operations (`encrypt`, `decrypt`, `inspect`, `rewrap`), the streams (`EncryptStream`,
 * `DecryptStream`, `decryptRange`), the keyrings, the errors and the KMS client. The KMS wire
 * shapes are in `sealbox/wire`; the proxy, policy and audit in `sealbox/proxy`, `sealbox/policy`,
 * `sealbox/audit`; the local KMS (Node) in `sealbox/kms`.
 *
 * @example
 * ```ts
 * import { encrypt, decrypt, RawAesKeyring } from 'sealbox';
 * const keyring = new RawAesKeyring({ keyName: 'k1', key: crypto.getRandomValues(new Uint8Array(32)) });
 * const envelope = await encrypt(new TextEncoder().encode('hello'), { keyring, context: { tenant: 'acme' } });
 * const { plaintext } = await decrypt(envelope, { keyring });
 * ```
 * @packageDocumentation
 */
export { SealboxError, isSealboxError, type SealboxErrorCode } from './sdk/errors.js';
export { encrypt } from './sdk/envelope/encrypt.js';
export { decrypt, type DecryptResult } from './sdk/envelope/decrypt.js';
export { inspect } from './sdk/envelope/inspect.js';
export { rewrap, rewrapHeader, envelopeHeadLength, type RewrapOptions, type RewrapWithKmsOptions, type RewrapWithKeyringOptions } from './sdk/envelope/rewrap.js';
export type { EncryptOptions, DecryptOptions } from './sdk/envelope/session.js';
export { EncryptStream, type EncryptStreamOptions } from './sdk/stream/encrypt-stream.js';
export { DecryptStream, type DecryptStreamOptions } from './sdk/stream/decrypt-stream.js';
export { decryptRange, type DecryptRangeOptions, type RangeReader, type RangeSource } from './sdk/stream/range.js';
export type { EncryptionContext, HeaderInfo, Recipient } from './sdk/format/header.js';
export { DEFAULT_LIMITS, type EnvelopeLimits } from './sdk/format/constants.js';
export type { Keyring, DataKey, WrapRequest, WrapResult, UnwrapRequest } from './sdk/keyring/types.js';
export { RawAesKeyring, type RawAesKeyringOptions } from './sdk/keyring/raw-aes.js';
export { RsaOaepKeyring, type RsaOaepKeyringOptions } from './sdk/keyring/rsa-oaep.js';
export { MultiKeyring, type MultiKeyringOptions } from './sdk/keyring/multi.js';
export { KmsKeyring, type KmsKeyringOptions, type KmsKeyType } from './sdk/keyring/kms.js';
export { CachingKeyring, type CachingKeyringOptions } from './sdk/keyring/caching.js';
export {
  KmsClient,
  KmsRequestError,
  type KmsClientOptions,
  type KmsCredentials,
  type KmsAuthHook,
  type KmsRetryOptions,
  type KmsCallOptions,
} from './sdk/client/kms-client.js';
