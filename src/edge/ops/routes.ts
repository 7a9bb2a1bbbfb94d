/**
 * The operations endpoints in front of a service (runtime-agnostic): `GET /healthz`, `GET /readyz`
 * and `GET /metrics` (paths configurable). Not authenticated (but `/metrics` may require a bearer
 * token), not audited, not rate-limited: a server asks `answer` first and handles the request
 * itself only when it returns undefined.
 *
 * ```ts
 * const ops = createOpsRoutes({ health, metrics: { expose: () => m.registry.expose(), token: env.METRICS_TOKEN } });
 * const early = ops.fetch(request);           // Promise<Response> | undefined
 * if (early) return early;
 * ```
 */
import type { Health } from './health.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';

export interface OpsPaths {
  healthz?: string;
  readyz?: string;
  metrics?: string;
}

export interface OpsRoutesOptions {
  /** Liveness and readiness; omitted or false: no /healthz, /readyz. */
  health?: Health | false;
  /** The metrics text; omitted or false: no /metrics (the default: metrics are off unless asked for). */
  metrics?:
    | false
    | {
        expose: () => string | Promise<string>;
        /** When set, /metrics needs `Authorization: Bearer <token>` (401 otherwise). */
        token?: string;
      };
  /** Paths (default /healthz, /readyz, /metrics). */
  paths?: OpsPaths;
}

export interface OpsAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface OpsRoutes {
  /** The answer for a GET/HEAD of an operations path, or undefined for any other request. */
  answer(method: string, pathname: string, authorization: string | null | undefined): Promise<OpsAnswer> | undefined;
  /** `answer` for a fetch Request. */
  fetch(request: Request): Promise<Response> | undefined;
}

/** Compares two strings in time that depends on their lengths only. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i % (x.length || 1)] ?? 0) ^ (y[i % (y.length || 1)] ?? 0);
  return diff === 0;
}

export function createOpsRoutes(options: OpsRoutesOptions): OpsRoutes {
  const paths = { healthz: '/healthz', readyz: '/readyz', metrics: '/metrics', ...options.paths };
  const health = options.health || undefined;
  const metrics = options.metrics || undefined;

  async function fromResponse(r: Response): Promise<OpsAnswer> {
    const headers: Record<string, string> = {};
    r.headers.forEach((v, k) => (headers[k] = v));
    return { status: r.status, headers, body: await r.text() };
  }

  function answer(method: string, pathname: string, authorization: string | null | undefined): Promise<OpsAnswer> | undefined {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    if (health && pathname === paths.healthz) return fromResponse(health.healthz());
    if (health && pathname === paths.readyz) return health.readyz().then(fromResponse);
    if (metrics && pathname === paths.metrics) {
      if (metrics.token !== undefined) {
        const m = /^Bearer (.+)$/.exec(authorization ?? '');
        if (!m || !sameSecret(m[1]!, metrics.token)) {
          return Promise.resolve({
            status: 401,
            headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="metrics"', 'cache-control': 'no-store' },
            body: '{"message":"metrics need Authorization: Bearer <token>"}',
          });
        }
      }
      return Promise.resolve(metrics.expose()).then((text) => ({ status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }, body: text }));
    }
    return undefined;
  }

  return {
    answer,
    fetch(request) {
      const a = answer(request.method, new URL(request.url).pathname, request.headers.get('authorization'));
      return a?.then((r) => new Response(request.method === 'HEAD' ? null : r.body, { status: r.status, headers: r.headers }));
    },
  };
}
