/**
 * Metrics on Node: Sealbox's metric set (src/edge/ops/metrics.ts, the same names as on Workers)
 * followed by prom-client's default Node metrics (process_cpu_seconds_total,
 * process_resident_memory_bytes, nodejs_heap_size_used_bytes, nodejs_eventloop_lag_seconds,
 * nodejs_gc_duration_seconds, …), which dashboards for Node services expect. prom-client gets a
 * registry of its own per server (never its global one), so two servers in one process (tests)
 * do not share or double-register.
 */
import { Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import { createSealboxMetrics, type SealboxMetrics, type SealboxMetricsOptions } from '../../edge/ops/metrics.js';

export interface NodeMetrics {
  readonly metrics: SealboxMetrics;
  /** Sealbox's metrics, then the process metrics: one Prometheus text. */
  expose(): Promise<string>;
}

export function createNodeMetrics(options: SealboxMetricsOptions & { processMetrics?: boolean } = {}): NodeMetrics {
  const { processMetrics = true, ...rest } = options;
  const metrics = createSealboxMetrics({
    memory: () => {
      const m = process.memoryUsage();
      return { rss: m.rss, heap_total: m.heapTotal, heap_used: m.heapUsed, external: m.external };
    },
    ...rest,
  });
  let prom: PromRegistry | undefined;
  if (processMetrics) {
    prom = new PromRegistry();
    collectDefaultMetrics({ register: prom });
  }
  return {
    metrics,
    async expose() {
      const own = metrics.registry.expose();
      return prom ? own + (await prom.metrics()) : own;
    },
  };
}
