/** An AWS KMS error response: `__type` and HTTP status as AWS answers them. */
export class KmsError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.name = 'KmsError';
    this.type = type;
    this.status = status;
  }
}

export const notFound = (what: string) => new KmsError('NotFoundException', `${what} is not found.`);
export const validation = (message: string) => new KmsError('ValidationException', message);
export const invalidState = (message: string) => new KmsError('KMSInvalidStateException', message);
export const invalidCiphertext = (message = 'The ciphertext is invalid or was not encrypted with this key and encryption context.') =>
  new KmsError('InvalidCiphertextException', message);
export const invalidKeyUsage = (message: string) => new KmsError('InvalidKeyUsageException', message);
export const unsupportedOperation = (message: string) => new KmsError('UnsupportedOperationException', message);
