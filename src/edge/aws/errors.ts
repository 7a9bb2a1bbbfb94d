/**
 * The one AWS-style error of the server side (proxy, local KMS, dev server): what AWS KMS answers
 * as `{ "__type": "<AWS error name>", "message": "…" }` with the HTTP status AWS uses for it and an
 * `x-amzn-RequestId`, so AWS SDKs and Sealbox's `KmsClient` read it as they read KMS's own errors.
 * (The SDK's own errors are `SealboxError`, src/sdk/errors.ts; this one never reaches a browser.)
 */
import { JSON_CONTENT_TYPE } from './json-protocol.js';
import type { SigV4Error } from './sigv4.js';

export interface AwsErrorOptions {
  /** Extra response headers (`Retry-After`, `WWW-Authenticate`, `Allow`). */
  headers?: Record<string, string>;
  /** Why, for the audit record (may say more than the message the caller gets). */
  reason?: string;
}

export class AwsError extends Error {
  /** The AWS error name, answered as `__type` and `x-amzn-ErrorType`, e.g. `AccessDeniedException`. */
  readonly type: string;
  /** The HTTP status AWS answers this error with (400 unless said otherwise). */
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly reason: string;

  constructor(type: string, message: string, status = 400, options: AwsErrorOptions = {}) {
    super(message);
    this.name = 'AwsError';
    this.type = type;
    this.status = status;
    this.headers = options.headers ?? {};
    this.reason = options.reason ?? message;
  }

  /** The wire body: `{"__type":…,"message":…}`. */
  get body(): string {
    return JSON.stringify({ __type: this.type, message: this.message });
  }
}

/** Status, headers and body of the error answer, for servers that write them without a Response. */
export function awsErrorParts(requestId: string, error: AwsError, extraHeaders: Record<string, string> = {}): { status: number; headers: Record<string, string>; body: string } {
  return {
    status: error.status,
    headers: {
      'content-type': JSON_CONTENT_TYPE,
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': error.type,
      ...error.headers,
      ...extraHeaders,
    },
    body: error.body,
  };
}

/** The error answer as a fetch Response. */
export function awsErrorResponse(requestId: string, error: AwsError, extraHeaders: Record<string, string> = {}): Response {
  const { status, headers, body } = awsErrorParts(requestId, error, extraHeaders);
  return new Response(body, { status, headers });
}

/** A failed SigV4 check as AWS answers it: 403 for a missing signature, 400 for everything else. */
export function sigV4Failure(error: SigV4Error, options: AwsErrorOptions = {}): AwsError {
  return new AwsError(error.awsType, error.message, error.code === 'MissingAuthenticationToken' ? 403 : 400, options);
}
