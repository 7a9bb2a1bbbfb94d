/**
 * The local KMS server's operations endpoints (server layer only: the handler and its operations
 * are untouched): `GET /healthz`, `GET /readyz` and, when asked for, `GET /metrics`. They are
 * answered before a request reaches the KMS handler: not authenticated (except the metrics bearer
 * token), not audited, not counted against quotas, and cheap (readiness results are cached).
 *
 * Options (on `startLocalKmsServer`, and as `sealbox kms` flags):
 *
 * | option | flag | default |
 * | --- | --- | --- |
 * | `health: false` | `--no-health` | on: /healthz and /readyz |
 * | `metrics: true \| { token }` | `--metrics`, `--metrics-token-env <VAR>` | off |
 * | `opsPaths: { healthz, readyz, metrics }` | — | /healthz, /readyz, /metrics |
 * | `healthCacheMs` | — | 5000 |
 *
 * Readiness checks: `store` (a probe file is written, synced and removed in the data directory)
 * and `audit` (the audit file is writable; absent when the audit is off).
 */
import type { RequestListener } from 'node:http';
import { createHealth } from '../../edge/ops/health.js';
import { outcomeOf, type SealboxMetrics } from '../../edge/ops/metrics.js';
import { createOpsRoutes, type OpsPaths, type OpsRoutes } from '../../edge/ops/routes.js';
import { dirWritable, fileWritable } from '../ops/checks.js';
import { createNodeMetrics, type NodeMetrics } from '../ops/metrics.js';
import { opsListener } from '../ops/listener.js';
import type { KmsHandler } from './handler.js';

export interface KmsOpsOptions {
  /** /healthz and /readyz (default true). */
  health?: boolean;
  /** /metrics: off by default; true for open, `{ token }` to require `Authorization: Bearer <token>`. */
  metrics?: boolean | { token: string };
  opsPaths?: OpsPaths;
  /** How long a readiness result is reused (default 5000 ms). */
  healthCacheMs?: number;
}

export interface KmsOps {
  routes: OpsRoutes;
  /** Present when metrics are on. */
  metrics: NodeMetrics | undefined;
  /** The handler core, timed and counted (when metrics are on). */
  handle: KmsHandler['handle'];
  /** `fetch`, timed and counted (when metrics are on). */
  fetch: (request: Request) => Promise<Response>;
  /** A node:http listener answering the ops paths, passing everything else to `inner`. */
  listener(inner: RequestListener): RequestListener;
}

/** `TrentService.Decrypt` → `Decrypt`. */
const opOf = (target: string | null) => (target ?? '').split('.').pop() || 'unknown';

export function createKmsOps(
  kms: { dataDir: string; auditPath: string | undefined; handle: KmsHandler['handle']; fetch: (r: Request) => Promise<Response> },
  options: KmsOpsOptions,
  metrics: NodeMetrics | undefined,
): KmsOps {
  const health =
    options.health === false
      ? undefined
      : createHealth({
          cacheMs: options.healthCacheMs ?? 5000,
          checks: {
            store: dirWritable(kms.dataDir),
            audit: kms.auditPath === undefined ? undefined : fileWritable(kms.auditPath),
          },
        });
  const token = typeof options.metrics === 'object' ? options.metrics.token : undefined;
  const routes = createOpsRoutes({
    health: health ?? false,
    metrics: metrics ? { expose: () => metrics.expose(), ...(token === undefined ? {} : { token }) } : false,
    ...(options.opsPaths ? { paths: options.opsPaths } : {}),
  });
  const m: SealboxMetrics | undefined = metrics?.metrics;
  const handle: KmsHandler['handle'] = m
    ? async (request, body) => {
        const t0 = performance.now();
        const r = await kms.handle(request, body);
        m.request(opOf(request.headers.get('x-amz-target')), outcomeOf(r.status, r.headers['x-amzn-errortype']), (performance.now() - t0) / 1000);
        return r;
      }
    : kms.handle;
  const fetch = m
    ? async (request: Request) => {
        const t0 = performance.now();
        const r = await kms.fetch(request);
        m.request(opOf(request.headers.get('x-amz-target')), outcomeOf(r.status, r.headers.get('x-amzn-errortype') ?? undefined), (performance.now() - t0) / 1000);
        return r;
      }
    : kms.fetch;
  return {
    routes,
    metrics,
    handle,
    fetch,
    listener: (inner) => opsListener(routes, inner),
  };
}

export { createNodeMetrics };
