/**
 * Proxy configuration: the object `createProxy` takes, which is also the shape of the JSON file
 * `sealbox proxy --config proxy.json` reads (minus the function-valued members).
 *
 * ```jsonc
 * {
 *   "upstream": {                              // where calls are forwarded, re-signed with SigV4
 *     "endpoint": "https://kms.eu-west-1.amazonaws.com",   // default: AWS KMS in `region`
 *     "region": "eu-west-1",
 *     "credentials": { "accessKeyId": "…", "secretAccessKey": "…", "sessionToken": "…" },
 *     "timeoutMs": 10000,                      // per upstream call (default 10 s)
 *     "viaService": "proxy.sealbox.local"      // local KMS only: kms:ViaService for key policies
 *   },
 *   "auth": {
 *     "jwt": {                                 // browsers: Authorization: Bearer <JWT>
 *       "jwksUrl": "https://idp.example/.well-known/jwks.json",   // or "secret": "<HS256 key>"
 *       "issuer": "https://idp.example/", "audience": "sealbox",
 *       "algorithms": ["RS256"],               // default: HS256 with a secret, RS256/PS256/ES256/EdDSA with JWKS
 *       "principalClaim": "sub",               // principal = "jwt/" + this claim
 *       "clockToleranceSec": 30, "maxTokenAgeSec": 3600
 *     },
 *     "sigv4": {                               // machines: SigV4-signed requests
 *       "keys": [{ "accessKeyId": "AKIA…", "secretAccessKey": "…", "principal": "machine/batch" }],
 *       "maxSkewSec": 300                      // signing-time window; signatures seen in it are refused again
 *     }
 *   },
 *   "policy": { "Version": "2012-10-17", "Statement": [ … ] },   // AWS key-policy shape (src/edge/policy)
 *   "cors": { "origins": ["https://app.example"], "maxAgeSec": 600 },
 *   "rateLimit": { "capacity": 50, "refillPerSecond": 10,          // token bucket per principal
 *                  "onStoreError": "allow" },                      // shared store down: "allow" (this instance's bucket) or "deny" (503)
 *   "instanceId": "proxy-1",                   // named in every audit record (default: random; Node: <hostname>-<pid>)
 *   // state: a SharedStateStore object (replay cache + buckets shared by instances; default in memory).
 *   // Node's config file: "state": { "redis": { "url": "redis://127.0.0.1:6379", "keyPrefix": "sealbox:" } }
 *   "maxBodyBytes": 65536,
 *   "keyCacheTtlSec": 60,                      // DescribeKey / ListAliases cache
 *   "audit": "console"                         // or a function / sink object; Node: { "file": "proxy-audit.log" }
 * }
 * ```
 */
import type { SigV4Crypto } from '../aws/sigv4.js';
import type { SealboxMetrics } from '../ops/metrics.js';
import { parsePolicy, PolicyError, type Policy } from '../policy/index.js';
import { isStateStore, type SharedStateStore } from '../state/store.js';

export interface UpstreamCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What an upstream transport answers for one call. */
export interface UpstreamExchange {
  status: number;
  requestId: string | undefined;
  text: string;
}

/** Signs (with `crypto`, SigV4) and sends one KMS call; see `UpstreamConfig.transport`. */
export interface UpstreamTransport {
  /** Synchronous SHA-256/HMAC for the signature (the WebCrypto ones otherwise). */
  crypto?: SigV4Crypto;
  /** POSTs `body` with `headers` to `url`; rejects on a network failure or when `signal` aborts. */
  send(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<UpstreamExchange>;
}

export interface UpstreamConfig {
  /** KMS endpoint URL. Default `https://kms.<region>.amazonaws.com`. */
  endpoint?: string;
  region: string;
  credentials: UpstreamCredentials;
  /** Abort an upstream call after this many ms (default 10 000): `DependencyTimeoutException`. */
  timeoutMs?: number;
  /** The fetch used for upstream calls (default the global `fetch`). */
  fetch?: typeof fetch;
  /**
   * A faster way to sign and send upstream calls where the runtime has one (the Node adapter passes
   * node:crypto and a keep-alive node:http pool: src/node/proxy/upstream-http.ts). When set, it
   * replaces `fetch` and aws4fetch; the answers are the same (one test suite pins both paths).
   */
  transport?: UpstreamTransport;
  /**
   * Sealbox's local KMS: sent as the signed `x-sealbox-via-service` header, which the KMS's key
   * policies see as `kms:ViaService` when the proxy's credential is `trustedForViaService`, so a key
   * can be usable only through this proxy. AWS KMS ignores the header (there only AWS services set
   * `kms:ViaService`).
   */
  viaService?: string;
}

export interface JwtConfig {
  /** Shared secret for HS256/384/512 tokens (UTF-8 string or bytes). Exactly one of `secret` and `jwksUrl`. */
  secret?: string | Uint8Array;
  /** JWKS URL for asymmetric tokens (fetched and cached by `jose`'s `createRemoteJWKSet`). */
  jwksUrl?: string;
  /** Required `iss` (one of). */
  issuer: string | string[];
  /** Required `aud` (one of). */
  audience: string | string[];
  /** Allowed `alg` values. Default `["HS256"]` with a secret, `["RS256","PS256","ES256","EdDSA"]` with JWKS. */
  algorithms?: string[];
  /** The claim naming the caller (default `sub`): principal = `jwt/<value>`. */
  principalClaim?: string;
  clockToleranceSec?: number;
  /** Refuse tokens whose `iat` is older than this. */
  maxTokenAgeSec?: number;
}

export interface SigV4Key {
  accessKeyId: string;
  secretAccessKey: string;
  /** The principal string policies see, e.g. `machine/batch` or an IAM-style ARN. */
  principal: string;
}

/**
 * Where seen SigV4 signatures are remembered. Kept for compatibility: prefer `ProxyConfig.state`
 * (a `SharedStateStore`, which holds the rate-limit buckets too); when both are given,
 * `replayCache` is used for replay and `state` for rate limits.
 */
export interface ReplayCache {
  /** Records `signature` until `expiresAt` (ms). Resolves to false if it was already recorded. */
  remember(signature: string, expiresAt: number): boolean | Promise<boolean>;
}

export interface SigV4Config {
  keys: SigV4Key[];
  /** Allowed clock skew of the signing time, in seconds (default 300, as AWS). */
  maxSkewSec?: number;
  /** Accept only these regions in the credential scope (default any). */
  regions?: string[];
  replayCache?: ReplayCache;
  /** Synchronous SHA-256/HMAC for verifying signatures (Node passes node:crypto; default WebCrypto). */
  crypto?: SigV4Crypto;
}

export interface CorsConfig {
  /** Allowed origins (exact, e.g. `https://app.example`), or `"*"` for any. */
  origins: string[] | '*';
  /** Preflight cache time (default 600 s). */
  maxAgeSec?: number;
}

export interface RateLimitConfig {
  /** Bucket size: the burst a principal may send (default 50). */
  capacity?: number;
  /** Tokens added per second (default 10). */
  refillPerSecond?: number;
  /**
   * When the shared state store does not answer: `'allow'` (default) limits with this instance's own
   * in-memory bucket meanwhile; `'deny'` refuses the call with 503 ServiceUnavailableException.
   * (SigV4 calls fail closed either way: see src/edge/proxy/shared-state.ts.)
   */
  onStoreError?: 'allow' | 'deny';
}

/** One audit record (before chaining). */
export interface AuditRecord {
  time: string;
  requestId: string;
  principal: string | null;
  authType: 'jwt' | 'sigv4' | null;
  op: string;
  /** The key ARN the request resolved to (or the key id as sent, when it did not resolve). */
  keyId: string | null;
  /** Key id as the caller sent it (alias, id or ARN), when different from `keyId`. */
  requestedKeyId?: string;
  context?: Record<string, string>;
  /** `allow`: forwarded and answered; `deny`: refused by auth, policy, commitment or limits; `error`: upstream or internal failure. */
  outcome: 'allow' | 'deny' | 'error';
  status: number;
  errorType?: string;
  reason?: string;
  /** The policy statement that decided (Sid or `#index`). */
  statement?: string;
  origin?: string;
  upstreamRequestId?: string;
  /** The shared state store did not answer and the call went on without it (rate limit per instance). */
  stateError?: string;
  /** The proxy instance that handled the call (`ProxyConfig.instanceId`). */
  instance?: string;
}

/** Receives each chained audit line (JSON, no newline) and the record it was built from. */
export type AuditFunction = (line: string, record: AuditRecord) => void | Promise<void>;

export interface AuditSinkObject {
  write: AuditFunction;
  /** Hash of the last line already written (to continue a chain across restarts). */
  lastHash?: string;
}

/**
 * A sink that chains records itself, in the order it writes them (the Node audit file: group commit,
 * one fsync for every record that arrived while the previous batch was syncing). The proxy hands it
 * each record at once; `record` resolves when that record is durable and rejects when it is not.
 */
export interface AuditRecorder {
  record(record: AuditRecord): Promise<void>;
}

export type AuditConfig = 'console' | 'none' | AuditFunction | AuditSinkObject | AuditRecorder;

export interface ProxyConfig {
  /**
   * Where the proxy counts and times what it does (`createSealboxMetrics()`, exposed by
   * `createOpsRoutes`; the Node server makes one with `ops.metrics`). Default: no metrics.
   */
  metrics?: SealboxMetrics;
  upstream: UpstreamConfig;
  auth: { jwt?: JwtConfig; sigv4?: SigV4Config };
  /** AWS key-policy document (object or JSON string). Deny by default, explicit deny wins. */
  policy: Policy | string;
  cors?: CorsConfig;
  /** Token bucket per principal; `false` turns it off. Default `{ capacity: 50, refillPerSecond: 10 }`. */
  rateLimit?: RateLimitConfig | false;
  /** Largest request body accepted (default 64 KiB): 413 `ValidationException`. */
  maxBodyBytes?: number;
  /** How long a key's resolution (ARN, aliases, spec) is cached, in seconds (default 60). */
  keyCacheTtlSec?: number;
  /** Audit sink (default `console`). */
  audit?: AuditConfig;
  /**
   * Replay cache and rate-limit buckets (src/edge/state): default a `MemoryStateStore` (this
   * process only). Several instances share limits through one store: `RedisStateStore`
   * (`sealbox/proxy/redis`, Node) or `DurableObjectStateStore` (Workers).
   */
  state?: SharedStateStore;
  /**
   * Names this instance in every audit record (`instance`), so each instance's audit chain says
   * whose it is. Default: a random id per `createProxy` (the Node adapter: `<hostname>-<pid>`).
   */
  instanceId?: string;
  /** Clock in ms (tests). Default `Date.now`. */
  now?: () => number;
}

export class ProxyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyConfigError';
  }
}

export const DEFAULTS = {
  timeoutMs: 10_000,
  maxSkewSec: 300,
  corsMaxAgeSec: 600,
  capacity: 50,
  refillPerSecond: 10,
  maxBodyBytes: 64 * 1024,
  keyCacheTtlSec: 60,
  principalClaim: 'sub',
} as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new ProxyConfigError(`${what} must be a non-empty string`);
  return v;
}

function positive(v: unknown, what: string, integer = false): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new ProxyConfigError(`${what} must be a positive ${integer ? 'integer' : 'number'}`);
  }
}

function stringOrList(v: unknown, what: string): void {
  if (typeof v === 'string' && v !== '') return;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x !== '')) return;
  throw new ProxyConfigError(`${what} must be a string or a non-empty list of strings`);
}

/** Validates a configuration (throws `ProxyConfigError`) and returns it with the policy parsed. */
export function validateConfig(config: ProxyConfig): ProxyConfig & { policy: Policy } {
  if (!isRecord(config)) throw new ProxyConfigError('config must be an object');
  const u = config.upstream;
  if (!isRecord(u)) throw new ProxyConfigError('upstream is required: { endpoint?, region, credentials }');
  nonEmptyString(u.region, 'upstream.region');
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(u.region)) throw new ProxyConfigError(`upstream.region '${u.region}' is not a region name`);
  if (u.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(nonEmptyString(u.endpoint, 'upstream.endpoint'));
    } catch {
      throw new ProxyConfigError(`upstream.endpoint '${String(u.endpoint)}' is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ProxyConfigError('upstream.endpoint must be http(s)');
  }
  if (!isRecord(u.credentials)) throw new ProxyConfigError('upstream.credentials is required: { accessKeyId, secretAccessKey }');
  nonEmptyString(u.credentials.accessKeyId, 'upstream.credentials.accessKeyId');
  nonEmptyString(u.credentials.secretAccessKey, 'upstream.credentials.secretAccessKey');
  positive(u.timeoutMs, 'upstream.timeoutMs');
  if (u.viaService !== undefined) nonEmptyString(u.viaService, 'upstream.viaService');

  if (!isRecord(config.auth)) throw new ProxyConfigError('auth is required: { jwt?, sigv4? }');
  const { jwt, sigv4 } = config.auth;
  if (jwt === undefined && sigv4 === undefined) throw new ProxyConfigError('auth needs jwt, sigv4 or both');
  if (jwt !== undefined) {
    if (!isRecord(jwt)) throw new ProxyConfigError('auth.jwt must be an object');
    if ((jwt.secret === undefined) === (jwt.jwksUrl === undefined)) throw new ProxyConfigError('auth.jwt needs exactly one of secret and jwksUrl');
    if (jwt.secret !== undefined) {
      const length = typeof jwt.secret === 'string' ? new TextEncoder().encode(jwt.secret).length : jwt.secret instanceof Uint8Array ? jwt.secret.length : 0;
      if (length < 32) throw new ProxyConfigError('auth.jwt.secret must be at least 32 bytes');
    }
    if (jwt.jwksUrl !== undefined) {
      try {
        new URL(nonEmptyString(jwt.jwksUrl, 'auth.jwt.jwksUrl'));
      } catch {
        throw new ProxyConfigError('auth.jwt.jwksUrl is not a URL');
      }
    }
    stringOrList(jwt.issuer, 'auth.jwt.issuer');
    stringOrList(jwt.audience, 'auth.jwt.audience');
    if (jwt.algorithms !== undefined) {
      stringOrList(jwt.algorithms, 'auth.jwt.algorithms');
      const bad = jwt.algorithms.find((a) => a === 'none' || (jwt.secret !== undefined) !== a.startsWith('HS'));
      if (bad !== undefined) throw new ProxyConfigError(`auth.jwt.algorithms: '${bad}' does not fit the key (${jwt.secret !== undefined ? 'a secret takes HS*' : 'a JWKS takes asymmetric algorithms'})`);
    }
    if (jwt.principalClaim !== undefined) nonEmptyString(jwt.principalClaim, 'auth.jwt.principalClaim');
    if (jwt.clockToleranceSec !== undefined && (typeof jwt.clockToleranceSec !== 'number' || jwt.clockToleranceSec < 0)) {
      throw new ProxyConfigError('auth.jwt.clockToleranceSec must be a number ≥ 0');
    }
    positive(jwt.maxTokenAgeSec, 'auth.jwt.maxTokenAgeSec');
  }
  if (sigv4 !== undefined) {
    if (!isRecord(sigv4) || !Array.isArray(sigv4.keys) || sigv4.keys.length === 0) throw new ProxyConfigError('auth.sigv4.keys must be a non-empty list');
    const ids = new Set<string>();
    sigv4.keys.forEach((k, i) => {
      if (!isRecord(k)) throw new ProxyConfigError(`auth.sigv4.keys[${i}] must be an object`);
      const id = nonEmptyString(k.accessKeyId, `auth.sigv4.keys[${i}].accessKeyId`);
      nonEmptyString(k.secretAccessKey, `auth.sigv4.keys[${i}].secretAccessKey`);
      nonEmptyString(k.principal, `auth.sigv4.keys[${i}].principal`);
      if (ids.has(id)) throw new ProxyConfigError(`auth.sigv4.keys: duplicate accessKeyId ${id}`);
      ids.add(id);
    });
    positive(sigv4.maxSkewSec, 'auth.sigv4.maxSkewSec');
    if (sigv4.regions !== undefined) stringOrList(sigv4.regions, 'auth.sigv4.regions');
  }

  let policy: Policy;
  try {
    policy = parsePolicy(config.policy);
  } catch (e) {
    if (e instanceof PolicyError) throw new ProxyConfigError(`policy: ${e.message}`);
    throw e;
  }

  if (config.cors !== undefined) {
    if (!isRecord(config.cors)) throw new ProxyConfigError('cors must be an object: { origins }');
    const o = config.cors.origins;
    if (o !== '*') {
      if (!Array.isArray(o) || !o.every((x) => typeof x === 'string')) throw new ProxyConfigError('cors.origins must be "*" or a list of origins');
      for (const origin of o) {
        let ok = false;
        try {
          ok = new URL(origin).origin === origin;
        } catch {}
        if (!ok) throw new ProxyConfigError(`cors.origins: '${origin}' is not an origin (scheme://host[:port], no path or trailing slash)`);
      }
    }
    positive(config.cors.maxAgeSec, 'cors.maxAgeSec', true);
  }
  if (config.rateLimit !== undefined && config.rateLimit !== false) {
    if (!isRecord(config.rateLimit)) throw new ProxyConfigError('rateLimit must be an object or false');
    positive(config.rateLimit.capacity, 'rateLimit.capacity');
    positive(config.rateLimit.refillPerSecond, 'rateLimit.refillPerSecond');
    const o = config.rateLimit.onStoreError;
    if (o !== undefined && o !== 'allow' && o !== 'deny') throw new ProxyConfigError('rateLimit.onStoreError must be "allow" or "deny"');
  }
  if (config.state !== undefined && !isStateStore(config.state)) throw new ProxyConfigError('state must be a SharedStateStore ({ rememberOnce, take })');
  if (config.instanceId !== undefined && (typeof config.instanceId !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(config.instanceId))) {
    throw new ProxyConfigError('instanceId must be 1 to 128 printable ASCII characters without spaces');
  }
  positive(config.maxBodyBytes, 'maxBodyBytes', true);
  if (config.keyCacheTtlSec !== undefined && (typeof config.keyCacheTtlSec !== 'number' || config.keyCacheTtlSec < 0)) {
    throw new ProxyConfigError('keyCacheTtlSec must be a number ≥ 0');
  }
  const a = config.audit;
  if (a !== undefined && a !== 'console' && a !== 'none' && typeof a !== 'function' && !(isRecord(a) && (typeof a.write === 'function' || typeof a.record === 'function'))) {
    throw new ProxyConfigError('audit must be "console", "none", a function, { write } or { record }');
  }
  return { ...config, policy };
}
