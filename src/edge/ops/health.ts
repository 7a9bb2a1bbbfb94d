/**
 * Liveness and readiness (runtime-agnostic: no Node imports).
 *
 * - `healthz()`: the process answers. Always 200 `{"status":"ok"}`; no check runs.
 * - `readyz()`: every configured check passes: 200 `{"status":"ok","checks":{…}}`, else 503
 *   `{"status":"fail",…}`. Each check's result is cached for `cacheMs` (default 5 s) and reported
 *   with its age, so probes are cheap: however often a load balancer asks, the upstream KMS, the
 *   audit sink and the state store are each asked at most once per `cacheMs`; probes that arrive
 *   while a check runs wait for that run (one in flight per check). A check that takes longer than
 *   `timeoutMs` (default 2 s) fails.
 *
 * ```ts
 * const health = createHealth({ checks: { upstream: httpReachable(endpoint), audit: () => sink.check() }, cacheMs: 5000 });
 * if (url.pathname === '/healthz') return health.healthz();
 * if (url.pathname === '/readyz') return health.readyz();
 * ```
 */

/** A readiness check: resolves (optionally with a short detail) when ready, throws or rejects when not. */
export type HealthCheck = () => void | string | Promise<void | string>;

export interface HealthOptions {
  /** Named checks; undefined entries are left out (e.g. `state` when no shared store is configured). */
  checks: Record<string, HealthCheck | undefined>;
  /** How long a check's result is reused, in ms (default 5000). */
  cacheMs?: number;
  /** A check still running after this many ms fails (default 2000). */
  timeoutMs?: number;
  /** Clock in ms (tests). Default `Date.now`. */
  now?: () => number;
}

export interface CheckResult {
  ok: boolean;
  /** ms since the check ran (0: it ran for this probe). */
  ageMs: number;
  /** How long the check took, in ms. */
  durationMs: number;
  /** The check's detail when it passed, or why it failed. */
  detail?: string;
}

export interface ReadinessReport {
  status: 'ok' | 'fail';
  checks: Record<string, CheckResult>;
}

export interface Health {
  /** 200 `{"status":"ok","uptimeSeconds":n}`. */
  healthz(): Response;
  /** 200 or 503 with the `ReadinessReport` as JSON. */
  readyz(): Promise<Response>;
  /** The report itself (what `readyz` sends). */
  report(): Promise<ReadinessReport>;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

interface Entry {
  at: number;
  ok: boolean;
  durationMs: number;
  detail?: string;
}

export function createHealth(options: HealthOptions): Health {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const started = now();
  const checks = Object.entries(options.checks).filter((e): e is [string, HealthCheck] => e[1] !== undefined);
  const cache = new Map<string, Entry>();
  const running = new Map<string, Promise<Entry>>();

  async function runCheck(check: HealthCheck): Promise<Entry> {
    const t0 = now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const detail = await Promise.race([
        Promise.resolve().then(check),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      const entry: Entry = { at: now(), ok: true, durationMs: now() - t0 };
      if (typeof detail === 'string' && detail !== '') entry.detail = detail;
      return entry;
    } catch (e) {
      return { at: now(), ok: false, durationMs: now() - t0, detail: e instanceof Error ? e.message : String(e) };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  function result(name: string, check: HealthCheck): Promise<Entry> {
    const cached = cache.get(name);
    if (cached && now() - cached.at < cacheMs) return Promise.resolve(cached);
    let p = running.get(name);
    if (!p) {
      p = runCheck(check).then((entry) => {
        cache.set(name, entry);
        running.delete(name);
        return entry;
      });
      running.set(name, p);
    }
    return p;
  }

  async function report(): Promise<ReadinessReport> {
    const entries = await Promise.all(checks.map(async ([name, check]) => [name, await result(name, check)] as const));
    const t = now();
    const out: Record<string, CheckResult> = {};
    for (const [name, e] of entries) {
      const r: CheckResult = { ok: e.ok, ageMs: Math.max(0, t - e.at), durationMs: e.durationMs };
      if (e.detail !== undefined) r.detail = e.detail;
      out[name] = r;
    }
    return { status: entries.every(([, e]) => e.ok) ? 'ok' : 'fail', checks: out };
  }

  return {
    healthz: () => new Response(JSON.stringify({ status: 'ok', uptimeSeconds: Math.floor((now() - started) / 1000) }), { status: 200, headers: JSON_HEADERS }),
    async readyz() {
      const r = await report();
      return new Response(JSON.stringify(r), { status: r.status === 'ok' ? 200 : 503, headers: JSON_HEADERS });
    },
    report,
  };
}

/**
 * A check that an HTTP endpoint answers (any status: a 400 from a KMS without credentials still
 * says it is up); fails on a network error. For the upstream KMS, this costs no KMS call.
 */
export function httpReachable(url: string, fetcher: typeof fetch = fetch): HealthCheck {
  return async () => {
    const r = await fetcher(url, { method: 'GET' });
    await r.body?.cancel().catch(() => {});
    return `HTTP ${r.status}`;
  };
}
