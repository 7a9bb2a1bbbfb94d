/**
 * Metrics (runtime-agnostic: no Node imports, so the same code runs in Workers, Deno, Bun and Node):
 * a small registry of counters, gauges and histograms with labels, written out in the Prometheus
 * text exposition format (version 0.0.4), and Sealbox's metric set on top of it.
 *
 * ```ts
 * const metrics = createSealboxMetrics();
 * metrics.request('Decrypt', 'allow', 0.012);
 * return new Response(metrics.registry.expose(), { headers: { 'content-type': PROMETHEUS_CONTENT_TYPE } });
 * ```
 *
 * Series are written sorted by their labels, so the text depends on what was recorded, not on the
 * order calls finished in. On Node, `src/node/ops/metrics.ts` appends prom-client's default process
 * metrics (CPU, memory, event loop, GC) to this text.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Prometheus's default buckets (seconds): 5 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type Labels = Record<string, string>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A sample value as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, else the shortest round-trip decimal. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i]!)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!NAME.test(name)) throw new TypeError(`metric name "${name}" is not valid`);
    for (const l of labelNames) if (!LABEL.test(l) || l.startsWith('__') || l === 'le') throw new TypeError(`label name "${l}" is not valid`);
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The label values in `labelNames` order; throws on a missing or unknown label. */
  protected values(labels: Labels | undefined): string[] {
    const given = labels ?? {};
    for (const k of Object.keys(given)) if (!this.labelNames.includes(k)) throw new TypeError(`${this.name}: unknown label "${k}"`);
    return this.labelNames.map((n) => {
      const v = given[n];
      if (v === undefined) throw new TypeError(`${this.name}: label "${n}" is missing`);
      return v;
    });
  }

  protected static key(values: readonly string[]): string {
    return values.join('\u0000');
  }

  abstract samples(): string[];

  expose(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n${this.samples().join('')}`;
  }
}

function sortedEntries<T>(map: Map<string, { values: string[] } & T>): Array<{ values: string[] } & T> {
  return [...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, v]) => v);
}

export class Counter extends Metric {
  readonly type = 'counter';
  readonly #series = new Map<string, { values: string[]; value: number }>();

  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`${this.name}: a counter only goes up`);
    const values = this.values(labels);
    const k = Metric.key(values);
    const s = this.#series.get(k);
    if (s) s.value += by;
    else this.#series.set(k, { values, value: by });
  }

  get(labels?: Labels): number {
    return this.#series.get(Metric.key(this.values(labels)))?.value ?? 0;
  }

  samples(): string[] {
    return sortedEntries(this.#series).map((s) => `${this.name}${labelText(this.labelNames, s.values)} ${formatValue(s.value)}\n`);
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';
  readonly #series = new Map<string, { values: string[]; value: number }>();

  set(labels: Labels | undefined, value: number): void {
    const values = this.values(labels);
    this.#series.set(Metric.key(values), { values, value });
  }

  inc(labels?: Labels, by = 1): void {
    const values = this.values(labels);
    const k = Metric.key(values);
    const s = this.#series.get(k);
    if (s) s.value += by;
    else this.#series.set(k, { values, value: by });
  }

  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }

  get(labels?: Labels): number | undefined {
    return this.#series.get(Metric.key(this.values(labels)))?.value;
  }

  samples(): string[] {
    return sortedEntries(this.#series).map((s) => `${this.name}${labelText(this.labelNames, s.values)} ${formatValue(s.value)}\n`);
  }
}

export class Histogram extends Metric {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  readonly #series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = DEFAULT_BUCKETS) {
    super(name, help, labelNames);
    const sorted = [...buckets].filter((b) => b !== Infinity);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= sorted[i - 1]!))) {
      throw new TypeError(`${name}: buckets must be finite and increasing`);
    }
    this.buckets = sorted;
  }

  observe(labels: Labels | undefined, value: number): void {
    const values = this.values(labels);
    const k = Metric.key(values);
    let s = this.#series.get(k);
    if (!s) this.#series.set(k, (s = { values, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Count and sum of one series (tests, and the KMS's own checks). */
  get(labels?: Labels): { count: number; sum: number } {
    const s = this.#series.get(Metric.key(this.values(labels)));
    return { count: s?.count ?? 0, sum: s?.sum ?? 0 };
  }

  samples(): string[] {
    const out: string[] = [];
    for (const s of sortedEntries(this.#series)) {
      // Counts are kept per bucket as "≤ bound", which is already cumulative.
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText(this.labelNames, s.values, ['le', formatValue(b)])} ${s.counts[i]}\n`));
      out.push(`${this.name}_bucket${labelText(this.labelNames, s.values, ['le', '+Inf'])} ${s.count}\n`);
      out.push(`${this.name}_sum${labelText(this.labelNames, s.values)} ${formatValue(s.sum)}\n`);
      out.push(`${this.name}_count${labelText(this.labelNames, s.values)} ${s.count}\n`);
    }
    return out;
  }
}

/** A set of metrics, written out together in registration order. */
export class Registry {
  readonly #metrics = new Map<string, Metric>();
  readonly #collectors: Array<() => void> = [];

  #add<M extends Metric>(m: M): M {
    if (this.#metrics.has(m.name)) throw new TypeError(`metric "${m.name}" is already registered`);
    this.#metrics.set(m.name, m);
    return m;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  /** Runs `collect` before each exposition (gauges read at scrape time: memory, queue sizes). */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** The Prometheus text of every metric; a metric with no series yet is written as HELP and TYPE only. */
  expose(): string {
    for (const c of this.#collectors) {
      try {
        c();
      } catch {
        // A collector that fails leaves its gauges as they were: a scrape never fails for it.
      }
    }
    return [...this.#metrics.values()].map((m) => m.expose()).join('');
  }
}

// ── Sealbox's metrics ──────────────────────────────────────────────────────────────────────────────

/** What became of a call: answered, refused (auth, policy), failed (upstream, invalid, internal), or rate-limited. */
export type Outcome = 'allow' | 'deny' | 'error' | 'throttled';

/** Error types that mean "refused": authentication failed or the policy said no. */
const DENY_TYPES = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
]);

/**
 * The outcome label of a finished call, from its HTTP status and AWS error type (`__type`, with or
 * without a `namespace#` prefix): 2xx allow; ThrottlingException (or 429) throttled; authentication
 * and authorization errors deny; anything else (validation, not found, invalid key state, 5xx) error.
 */
export function outcomeOf(status: number, errorType?: string): Outcome {
  if (status >= 200 && status < 300) return 'allow';
  const type = errorType?.split('#').pop();
  if (type === 'ThrottlingException' || status === 429) return 'throttled';
  if (type !== undefined && DENY_TYPES.has(type)) return 'deny';
  return 'error';
}

export interface SealboxMetricsOptions {
  /** Histogram buckets for the latencies (seconds). Default DEFAULT_BUCKETS. */
  buckets?: readonly number[];
  /** Operation names allowed as a label; others count as `other` (a client cannot grow the label set). Default: names of 1–64 letters, at most `maxOps` of them. */
  ops?: readonly string[];
  /** With no `ops` list: distinct operation labels before the rest count as `other` (default 64). */
  maxOps?: number;
  /** Memory in bytes by type (e.g. `{ rss, heapUsed }`), read at each scrape; undefined where the runtime has none (Workers). */
  memory?: () => Record<string, number> | undefined;
}

/** Principal classes for rate-limit rejections: how the caller authenticated. */
export type PrincipalClass = 'jwt' | 'sigv4' | 'anonymous';

export interface SealboxMetrics {
  readonly registry: Registry;
  readonly requests: Counter;
  readonly requestDuration: Histogram;
  readonly upstreamDuration: Histogram;
  readonly upstreamErrors: Counter;
  readonly auditWriteDuration: Histogram;
  readonly rateLimitRejections: Counter;
  readonly replayRefusals: Counter;
  readonly sharedStoreErrors: Counter;
  readonly memory: Gauge;
  /** One finished call: `sealbox_requests_total{op,outcome}` and `sealbox_request_duration_seconds{op}`. */
  request(op: string, outcome: Outcome, seconds: number): void;
  /** One upstream (KMS) call: its duration; with `errorType`, `sealbox_upstream_errors_total{type}` too. */
  upstream(op: string, seconds: number, errorType?: string): void;
  /** One audit write (append + fsync, or the sink's promise). */
  auditWrite(seconds: number): void;
  /** A call refused by the rate limiter. */
  rateLimited(principalClass: PrincipalClass): void;
  /** A SigV4 signature refused as a replay. */
  replayRefused(): void;
  /** A failed call to a shared store (replay cache, rate-limit store): `store` names which. */
  sharedStoreError(store: string): void;
}

/** Sealbox's metric set (names in docs/OPERATIONS.md), in a fresh registry or the one given. */
export function createSealboxMetrics(options: SealboxMetricsOptions = {}, registry = new Registry()): SealboxMetrics {
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  const requests = registry.counter('sealbox_requests_total', 'Calls by KMS operation and outcome (allow, deny, error, throttled).', ['op', 'outcome']);
  const requestDuration = registry.histogram('sealbox_request_duration_seconds', 'Time from request to response, by operation.', ['op'], buckets);
  const upstreamDuration = registry.histogram('sealbox_upstream_duration_seconds', 'Time of calls to the upstream KMS, by operation.', ['op'], buckets);
  const upstreamErrors = registry.counter('sealbox_upstream_errors_total', 'Upstream KMS calls that failed, by error type (network errors and timeouts included).', ['type']);
  const auditWriteDuration = registry.histogram('sealbox_audit_write_duration_seconds', 'Time to write (and sync) one audit record.', [], buckets);
  const rateLimitRejections = registry.counter('sealbox_rate_limit_rejections_total', 'Calls refused by the rate limiter, by principal class (jwt, sigv4, anonymous).', ['principal_class']);
  const replayRefusals = registry.counter('sealbox_replay_refusals_total', 'SigV4 signatures refused because they were seen before.');
  const sharedStoreErrors = registry.counter('sealbox_shared_store_errors_total', 'Failed calls to a shared state store, by store.', ['store']);
  const memory = registry.gauge('sealbox_process_memory_bytes', 'Process memory by type, where the runtime reports it.', ['type']);
  if (options.memory) {
    const read = options.memory;
    registry.onCollect(() => {
      const m = read();
      if (m) for (const [type, bytes] of Object.entries(m)) memory.set({ type }, bytes);
    });
  }
  const allowed = options.ops ? new Set(options.ops) : undefined;
  const seen = new Set<string>();
  const maxOps = options.maxOps ?? 64;
  const opLabel = (op: string): string => {
    if (allowed) return allowed.has(op) ? op : 'other';
    if (seen.has(op)) return op;
    if (!/^[A-Za-z]{1,64}$/.test(op) || seen.size >= maxOps) return 'other';
    seen.add(op);
    return op;
  };
  return {
    registry,
    requests,
    requestDuration,
    upstreamDuration,
    upstreamErrors,
    auditWriteDuration,
    rateLimitRejections,
    replayRefusals,
    sharedStoreErrors,
    memory,
    request(op, outcome, seconds) {
      const label = opLabel(op);
      requests.inc({ op: label, outcome });
      requestDuration.observe({ op: label }, seconds);
    },
    upstream(op, seconds, errorType) {
      upstreamDuration.observe({ op: opLabel(op) }, seconds);
      if (errorType !== undefined) upstreamErrors.inc({ type: /^[A-Za-z.]{1,64}$/.test(errorType) ? errorType : 'other' });
    },
    auditWrite(seconds) {
      auditWriteDuration.observe(undefined, seconds);
    },
    rateLimited(principalClass) {
      rateLimitRejections.inc({ principal_class: principalClass });
    },
    replayRefused() {
      replayRefusals.inc();
    },
    sharedStoreError(store) {
      sharedStoreErrors.inc({ store });
    },
  };
}
