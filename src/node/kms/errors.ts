/** The local KMS's shorthands for the AWS-style errors it answers (the type: src/edge/aws/errors.ts). */
import { AwsError } from '../../edge/aws/errors.js';

export const notFound = (what: string) => new AwsError('NotFoundException', `${what} is not found.`);
export const validation = (message: string) => new AwsError('ValidationException', message);
export const invalidState = (message: string) => new AwsError('KMSInvalidStateException', message);
export const invalidCiphertext = (message = 'The ciphertext is invalid or was not encrypted with this key and encryption context.') =>
  new AwsError('InvalidCiphertextException', message);
export const invalidKeyUsage = (message: string) => new AwsError('InvalidKeyUsageException', message);
export const unsupportedOperation = (message: string) => new AwsError('UnsupportedOperationException', message);
