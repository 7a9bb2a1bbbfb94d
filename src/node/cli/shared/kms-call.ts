/**
 * Where the CLI's KMS calls go (`--kms`, `--region`, `--token`, credentials from the environment),
 * and a generic call for the `keys` commands. The KmsClient's `send` speaks any KMS JSON 1.1
 * operation (SigV4 via aws4fetch, or a bearer token for a proxy), with its retries and its
 * mapping of KMS errors to SealboxErrors, so nothing here re-implements the wire protocol.
 */
import { KmsClient, KmsRequestError } from '../../../sdk/client/kms-client.js';
import { UsageError } from './errors.js';

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
 * Endpoint from `--kms` (or SEALBOX_KMS_ENDPOINT); region from `--region`, the AWS endpoint's host
 * name, SEALBOX_KMS_REGION, AWS_REGION or AWS_DEFAULT_REGION (else us-east-1); credentials from
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
  // An AWS endpoint names its region, and signing for another one fails: it wins over the environment.
  const region = flags.region ?? fromHost ?? env.SEALBOX_KMS_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
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

/** A KmsClient for the target: SigV4-signed, or with the bearer token (for a proxy). */
export function kmsClient(target: KmsTarget): KmsClient {
  const auth = 'token' in target.auth ? bearer(target.auth.token) : { ...target.auth, region: target.region };
  return new KmsClient({ endpoint: target.endpoint, region: target.region, auth, timeoutMs: 30_000 });
}

function bearer(token: string): () => HeadersInit {
  return () => ({ authorization: `Bearer ${token}` });
}

/** One KMS JSON 1.1 operation (any: CreateKey, ListAliases, PutKeyPolicy…) through the KmsClient. */
export function kmsCall<T = Record<string, unknown>>(target: KmsTarget | KmsClient, operation: string, input: Record<string, unknown> = {}): Promise<T> {
  const client = target instanceof KmsClient ? target : kmsClient(target);
  return client.send<T>(operation, input);
}

/** The KMS error name (`__type`, e.g. AlreadyExistsException) of a failed call, if any. */
export function kmsType(error: unknown): string | undefined {
  return error instanceof KmsRequestError ? error.kmsErrorType : undefined;
}
