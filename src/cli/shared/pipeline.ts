/**
 * The one place the CLI turns keyrings into byte transforms: `EncryptStream`/`DecryptStream`, so
 * files of any size go through in constant memory.
 */
import type { EncryptionContext } from '../../format/header.js';
import type { Keyring } from '../../keyring/types.js';
import { EncryptStream } from '../../stream/encrypt-stream.js';
import { DecryptStream } from '../../stream/decrypt-stream.js';

export function encryptTransform(options: { keyring: Keyring; context?: EncryptionContext; chunkSize?: number }): TransformStream<Uint8Array, Uint8Array> {
  return new EncryptStream(options);
}

export function decryptTransform(options: { keyring: Keyring; expectContext?: EncryptionContext }): TransformStream<Uint8Array, Uint8Array> {
  return new DecryptStream(options);
}
