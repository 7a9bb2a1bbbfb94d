/**
 * Metrics and ops endpoints for a fetch handler, from the outside (runtime-agnostic): what the proxy
 * gets without changes to its request handler, through the seams its config already has.
 *
 * - `withOps(handler, { routes, metrics })`: answers /healthz, /readyz, /metrics first (not
 *   authenticated, audited or rate-limited), then times every other call and counts it by operation
 *   (`x-amz-target`) and outcome (from the status and `x-amzn-errortype`).
 * - `instrumentProxyConfig(config, metrics)`: the same config with its seams wrapped: the upstream
 *   `fetch` (upstream latency, upstream errors by type), the audit sink (audit write latency; the
 *   records' reasons count rate-limit rejections by principal class and replay refusals), and a
 *   shared replay cache when one is configured (its failures count as shared-store errors).
 *
 * When the proxy's handler records these itself, use `createSealboxMetrics`' methods there instead.
 */
import type { AuditConfig, AuditRecord, ProxyConfig, ReplayCache } from '../proxy/config.js';
import { outcomeOf, type PrincipalClass, type SealboxMetrics } from './metrics.js';
import type { OpsRoutes } from './routes.js';

type Handler = (request: Request) => Promise<Response>;

const opOf = (target: string | null) => (target ?? '').split('.').pop() || 'unknown';
const seconds = (t0: number) => (performance.now() - t0) / 1000;

export function withOps(handler: Handler, o: { routes?: OpsRoutes; metrics?: SealboxMetrics }): Handler {
  return async (request) => {
    const early = o.routes?.fetch(request);
    if (early) return early;
    const m = o.metrics;
    if (!m) return handler(request);
    const t0 = performance.now();
    const op = opOf(request.headers.get('x-amz-target'));
    try {
      const r = await handler(request);
      m.request(op, outcomeOf(r.status, r.headers.get('x-amzn-errortype') ?? undefined), seconds(t0));
      return r;
    } catch (e) {
      m.request(op, 'error', seconds(t0));
      throw e;
    }
  };
}

/** A fetch for upstream calls that times them and counts failures by AWS error type. */
export function instrumentUpstreamFetch(inner: typeof fetch, m: SealboxMetrics): typeof fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const headers = new Headers(init?.headers ?? request?.headers);
    const op = opOf(headers.get('x-amz-target'));
    const t0 = performance.now();
    let r: Response;
    try {
      r = await inner(input, init);
    } catch (e) {
      const name = (e as Error)?.name;
      m.upstream(op, seconds(t0), name === 'AbortError' || name === 'TimeoutError' ? 'DependencyTimeoutException' : 'NetworkError');
      throw e;
    }
    let type: string | undefined;
    if (r.status !== 200) {
      type = r.headers.get('x-amzn-errortype')?.split(':')[0] ?? undefined;
      if (type === undefined) {
        const body = (await r.clone().json().catch(() => undefined)) as { __type?: unknown } | undefined;
        type = typeof body?.__type === 'string' ? body.__type : `HTTP${r.status}`;
      }
      type = type.split('#').pop();
    }
    m.upstream(op, seconds(t0), type);
    return r;
  };
}

function principalClass(record: AuditRecord): PrincipalClass {
  return record.authType ?? 'anonymous';
}

/** Counts what only the audit record tells: rate-limit rejections and replay refusals. */
function countFromRecord(record: AuditRecord, m: SealboxMetrics): void {
  if (record.reason?.startsWith('rate limit')) m.rateLimited(principalClass(record));
  else if (record.reason === 'sigv4 replay') m.replayRefused();
}

export function instrumentAudit(audit: AuditConfig | undefined, m: SealboxMetrics): AuditConfig {
  const a = audit ?? 'console';
  if (a === 'none') return a;
  if (typeof a === 'object' && 'record' in a) {
    // A recorder (the Node audit file) chains records itself: time its record() instead.
    const record = a.record.bind(a);
    return {
      record: async (r: AuditRecord) => {
        countFromRecord(r, m);
        const t0 = performance.now();
        try {
          await record(r);
        } finally {
          m.auditWrite(seconds(t0));
        }
      },
    };
  }
  const write = a === 'console' ? (line: string) => console.log(line) : typeof a === 'function' ? a : a.write.bind(a);
  const timed = async (line: string, record: AuditRecord) => {
    countFromRecord(record, m);
    const t0 = performance.now();
    try {
      await write(line, record);
    } finally {
      m.auditWrite(seconds(t0));
    }
  };
  return typeof a === 'object' ? { ...a, write: timed } : timed;
}

/** A shared replay cache whose refusals and failures are counted (its failures as `store="replay"`). */
export function instrumentReplayCache(cache: ReplayCache, m: SealboxMetrics): ReplayCache {
  return {
    async remember(signature, expiresAt) {
      try {
        return await cache.remember(signature, expiresAt);
      } catch (e) {
        m.sharedStoreError('replay');
        throw e;
      }
    },
  };
}

/** The config with its upstream fetch, audit sink and (shared) replay cache instrumented. */
export function instrumentProxyConfig<C extends ProxyConfig>(config: C, m: SealboxMetrics): C {
  const out: C = { ...config, upstream: { ...config.upstream, fetch: instrumentUpstreamFetch(config.upstream.fetch ?? ((i, init) => fetch(i, init)), m) }, audit: instrumentAudit(config.audit, m) };
  const replay = config.auth.sigv4?.replayCache;
  if (config.auth.sigv4 && replay) out.auth = { ...config.auth, sigv4: { ...config.auth.sigv4, replayCache: instrumentReplayCache(replay, m) } };
  return out;
}
