/**
 * Sealbox: envelope encryption for browsers and the edge. This entry runs in every runtime
 * (browsers, Node, Deno, Bun, Workers): Web platform APIs only, no Node built-ins.
 */
export { SealboxError, isSealboxError, type SealboxErrorCode } from './errors.js';
export { encrypt } from './envelope/encrypt.js';
export { decrypt, type DecryptResult } from './envelope/decrypt.js';
export { inspect } from './envelope/inspect.js';
export type { EncryptOptions, DecryptOptions } from './envelope/session.js';
export type { EncryptionContext, HeaderInfo, Recipient } from './format/header.js';
export { DEFAULT_LIMITS, type EnvelopeLimits } from './format/constants.js';
export type { Keyring, DataKey, WrapRequest, WrapResult, UnwrapRequest } from './keyring/types.js';
export { RawAesKeyring, type RawAesKeyringOptions } from './keyring/raw-aes.js';
export { RsaOaepKeyring, type RsaOaepKeyringOptions } from './keyring/rsa-oaep.js';
export { MultiKeyring, type MultiKeyringOptions } from './keyring/multi.js';
