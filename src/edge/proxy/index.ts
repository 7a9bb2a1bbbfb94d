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
import { encryptionContextKeys, type Policy } from '../policy/index.js';
import { fromBase64, wipe } from '../../sdk/crypto/bytes.js';
import { JwtAuthenticator, SigV4Authenticator, type Caller } from './auth.js';
import { Authorizer } from './authorize.js';
import { AuditLog } from './audit.js';
import { DEFAULTS, validateConfig, type AuditRecord, type ProxyConfig } from './config.js';
import { parseEnvelope, verifyEnvelope, type SealboxEnvelope } from './envelope.js';
import { AwsError, awsErrorResponse } from '../aws/errors.js';
import { JSON_CONTENT_TYPE, isKmsTarget, kmsOperation } from '../aws/json-protocol.js';
import { accessDenied, serialization, validation } from './errors.js';
import { KeyResolver, resourceNames, type ResolvedKey } from './keys.js';
import { TokenBuckets } from './rate-limit.js';
import { checkContextKeys, checkRequestShape } from './shapes.js';
import { Upstream, upstreamError } from './upstream.js';

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
export { awsKmsEndpoint } from './upstream.js';

export interface Proxy {
  fetch(request: Request): Promise<Response>;
}

/** Operations the proxy forwards. Everything else is refused. */
export const PROXY_OPERATIONS = [
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'Encrypt',
  'Decrypt',
  'ReEncrypt',
  'GetPublicKey',
  'DescribeKey',
] as const;
type Op = (typeof PROXY_OPERATIONS)[number];

/** Other KMS operations: refused with UnsupportedOperationException (unknown names: UnknownOperationException). */
const OTHER_KMS_OPERATIONS = new Set(
  (
    'CancelKeyDeletion ConnectCustomKeyStore CreateAlias CreateCustomKeyStore CreateGrant CreateKey DeleteAlias ' +
    'DeleteCustomKeyStore DeleteImportedKeyMaterial DeriveSharedSecret DescribeCustomKeyStores DisableKey DisableKeyRotation ' +
    'DisconnectCustomKeyStore EnableKey EnableKeyRotation GenerateDataKeyPair GenerateDataKeyPairWithoutPlaintext GenerateMac ' +
    'GenerateRandom GetKeyPolicy GetKeyRotationStatus GetParametersForImport ImportKeyMaterial ListAliases ListGrants ' +
    'ListKeyPolicies ListKeyRotations ListKeys ListResourceTags ListRetirableGrants PutKeyPolicy ReplicateKey RetireGrant ' +
    'RevokeGrant RotateKeyOnDemand ScheduleKeyDeletion Sign TagResource UntagResource UpdateAlias UpdateCustomKeyStore ' +
    'UpdateKeyDescription UpdatePrimaryRegion Verify VerifyMac'
  ).split(' '),
);

const CORS_ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'x-amz-target',
  'x-amz-date',
  'x-amz-content-sha256',
  'x-amz-security-token',
  'x-amz-user-agent',
  'amz-sdk-invocation-id',
  'amz-sdk-request',
];
const CORS_EXPOSE_HEADERS = 'x-amzn-requestid, x-amzn-errortype, retry-after';

/** Per-request state, filled in as the request proceeds; becomes the audit record. */
interface Ctx {
  requestId: string;
  start: number;
  op: string;
  origin: string | undefined;
  caller?: Caller;
  keyId?: string;
  requestedKeyId?: string;
  context?: Record<string, string>;
  statement?: string;
  upstreamRequestId?: string;
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(input: Json, name: string, required = false): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required) throw validation(`1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048) throw validation(`${name} must be a string of 1 to 2048 characters.`);
  return v;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function contextOf(input: Json, name: string): Record<string, string> | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw serialization(`${name} must be a map of strings.`);
  const entries = Object.entries(v);
  for (const [k, val] of entries) {
    if (typeof val !== 'string' || k.length === 0) throw serialization(`${name} must map non-empty keys to strings.`);
  }
  // fromEntries defines own properties, so a key named "__proto__" is kept (and seen by the policy).
  return Object.fromEntries(entries) as Record<string, string>;
}

async function readBody(request: Request, max: number): Promise<Uint8Array> {
  const tooLarge = () => new AwsError('ValidationException', `The request body is larger than ${max} bytes.`, 413);
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > max) throw tooLarge();
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function aliasOf(keyId: string): string | undefined {
  if (keyId.startsWith('alias/')) return keyId;
  const m = /^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:(alias\/.+)$/.exec(keyId);
  return m ? m[1] : undefined;
}

export function createProxy(config: ProxyConfig): Proxy {
  const c = validateConfig(config);
  const now = c.now ?? Date.now;
  const upstream = new Upstream(c.upstream);
  const keys = new KeyResolver(upstream, (c.keyCacheTtlSec ?? DEFAULTS.keyCacheTtlSec) * 1000, now);
  const authorizer = new Authorizer(c.policy as Policy);
  const jwt = c.auth.jwt ? new JwtAuthenticator(c.auth.jwt, now) : undefined;
  const sigv4 = c.auth.sigv4 ? new SigV4Authenticator(c.auth.sigv4, now) : undefined;
  const buckets =
    c.rateLimit === false
      ? undefined
      : new TokenBuckets({
          capacity: c.rateLimit?.capacity ?? DEFAULTS.capacity,
          refillPerSecond: c.rateLimit?.refillPerSecond ?? DEFAULTS.refillPerSecond,
          now,
        });
  const audit = new AuditLog(c.audit);
  const maxBody = c.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const cors = c.cors;

  const originAllowed = (origin: string) => cors !== undefined && (cors.origins === '*' || cors.origins.includes(origin));

  function corsHeaders(origin: string | undefined): Record<string, string> {
    if (origin === undefined || !originAllowed(origin)) return {};
    return { 'access-control-allow-origin': origin, 'access-control-expose-headers': CORS_EXPOSE_HEADERS, vary: 'Origin' };
  }

  function preflight(request: Request, origin: string | undefined): Response {
    if (origin === undefined || !originAllowed(origin)) return new Response(null, { status: 403, headers: { vary: 'Origin' } });
    const requested = (request.headers.get('access-control-request-headers') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    const allowed = new Set(CORS_ALLOW_HEADERS);
    for (const h of requested) if (h.startsWith('x-amz-') || h.startsWith('amz-sdk-')) allowed.add(h);
    return new Response(null, {
      status: 204,
      headers: {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': [...allowed].join(', '),
        'access-control-max-age': String(cors?.maxAgeSec ?? DEFAULTS.corsMaxAgeSec),
        vary: 'Origin, Access-Control-Request-Headers',
      },
    });
  }

  async function authenticate(request: Request, body: Uint8Array): Promise<Caller> {
    const auth = request.headers.get('authorization');
    if (auth === null) {
      throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403, {
        headers: jwt ? { 'www-authenticate': 'Bearer' } : {},
      });
    }
    if (/^bearer /i.test(auth)) {
      if (!jwt) throw new AwsError('IncompleteSignatureException', 'Bearer tokens are not accepted here.', 400);
      return jwt.authenticate(auth.slice(7).trim());
    }
    if (auth.startsWith('AWS4-HMAC-SHA256 ')) {
      if (!sigv4) throw new AwsError('IncompleteSignatureException', 'SigV4 signatures are not accepted here.', 400);
      return sigv4.authenticate(request, body);
    }
    throw new AwsError('IncompleteSignatureException', 'The Authorization header must be "Bearer <JWT>" or a SigV4 signature.', 400);
  }

  /** Policy check for one action on one key (or on the literal name when it does not resolve). */
  function check(
    ctx: Ctx,
    action: string,
    key: ResolvedKey | undefined,
    literal: string | undefined,
    context: Record<string, string> | undefined,
    extra: Record<string, string | string[] | boolean | undefined> = {},
  ): void {
    const caller = ctx.caller!;
    const requestAlias = literal === undefined ? undefined : aliasOf(literal);
    const result = authorizer.authorize({
      principal: caller.principal,
      action,
      resources: key ? resourceNames(key) : literal === undefined ? undefined : [literal],
      conditionKeys: {
        ...caller.conditionKeys,
        ...encryptionContextKeys(context),
        'aws:CurrentTime': new Date(now()).toISOString(),
        ...(requestAlias ? { 'kms:RequestAlias': requestAlias } : {}),
        ...(key && key.aliases.length > 0 ? { 'kms:ResourceAliases': key.aliases } : {}),
        ...extra,
      },
      variables: caller.variables,
    });
    const resource = key?.arn ?? literal ?? '*';
    if (result.decision !== 'Allow') {
      if (result.statement !== undefined) ctx.statement = result.statement;
      throw accessDenied(
        `User: ${caller.principal} is not authorized to perform: ${action} on resource: ${resource} ` +
          (result.decision === 'Deny' ? 'with an explicit deny in the proxy policy' : 'because no proxy policy statement allows it'),
        result.decision === 'Deny' ? `policy: explicit deny (${result.statement}) for ${action}` : `policy: no statement allows ${action}`,
      );
    }
    ctx.statement = result.statement!;
  }

  /** Resolves a KeyId for authorization; undefined key when it does not exist upstream. */
  async function resolveKey(ctx: Ctx, keyId: string): Promise<ResolvedKey | undefined> {
    const key = await keys.resolve(keyId);
    if (ctx.requestedKeyId === undefined) {
      ctx.requestedKeyId = keyId;
      ctx.keyId = key?.arn ?? keyId;
    }
    return key;
  }

  async function forward(ctx: Ctx, op: string, input: Json): Promise<Json> {
    const result = await upstream.call(op, input);
    if (result.requestId !== undefined) ctx.upstreamRequestId = result.requestId;
    if (result.status !== 200) throw upstreamError(op, result);
    return result.body;
  }

  /** The members to forward: all of the (shape-checked) input but the proxy's own extension. */
  function forwardedFields(input: Json): Json {
    const out: Json = { ...input };
    delete out.SealboxEnvelope;
    return out;
  }

  function sameKey(ctx: Ctx, expected: ResolvedKey, got: unknown): void {
    if (got !== undefined && got !== expected.arn && got !== expected.keyId) {
      throw new AwsError('KMSInternalException', 'The KMS answered for a different key.', 500, { reason: `upstream answered with key ${String(got)}, expected ${expected.arn}` });
    }
  }

  /** GenerateDataKey(WithoutPlaintext), Encrypt, GetPublicKey, DescribeKey: one named key. */
  async function simpleOp(ctx: Ctx, op: Op, input: Json): Promise<Json> {
    const out = forwardedFields(input);
    const keyId = optionalString(input, 'KeyId', true)!;
    const context = op === 'GetPublicKey' || op === 'DescribeKey' ? undefined : contextOf(input, 'EncryptionContext');
    if (context) ctx.context = context;
    const key = await resolveKey(ctx, keyId);
    const extra: Record<string, string> = {};
    if (op === 'Encrypt') extra['kms:EncryptionAlgorithm'] = optionalString(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    if (op === 'GenerateDataKey' || op === 'GenerateDataKeyWithoutPlaintext') {
      const spec = optionalString(input, 'KeySpec');
      if (spec !== undefined) extra['kms:DataKeyPairSpec'] = spec;
    }
    check(ctx, `kms:${op}`, key, keyId, context, extra);
    if (key) out.KeyId = key.arn;
    const body = await forward(ctx, op, out);
    const answeredId = op === 'DescribeKey' ? (body.KeyMetadata as Json | undefined)?.Arn : body.KeyId;
    if (key) {
      sameKey(ctx, key, answeredId);
    } else {
      // Allowed on the literal name of a key that did not exist a moment ago: check the key that answered.
      const answered = typeof answeredId === 'string' ? await keys.resolve(answeredId) : undefined;
      if (!answered) throw new AwsError('KMSInternalException', 'The key that answered cannot be described.', 500);
      ctx.keyId = answered.arn;
      check(ctx, `kms:${op}`, answered, keyId, context, extra);
    }
    return body;
  }

  async function decryptOp(ctx: Ctx, input: Json): Promise<Json> {
    const out = forwardedFields(input);
    const algorithm = optionalString(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    let envelope: SealboxEnvelope | undefined;
    if (input.SealboxEnvelope !== undefined) envelope = parseEnvelope(input.SealboxEnvelope);
    let context = contextOf(input, 'EncryptionContext');
    if (algorithm !== 'SYMMETRIC_DEFAULT') {
      if (!envelope) {
        throw accessDenied(
          `Decrypt with ${algorithm} through the proxy needs SealboxEnvelope (the envelope's protected header, salt and commitment).`,
          'rsa decrypt without SealboxEnvelope',
        );
      }
      // The KMS binds no context to asymmetric ciphertexts: policy sees the envelope's context.
      checkContextKeys(envelope.context, 'SealboxEnvelope.Protected context');
      context = envelope.context;
      delete out.EncryptionContext;
    }
    if (context) ctx.context = context;
    const extra = { 'kms:EncryptionAlgorithm': algorithm };
    const keyId = optionalString(input, 'KeyId');
    let key: ResolvedKey | undefined;
    if (keyId !== undefined) {
      key = await resolveKey(ctx, keyId);
      check(ctx, 'kms:Decrypt', key, keyId, context, extra);
      if (key) out.KeyId = key.arn;
    }
    const body = await forward(ctx, 'Decrypt', out);
    const plaintextB64 = body.Plaintext;
    try {
      const answeredAlgorithm = typeof body.EncryptionAlgorithm === 'string' ? body.EncryptionAlgorithm : algorithm;
      if (answeredAlgorithm !== 'SYMMETRIC_DEFAULT' && !envelope) throw accessDenied('Asymmetric decrypt needs SealboxEnvelope.', `upstream used ${answeredAlgorithm} without an envelope`);
      if (typeof body.KeyId !== 'string') throw new AwsError('KMSInternalException', 'The KMS answer has no KeyId.', 500);
      if (key) {
        sameKey(ctx, key, body.KeyId);
      } else {
        // No KeyId in the request (or it did not resolve): authorize against the key that answered.
        const answered = await keys.resolve(body.KeyId);
        if (!answered) throw new AwsError('KMSInternalException', 'The key that answered cannot be described.', 500);
        ctx.keyId = answered.arn;
        check(ctx, 'kms:Decrypt', answered, undefined, context, extra);
      }
      if (envelope) {
        if (typeof plaintextB64 !== 'string') throw new AwsError('KMSInternalException', 'The KMS answer has no Plaintext.', 500);
        let dek: Uint8Array;
        try {
          dek = fromBase64(plaintextB64);
        } catch {
          throw new AwsError('KMSInternalException', 'The KMS answer has an unreadable Plaintext.', 500);
        }
        const ok = await verifyEnvelope(envelope, dek);
        wipe(dek);
        if (!ok) {
          throw accessDenied(
            'The envelope commitment does not match the unwrapped key: the protected header, salt or commitment is not this key\'s.',
            'envelope commitment mismatch',
          );
        }
      }
    } catch (e) {
      delete body.Plaintext;
      throw e;
    }
    return body;
  }

  async function reEncryptOp(ctx: Ctx, input: Json): Promise<Json> {
    const out = forwardedFields(input);
    const srcAlg = optionalString(input, 'SourceEncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    const dstAlg = optionalString(input, 'DestinationEncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    if (srcAlg !== 'SYMMETRIC_DEFAULT') {
      throw accessDenied(
        `ReEncrypt from ${srcAlg} is refused by the proxy: the KMS binds no context to it. Decrypt with SealboxEnvelope and wrap again.`,
        'reencrypt from an asymmetric key',
      );
    }
    const srcContext = contextOf(input, 'SourceEncryptionContext');
    const dstContext = contextOf(input, 'DestinationEncryptionContext');
    if (dstContext ?? srcContext) ctx.context = dstContext ?? srcContext!;
    const destId = optionalString(input, 'DestinationKeyId', true)!;
    const dest = await resolveKey(ctx, destId);
    check(ctx, 'kms:ReEncryptTo', dest, destId, dstContext, { 'kms:EncryptionAlgorithm': dstAlg });
    if (dest) out.DestinationKeyId = dest.arn;
    const srcId = optionalString(input, 'SourceKeyId');
    let src: ResolvedKey | undefined;
    if (srcId !== undefined) {
      src = await keys.resolve(srcId);
      check(ctx, 'kms:ReEncryptFrom', src, srcId, srcContext, { 'kms:EncryptionAlgorithm': srcAlg });
      if (src) out.SourceKeyId = src.arn;
    }
    const body = await forward(ctx, 'ReEncrypt', out);
    try {
      if (typeof body.SourceKeyId !== 'string') throw new AwsError('KMSInternalException', 'The KMS answer has no SourceKeyId.', 500);
      if (dest) sameKey(ctx, dest, body.KeyId);
      if (src) sameKey(ctx, src, body.SourceKeyId);
      else {
        const answered = await keys.resolve(body.SourceKeyId);
        if (!answered) throw new AwsError('KMSInternalException', 'The source key cannot be described.', 500);
        check(ctx, 'kms:ReEncryptFrom', answered, undefined, srcContext, { 'kms:EncryptionAlgorithm': srcAlg });
      }
      if (dest === undefined) {
        const answered = typeof body.KeyId === 'string' ? await keys.resolve(body.KeyId) : undefined;
        if (!answered) throw new AwsError('KMSInternalException', 'The destination key cannot be described.', 500);
        check(ctx, 'kms:ReEncryptTo', answered, undefined, dstContext, { 'kms:EncryptionAlgorithm': dstAlg });
      }
    } catch (e) {
      delete body.CiphertextBlob;
      throw e;
    }
    return body;
  }

  function record(ctx: Ctx, status: number, error: AwsError | undefined): AuditRecord {
    const r: AuditRecord = {
      time: new Date(ctx.start).toISOString(),
      requestId: ctx.requestId,
      principal: ctx.caller?.principal ?? null,
      authType: ctx.caller?.authType ?? null,
      op: ctx.op,
      keyId: ctx.keyId ?? null,
      outcome: error === undefined ? 'allow' : status >= 500 ? 'error' : 'deny',
      status,
    };
    if (ctx.requestedKeyId !== undefined && ctx.requestedKeyId !== ctx.keyId) r.requestedKeyId = ctx.requestedKeyId;
    if (ctx.context && Object.keys(ctx.context).length > 0) r.context = ctx.context;
    if (error) {
      r.errorType = error.type;
      r.reason = error.reason;
    }
    if (ctx.statement !== undefined) r.statement = ctx.statement;
    if (ctx.origin !== undefined) r.origin = ctx.origin;
    if (ctx.upstreamRequestId !== undefined) r.upstreamRequestId = ctx.upstreamRequestId;
    return r;
  }

  async function handle(request: Request): Promise<Response> {
    const origin = request.headers.get('origin') ?? undefined;
    if (request.method === 'OPTIONS') return preflight(request, origin);
    const ctx: Ctx = { requestId: crypto.randomUUID(), start: now(), op: 'Unknown', origin };
    const cors = corsHeaders(origin);
    try {
      if (origin !== undefined && cors['access-control-allow-origin'] === undefined && (c.cors !== undefined || origin !== new URL(request.url).origin)) {
        throw accessDenied(`Origin ${origin} is not allowed.`, `cors: origin ${origin} not allowed`);
      }
      if (request.method !== 'POST') {
        throw new AwsError('UnknownOperationException', 'The KMS API accepts only POST requests.', 405, { headers: { allow: 'POST, OPTIONS' } });
      }
      const target = request.headers.get('x-amz-target') ?? '';
      ctx.op = kmsOperation(target).slice(0, 100) || 'Unknown';
      const bytes = await readBody(request, maxBody);
      ctx.caller = await authenticate(request, bytes);
      if (buckets) {
        const waitMs = buckets.take(`${ctx.caller.authType}:${ctx.caller.principal}`);
        if (waitMs > 0) {
          throw new AwsError('ThrottlingException', 'Rate exceeded', 400, {
            headers: { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
            reason: `rate limit: retry in ${waitMs} ms`,
          });
        }
      }
      const op = ctx.op;
      if (!isKmsTarget(target) || !(PROXY_OPERATIONS as readonly string[]).includes(op)) {
        if (isKmsTarget(target) && OTHER_KMS_OPERATIONS.has(op)) {
          throw new AwsError('UnsupportedOperationException', `The proxy does not forward ${op}.`, 400);
        }
        throw new AwsError('UnknownOperationException', `Unknown operation '${target.slice(0, 100)}'.`, 400);
      }
      let input: unknown = {};
      if (bytes.length > 0) {
        try {
          input = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
        } catch {
          throw serialization('The request body is not valid JSON.');
        }
      }
      if (!isRecord(input)) throw serialization('The request body must be a JSON object.');
      checkRequestShape(op as Op, input);
      let result: Json;
      switch (op as Op) {
        case 'Decrypt':
          result = await decryptOp(ctx, input);
          break;
        case 'ReEncrypt':
          result = await reEncryptOp(ctx, input);
          break;
        default:
          result = await simpleOp(ctx, op as Op, input);
      }
      try {
        await audit.write(record(ctx, 200, undefined));
      } catch (e) {
        console.error('sealbox proxy: audit write failed; withholding the answer', e);
        return awsErrorResponse(ctx.requestId, new AwsError('KMSInternalException', 'The request could not be audited.', 500), cors);
      }
      return new Response(JSON.stringify(result), {
        status: 200,
        headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-requestid': ctx.requestId, ...cors },
      });
    } catch (e) {
      const error =
        e instanceof AwsError
          ? e
          : (console.error('sealbox proxy: internal error', e),
            new AwsError('KMSInternalException', 'The request failed because of an internal error.', 500, { reason: `internal: ${(e as Error)?.message ?? String(e)}` }));
      try {
        await audit.write(record(ctx, error.status, error));
      } catch (auditError) {
        console.error('sealbox proxy: audit write failed', auditError);
      }
      return awsErrorResponse(ctx.requestId, error, cors);
    }
  }

  return { fetch: (request: Request) => handle(request) };
}
