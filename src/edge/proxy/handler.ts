/**
 * The proxy's request pipeline, for one validated config: CORS → body cap → authenticate (JWT
 * bearer or SigV4, replay-checked) → rate limit → operation allow-list and input shape → the
 * operation (`operations/*.ts`: resolve the key, policy, forward, post-checks) → audit
 * (hash-chained; no audit, no answer) → answer. Every failure is an AwsError, audited as well.
 */
import { outcomeOf } from '../ops/metrics.js';
import { AwsError, awsErrorParts } from '../aws/errors.js';
import type { SigV4Request } from '../aws/sigv4.js';
import { isKmsTarget, JSON_CONTENT_TYPE, kmsOperation } from '../aws/json-protocol.js';
import type { Policy } from '../policy/index.js';
import { AuditLog } from './audit.js';
import { JwtAuthenticator, SigV4Authenticator, authenticateRequest } from './auth.js';
import { Authorizer } from './authorize.js';
import { DEFAULTS, type AuditRecord, type ProxyConfig } from './config.js';
import { Cors } from './cors.js';
import { accessDenied, serialization } from './errors.js';
import { KeyResolver } from './keys.js';
import { decryptOp } from './operations/decrypt.js';
import { reEncryptOp } from './operations/re-encrypt.js';
import { OTHER_KMS_OPERATIONS, PROXY_OPERATIONS, ProxyOperations, isRecord, type Ctx, type Json, type Op } from './operations/shared.js';
import { simpleOp } from './operations/simple.js';
import { MemoryStateStore } from '../state/memory.js';
import { RateLimiter } from './rate-limit.js';
import { replayCacheFor } from './shared-state.js';
import { checkRequestShape } from './shapes.js';
import { Upstream } from './upstream.js';

/** The 413 answer's error (servers that read the body before the pipeline does throw it too). */
export const tooLargeError = (max: number) => new AwsError('ValidationException', `The request body is larger than ${max} bytes.`, 413);

/** Reads a fetch Request's body, refusing it (413) as soon as it passes `max` bytes. */
async function readRequestBody(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > max) throw tooLargeError(max);
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
      throw tooLargeError(max);
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

/**
 * One call as the pipeline reads it: what a WHATWG Request offers, without building one. Servers
 * that read the body themselves (the Node server) hand it over through `body`.
 */
export interface ProxyRequest extends SigV4Request {
  /** The body, read to its end; rejects with {@link tooLargeError} once it passes `max` bytes. */
  body(max: number): Promise<Uint8Array>;
}

/** An answer as the pipeline makes it; `headers` is a fresh object the server may add to. */
export interface ProxyAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}


export interface ProxyHandler {
  /** The pipeline for a fetch Request (Workers, Deno, Bun; Node through an adapter). */
  fetch(request: Request): Promise<Response>;
  /** The same pipeline without Request/Response objects (the Node server's fast path). */
  handle(request: ProxyRequest): Promise<ProxyAnswer>;
}

/** The handler for a config that validateConfig has accepted. */
export function createHandler(c: ProxyConfig): ProxyHandler {
  const now = c.now ?? Date.now;
  const upstream = new Upstream(c.upstream, c.metrics);
  const keys = new KeyResolver(upstream, (c.keyCacheTtlSec ?? DEFAULTS.keyCacheTtlSec) * 1000, now);
  const authorizer = new Authorizer(c.policy as Policy);
  const jwt = c.auth.jwt ? new JwtAuthenticator(c.auth.jwt, now) : undefined;
  // Replay cache and rate-limit buckets: one store, shared by instances when it is (./shared-state.ts).
  const state = c.state ?? new MemoryStateStore({ now });
  const sigv4 = c.auth.sigv4 ? new SigV4Authenticator({ ...c.auth.sigv4, replayCache: c.auth.sigv4.replayCache ?? replayCacheFor(state) }, now, c.auth.sigv4.crypto) : undefined;
  const buckets =
    c.rateLimit === false
      ? undefined
      : new RateLimiter(
          state,
          { capacity: c.rateLimit?.capacity ?? DEFAULTS.capacity, refillPerSecond: c.rateLimit?.refillPerSecond ?? DEFAULTS.refillPerSecond },
          c.rateLimit?.onStoreError ?? 'allow',
          now,
        );
  const audit = new AuditLog(c.audit, c.instanceId ?? `proxy-${crypto.randomUUID().slice(0, 8)}`);
  const maxBody = c.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const cors = new Cors(c.cors);
  const ops = new ProxyOperations(upstream, keys, authorizer, now);

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
    if (ctx.stateError !== undefined) r.stateError = ctx.stateError;
    return r;
  }

  const metrics = c.metrics;
  const t0Of = new WeakMap<Ctx, number>();

  /** Writes the audit record, timed for the metrics. */
  async function audited(ctx: Ctx, status: number, error: AwsError | undefined): Promise<void> {
    if (!metrics) return audit.write(record(ctx, status, error));
    const t0 = performance.now();
    try {
      await audit.write(record(ctx, status, error));
    } finally {
      metrics.auditWrite((performance.now() - t0) / 1000);
    }
  }

  /** Counts a finished call (and what its refusal says: throttled, replayed, a store failing). */
  function counted(ctx: Ctx, response: ProxyAnswer, error: AwsError | undefined): ProxyAnswer {
    if (!metrics) return response;
    const t0 = t0Of.get(ctx) ?? performance.now();
    metrics.request(ctx.op, outcomeOf(response.status, error?.type), (performance.now() - t0) / 1000);
    if (error?.type === 'ThrottlingException' && error.reason.startsWith('rate limit')) metrics.rateLimited(ctx.caller?.authType ?? 'anonymous');
    if (error?.reason === 'sigv4 replay') metrics.replayRefused();
    if (error?.reason.startsWith('state store unavailable')) metrics.sharedStoreError(error.reason.includes('replay') ? 'replay' : 'rate-limit');
    else if (ctx.stateError !== undefined) metrics.sharedStoreError('rate-limit');
    return response;
  }

  async function handle(request: ProxyRequest): Promise<ProxyAnswer> {
    const origin = request.headers.get('origin') ?? undefined;
    if (request.method === 'OPTIONS') return cors.preflight(request.headers.get('access-control-request-headers'), origin);
    const ctx: Ctx = { requestId: crypto.randomUUID(), start: now(), op: 'Unknown', origin };
    if (metrics) t0Of.set(ctx, performance.now());
    const corsHeaders = cors.headers(origin);
    try {
      if (origin !== undefined && corsHeaders['access-control-allow-origin'] === undefined && (cors.configured || origin !== new URL(request.url).origin)) {
        throw accessDenied(`Origin ${origin} is not allowed.`, `cors: origin ${origin} not allowed`);
      }
      if (request.method !== 'POST') {
        throw new AwsError('UnknownOperationException', 'The KMS API accepts only POST requests.', 405, { headers: { allow: 'POST, OPTIONS' } });
      }
      const target = request.headers.get('x-amz-target') ?? '';
      ctx.op = kmsOperation(target).slice(0, 100) || 'Unknown';
      const bytes = await request.body(maxBody);
      ctx.caller = await authenticateRequest(jwt, sigv4, request, bytes);
      if (buckets) {
        const { waitMs, stateError } = await buckets.take(`${ctx.caller.authType}:${ctx.caller.principal}`);
        if (stateError !== undefined) ctx.stateError = stateError;
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
          result = await decryptOp(ops, ctx, input);
          break;
        case 'ReEncrypt':
          result = await reEncryptOp(ops, ctx, input);
          break;
        default:
          result = await simpleOp(ops, ctx, op as Op, input);
      }
      try {
        await audited(ctx, 200, undefined);
      } catch (e) {
        console.error('sealbox proxy: audit write failed; withholding the answer', e);
        const unaudited = new AwsError('KMSInternalException', 'The request could not be audited.', 500);
        return counted(ctx, awsErrorParts(ctx.requestId, unaudited, corsHeaders), unaudited);
      }
      const headers: Record<string, string> = { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-requestid': ctx.requestId, ...corsHeaders };
      return counted(ctx, { status: 200, headers, body: JSON.stringify(result) }, undefined);
    } catch (e) {
      const error =
        e instanceof AwsError
          ? e
          : (console.error('sealbox proxy: internal error', e),
            new AwsError('KMSInternalException', 'The request failed because of an internal error.', 500, { reason: `internal: ${(e as Error)?.message ?? String(e)}` }));
      try {
        await audited(ctx, error.status, error);
      } catch (auditError) {
        console.error('sealbox proxy: audit write failed', auditError);
      }
      return counted(ctx, awsErrorParts(ctx.requestId, error, corsHeaders), error);
    }
  }

  return {
    handle,
    async fetch(request: Request): Promise<Response> {
      const answer = await handle({ method: request.method, url: request.url, headers: request.headers, body: (max) => readRequestBody(request, max) });
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },
  };
}
