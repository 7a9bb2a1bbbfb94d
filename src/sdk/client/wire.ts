/**
 * `sealbox/wire`: the AWS KMS JSON 1.1 wire shapes the `KmsClient` sends and receives (the members
 * Sealbox uses of GenerateDataKey, Encrypt, Decrypt, ReEncrypt, GetPublicKey and DescribeKey), and
 * the protocol's content type and target prefix. For code that calls `KmsClient.send` itself; the
 * root entry needs none of it.
 *
 * @example
 * ```ts
 * import { KmsClient } from 'sealbox';
 * import type { DescribeKeyOutput } from 'sealbox/wire';
 * const client = new KmsClient({ endpoint: '/kms', auth: () => ({ authorization: `Bearer ${token}` }) });
 * const { KeyMetadata } = await client.send<DescribeKeyOutput>('DescribeKey', { KeyId: 'alias/app' });
 * ```
 * @packageDocumentation
 */
import type { EncryptionContext } from '../format/header.js';

/** The content type of every KMS JSON 1.1 request and answer. */
export const KMS_JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
/** `X-Amz-Target: TrentService.<Operation>` names the KMS operation. */
export const KMS_TARGET_PREFIX = 'TrentService.';

/** The key a call names: a key id, key ARN, alias name or alias ARN. */
export interface KeyInput {
  KeyId: string;
  GrantTokens?: string[];
}
export interface GenerateDataKeyInput extends KeyInput {
  KeySpec?: 'AES_256' | 'AES_128';
  NumberOfBytes?: number;
  EncryptionContext?: EncryptionContext;
}
export interface GenerateDataKeyOutput {
  KeyId: string;
  CiphertextBlob: Uint8Array;
  Plaintext: Uint8Array;
}
export type GenerateDataKeyWithoutPlaintextOutput = Omit<GenerateDataKeyOutput, 'Plaintext'>;
export interface EncryptInput extends KeyInput {
  /** At most 4096 bytes. Larger data: encrypt with a data key (`encrypt()` with a KmsKeyring). */
  Plaintext: Uint8Array;
  EncryptionContext?: EncryptionContext;
  EncryptionAlgorithm?: string;
}
export interface EncryptOutput {
  KeyId: string;
  CiphertextBlob: Uint8Array;
  EncryptionAlgorithm?: string;
}
/** Sealbox's wire extension for RSA recipients unwrapped through the proxy (stripped before the KMS). */
export interface SealboxEnvelopeInput {
  /** The envelope's protected header bytes (headerAad without "SBX" and the version byte). */
  Protected: Uint8Array;
  Salt: Uint8Array;
  Commitment: Uint8Array;
}
export interface DecryptInput {
  CiphertextBlob: Uint8Array;
  KeyId?: string;
  EncryptionContext?: EncryptionContext;
  EncryptionAlgorithm?: string;
  GrantTokens?: string[];
  SealboxEnvelope?: SealboxEnvelopeInput;
}
export interface DecryptOutput {
  KeyId: string;
  Plaintext: Uint8Array;
  EncryptionAlgorithm?: string;
}
export interface ReEncryptInput {
  CiphertextBlob: Uint8Array;
  DestinationKeyId: string;
  SourceKeyId?: string;
  SourceEncryptionContext?: EncryptionContext;
  DestinationEncryptionContext?: EncryptionContext;
  SourceEncryptionAlgorithm?: string;
  DestinationEncryptionAlgorithm?: string;
  GrantTokens?: string[];
}
export interface ReEncryptOutput {
  KeyId: string;
  SourceKeyId: string;
  CiphertextBlob: Uint8Array;
  SourceEncryptionAlgorithm?: string;
  DestinationEncryptionAlgorithm?: string;
}
export interface GetPublicKeyOutput {
  KeyId: string;
  /** DER SubjectPublicKeyInfo. */
  PublicKey: Uint8Array;
  KeySpec?: string;
  KeyUsage?: string;
  EncryptionAlgorithms?: string[];
  SigningAlgorithms?: string[];
}
export interface KeyMetadata {
  KeyId: string;
  Arn: string;
  Enabled?: boolean;
  KeyState?: string;
  KeySpec?: string;
  KeyUsage?: string;
  EncryptionAlgorithms?: string[];
  [field: string]: unknown;
}
export interface DescribeKeyOutput {
  KeyMetadata: KeyMetadata;
}
