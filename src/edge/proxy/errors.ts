/**
 * KMS-style errors and responses for the proxy (runtime-agnostic). Every error the proxy answers is
 * `{ "__type": "<AWS error name>", "message": "…" }` with the status AWS KMS uses for it and an
 * `x-amzn-RequestId`, so AWS SDKs and Sealbox's `KmsClient` read it as they read KMS's own errors.
 */

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

export class ProxyError extends Error {
  /** The AWS error name (`__type`), e.g. `AccessDeniedException`. */
  readonly type: string;
  readonly status: number;
  /** Extra response headers (`Retry-After`, `WWW-Authenticate`). */
  readonly headers: Record<string, string>;
  /** Why, for the audit record (may say more than the message the caller gets). */
  readonly reason: string;

  constructor(type: string, message: string, status = 400, options: { headers?: Record<string, string>; reason?: string } = {}) {
    super(message);
    this.name = 'ProxyError';
    this.type = type;
    this.status = status;
    this.headers = options.headers ?? {};
    this.reason = options.reason ?? message;
  }
}

export const accessDenied = (message: string, reason?: string) =>
  new ProxyError('AccessDeniedException', message, 400, reason === undefined ? {} : { reason });
export const validation = (message: string) => new ProxyError('ValidationException', message, 400);
export const serialization = (message: string) => new ProxyError('SerializationException', message, 400);

export function errorResponse(requestId: string, error: ProxyError, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ __type: error.type, message: error.message }), {
    status: error.status,
    headers: {
      'content-type': JSON_CONTENT_TYPE,
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': error.type,
      ...error.headers,
      ...extraHeaders,
    },
  });
}
