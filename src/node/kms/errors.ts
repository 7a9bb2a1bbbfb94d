/** The local KMS's shorthands for the AWS-style errors it answers (the type: src/edge/aws/errors.ts). */
import { AwsError } from '../../edge/aws/errors.js';

export const notFound = (what: string) => new AwsError('NotFoundException', `${what} is not found.`);
export const validation = (message: string) => new AwsError('ValidationException', message);
export const invalidState = (message: string) => new AwsError('KMSInvalidStateException', message);
/** AWS answers a ciphertext that does not decrypt, a signature or a MAC that does not verify with an empty message. */
export const invalidCiphertext = (message = '') => new AwsError('InvalidCiphertextException', message);
export const invalidSignature = () => new AwsError('KMSInvalidSignatureException', '');
export const invalidMac = () => new AwsError('KMSInvalidMacException', '');
/** AWS's NotFoundException for a key id or ARN that names no key. */
export const keyNotFound = (arn: string) => new AwsError('NotFoundException', `Key '${arn}' does not exist`);
export const invalidKeyUsage = (message: string) => new AwsError('InvalidKeyUsageException', message);
export const unsupportedOperation = (message: string) => new AwsError('UnsupportedOperationException', message);
