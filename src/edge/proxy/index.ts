/**
 * `sealbox/proxy`: a KMS proxy as one fetch handler, `(Request) => Promise<Response>`, that runs
 * unchanged on Cloudflare Workers, Deno, Bun and Node (Web APIs only). Serving it on node:http,
 * with a file audit sink, lives in `./node.ts` (used by `sealbox proxy`).
 *
 * ```ts
 * const proxy = createProxy({ upstream, auth: { jwt }, policy });
 * export default proxy;                      // Workers
 * Deno.serve(proxy.fetch);                   // Deno
 * ```
 *
 * Each call: CORS → body cap → authenticate (JWT bearer or SigV4, replay-checked) → rate limit →
 * operation allow-list and input checks → resolve the key (DescribeKey + ListAliases, cached) →
 * policy (key, aliases and encryption context) → forward, re-signed with SigV4, with a timeout →
 * post-checks (the key that answered; the RSA envelope commitment) → audit (hash-chained) → answer.
 *
 * Decrypt without a KeyId: the key is known only from the KMS's answer, so policy is evaluated
 * then, and the plaintext withheld when it denies. (With a KeyId, policy is evaluated before the
 * call as well.) RSA decrypts must carry `SealboxEnvelope` (see `./envelope.ts`); ReEncrypt from
 * an RSA key is refused, since the proxy could not check the context the commitment authenticates.
 */
import { validateConfig, type ProxyConfig } from './config.js';
import { createHandler, type ProxyAnswer, type ProxyRequest } from './handler.js';

export type {
  AuditConfig,
  AuditFunction,
  AuditRecord,
  AuditSinkObject,
  CorsConfig,
  JwtConfig,
  ProxyConfig,
  RateLimitConfig,
  ReplayCache,
  SigV4Config,
  SigV4Key,
  UpstreamConfig,
  UpstreamCredentials,
} from './config.js';
export { ProxyConfigError, validateConfig } from './config.js';
export { AwsError, AwsError as ProxyError } from '../aws/errors.js';
export { MemoryReplayCache } from './auth.js';
export {
  DurableObjectStateStore,
  MemoryStateStore,
  SealboxStateObject,
  StateStoreError,
  type DurableObjectNamespaceLike,
  type DurableObjectStateStoreOptions,
  type SharedStateStore,
  type TokenBucketSpec,
} from '../state/index.js';
export { awsKmsEndpoint } from './upstream.js';
export { PROXY_OPERATIONS } from './operations/shared.js';

export type { ProxyAnswer, ProxyRequest } from './handler.js';

export interface Proxy {
  /** The proxy as a fetch handler. */
  fetch(request: Request): Promise<Response>;
  /**
   * The same pipeline for servers that do not build Request/Response objects (what the Node server
   * uses): method, absolute URL, `headers.get` and a body reader in; status, headers and body out.
   */
  handle(request: ProxyRequest): Promise<ProxyAnswer>;
}

/** A KMS proxy for `config` (validated first: a bad config throws ProxyConfigError here, not per request). */
export function createProxy(config: ProxyConfig): Proxy {
  const { fetch, handle } = createHandler(validateConfig(config));
  return { fetch, handle };
}
