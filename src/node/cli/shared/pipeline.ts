/**
 * The one place the CLI turns keyrings into byte transforms: `EncryptStream`/`DecryptStream`, so
 * files of any size go through in constant memory.
 */
import type { EncryptionContext } from '../../../sdk/format/header.js';
import type { Keyring } from '../../../sdk/keyring/types.js';
import { EncryptStream } from '../../../sdk/stream/encrypt-stream.js';
import { DecryptStream } from '../../../sdk/stream/decrypt-stream.js';

export function encryptTransform(options: { keyring: Keyring; context?: EncryptionContext; chunkSize?: number }): TransformStream<Uint8Array, Uint8Array> {
  return new EncryptStream(options);
}

export function decryptTransform(options: { keyring: Keyring; expectContext?: EncryptionContext }): TransformStream<Uint8Array, Uint8Array> {
  return new DecryptStream(options);
}
