/**
 * A tiny KMS JSON 1.1 caller for the `keys` commands (CreateKey, ListKeys, policies… which the
 * browser-sized KmsClient leaves out): one POST with `X-Amz-Target: TrentService.<Op>`, signed
 * with SigV4 (`aws4fetch`) or sent with a bearer token for a proxy. KMS errors become
 * SealboxErrors with the KMS request id.
 */
import { AwsClient } from 'aws4fetch';
import { SealboxError, type SealboxErrorCode } from '../errors.js';
import { UsageError } from './shared/errors.js';

export interface KmsTarget {
  endpoint: string;
  region: string;
  /** SigV4 credentials, or a bearer token (a proxy's JWT). */
  auth: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | { token: string };
}

export interface KmsTargetFlags {
  kms?: string | undefined;
  region?: string | undefined;
  token?: string | undefined;
}

/**
 * Endpoint from `--kms` (or SEALBOX_KMS_ENDPOINT); region from `--region`, SEALBOX_KMS_REGION,
 * AWS_REGION, AWS_DEFAULT_REGION or the AWS endpoint's host name; credentials from
 * SEALBOX_KMS_ACCESS_KEY_ID/_SECRET_ACCESS_KEY/_SESSION_TOKEN, else AWS_*; or `--token`.
 */
export function kmsTarget(flags: KmsTargetFlags, env: NodeJS.ProcessEnv = process.env): KmsTarget {
  const endpoint = flags.kms ?? env.SEALBOX_KMS_ENDPOINT;
  if (!endpoint) throw new UsageError('a KMS endpoint is needed: --kms <url> (or SEALBOX_KMS_ENDPOINT)');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`--kms ${JSON.stringify(endpoint)} is not a URL (e.g. http://127.0.0.1:4599)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--kms must be an http(s) URL, got ${endpoint}`);
  const fromHost = /^kms(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1];
  const region = flags.region ?? env.SEALBOX_KMS_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? fromHost ?? 'us-east-1';
  if (flags.token !== undefined) {
    if (flags.token.length === 0) throw new UsageError('--token is empty');
    return { endpoint: url.href, region, auth: { token: flags.token } };
  }
  const sealbox = env.SEALBOX_KMS_ACCESS_KEY_ID !== undefined;
  const accessKeyId = sealbox ? env.SEALBOX_KMS_ACCESS_KEY_ID : env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = sealbox ? env.SEALBOX_KMS_SECRET_ACCESS_KEY : env.AWS_SECRET_ACCESS_KEY;
  const sessionToken = sealbox ? env.SEALBOX_KMS_SESSION_TOKEN : env.AWS_SESSION_TOKEN;
  if (!accessKeyId || !secretAccessKey) {
    throw new UsageError(
      'no KMS credentials: set SEALBOX_KMS_ACCESS_KEY_ID and SEALBOX_KMS_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or pass --token <jwt> for a proxy',
    );
  }
  return { endpoint: url.href, region, auth: sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey } };
}

/** KMS `__type` names → Sealbox codes (the same mapping as the KMS client's). */
const ERROR_CODES: Record<string, SealboxErrorCode> = {
  AccessDeniedException: 'ERR_ACCESS_DENIED',
  UnrecognizedClientException: 'ERR_ACCESS_DENIED',
  InvalidSignatureException: 'ERR_ACCESS_DENIED',
  IncompleteSignature: 'ERR_ACCESS_DENIED',
  MissingAuthenticationToken: 'ERR_ACCESS_DENIED',
  ExpiredTokenException: 'ERR_ACCESS_DENIED',
  NotAuthorized: 'ERR_ACCESS_DENIED',
  IncorrectKeyException: 'ERR_KMS_DECRYPT',
  InvalidCiphertextException: 'ERR_KMS_DECRYPT',
  NotFoundException: 'ERR_NOT_FOUND',
  DisabledException: 'ERR_KEY_DISABLED',
  KMSInvalidStateException: 'ERR_KEY_STATE',
  ThrottlingException: 'ERR_THROTTLED',
  LimitExceededException: 'ERR_THROTTLED',
};

export async function kmsCall<T = Record<string, unknown>>(target: KmsTarget, operation: string, input: Record<string, unknown> = {}): Promise<T> {
  const init: RequestInit = {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${operation}` },
    body: JSON.stringify(input),
    signal: AbortSignal.timeout(30_000),
  };
  let response: Response;
  try {
    if ('token' in target.auth) {
      (init.headers as Record<string, string>).authorization = `Bearer ${target.auth.token}`;
      response = await fetch(target.endpoint, init);
    } else {
      const client = new AwsClient({ ...target.auth, service: 'kms', region: target.region, retries: 0 });
      response = await client.fetch(target.endpoint, init);
    }
  } catch (error) {
    const timeout = error instanceof Error && error.name === 'TimeoutError';
    throw new SealboxError(timeout ? 'ERR_TIMEOUT' : 'ERR_KMS', `${operation}: cannot reach the KMS at ${target.endpoint}: ${(error as Error).message}`, { cause: error });
  }
  const requestId = response.headers.get('x-amzn-requestid') ?? undefined;
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    if (response.ok) throw new SealboxError('ERR_KMS', `${operation}: the KMS answered with something that is not JSON`, requestId ? { requestId } : {});
  }
  if (response.ok) return body as T;
  const rawType = String(body.__type ?? response.headers.get('x-amzn-errortype') ?? `HTTP ${response.status}`);
  const type = rawType.split('#').pop()!.split(':')[0]!;
  const message = String(body.message ?? body.Message ?? text.slice(0, 200) ?? '');
  const code = ERROR_CODES[type] ?? (response.status === 401 || response.status === 403 ? 'ERR_ACCESS_DENIED' : 'ERR_KMS');
  const error = new SealboxError(code, `${operation}: ${type}: ${message}`, requestId ? { requestId } : {});
  (error as SealboxError & { kmsType?: string }).kmsType = type;
  throw error;
}

/** The KMS error name (`__type`) of an error from kmsCall, if any. */
export function kmsType(error: unknown): string | undefined {
  return (error as { kmsType?: string } | null)?.kmsType;
}
