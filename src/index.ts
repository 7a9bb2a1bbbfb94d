/**
 * Sealbox: envelope encryption for browsers and the edge. This entry runs in every runtime
 * (browsers, Node, Deno, Bun, Workers): Web platform APIs only, no Node built-ins.
 */
export { SealboxError, isSealboxError, type SealboxErrorCode } from './errors.js';
export { encrypt } from './envelope/encrypt.js';
export { decrypt, type DecryptResult } from './envelope/decrypt.js';
export { inspect } from './envelope/inspect.js';
export { EncryptStream, type EncryptStreamOptions } from './stream/encrypt-stream.js';
export { DecryptStream, type DecryptStreamOptions } from './stream/decrypt-stream.js';
export { decryptRange, type DecryptRangeOptions, type RangeReader, type RangeSource } from './stream/range.js';
export type { EncryptOptions, DecryptOptions } from './envelope/session.js';
export type { EncryptionContext, HeaderInfo, Recipient } from './format/header.js';
export { DEFAULT_LIMITS, type EnvelopeLimits } from './format/constants.js';
export type { Keyring, DataKey, WrapRequest, WrapResult, UnwrapRequest } from './keyring/types.js';
export { RawAesKeyring, type RawAesKeyringOptions } from './keyring/raw-aes.js';
export { RsaOaepKeyring, type RsaOaepKeyringOptions } from './keyring/rsa-oaep.js';
export { MultiKeyring, type MultiKeyringOptions } from './keyring/multi.js';
export {
  KmsClient,
  KmsRequestError,
  type KmsClientOptions,
  type KmsCredentials,
  type KmsAuthHook,
  type KmsRetryOptions,
  type KmsCallOptions,
  type GenerateDataKeyInput,
  type GenerateDataKeyOutput,
  type GenerateDataKeyWithoutPlaintextOutput,
  type EncryptInput,
  type EncryptOutput,
  type DecryptInput,
  type DecryptOutput,
  type ReEncryptInput,
  type ReEncryptOutput,
  type GetPublicKeyOutput,
  type DescribeKeyOutput,
  type KeyMetadata,
  type SealboxEnvelopeInput,
} from './client/kms-client.js';
export { KmsKeyring, type KmsKeyringOptions, type KmsKeyType } from './keyring/kms.js';
export { CachingKeyring, type CachingKeyringOptions } from './keyring/caching.js';
export { rewrap, rewrapHeader, envelopeHeadLength, type RewrapOptions, type RewrapWithKmsOptions, type RewrapWithKeyringOptions } from './envelope/rewrap.js';
