// The tables `npm run bench` and `npm run bench:runtimes` print: one row per runtime and chunk
// size, stream throughput next to that runtime's own raw WebCrypto ceiling.
import type { Row } from './core.js';

export const fmt = (n: number, digits = 0) => n.toFixed(digits);

/** What one runtime gave: rows, or why there are none (skipped: not installed; error: it failed). */
export interface RuntimeResult {
  runtime: string;
  version?: string;
  /** How the runtime was timed (workerd: per-byte slope of two sizes timed from Node). */
  method?: string;
  rows?: Row[];
  /** workerd: the same from wall time (its rows are from CPU time). */
  wallRows?: Row[];
  skipped?: string;
  error?: string;
  seconds?: number;
}

const ratio = (r: number, target: number) => `${fmt(r, 2)}×${r < target ? ' ✗' : ''}`;

/** A Markdown table; ratios under `target` are marked ✗. CPU ratios (Node) get their own column. */
export function runtimeTable(results: RuntimeResult[], target: number): string[] {
  const cpu = results.some((r) => r.rows?.some((row) => row.encryptCpuRatio !== undefined));
  const lines = [
    `| runtime | chunk | depth | ceiling enc MB/s | EncryptStream MB/s | ratio | ceiling dec MB/s | DecryptStream MB/s | ratio |${cpu ? ' CPU ratio enc / dec |' : ''}`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${cpu ? ' ---: |' : ''}`,
  ];
  for (const r of results) {
    if (!r.rows) {
      lines.push(`| ${r.runtime} | ${r.skipped ? `skipped: ${r.skipped}` : 'failed'} | | | | | | | |${cpu ? ' |' : ''}`);
      continue;
    }
    for (const row of r.rows) {
      const cpuCell = row.encryptCpuRatio === undefined ? '' : `${fmt(row.encryptCpuRatio, 2)}× / ${fmt(row.decryptCpuRatio ?? 0, 2)}×`;
      lines.push(
        `| ${r.runtime} | ${row.chunkSize / 1024} KiB | ${row.depth} | ${fmt(row.ceilingEncryptMBps)} | ${fmt(row.encryptStreamMBps)} | ${ratio(row.encryptRatio, target)} | ${fmt(row.ceilingDecryptMBps)} | ${fmt(row.decryptStreamMBps)} | ${ratio(row.decryptRatio, target)} |` +
          (cpu ? ` ${cpuCell} |` : ''),
      );
    }
  }
  const workerRows = results.flatMap((r) => (r.rows ?? []).filter((row) => row.workers !== undefined).map((row) => ({ runtime: r.runtime, row })));
  if (workerRows.length > 0) {
    lines.push('', '| runtime | workers | Blob | chunk | ceiling enc (1 thread) | workers enc MB/s | × ceiling | ceiling dec (1 thread) | workers dec MB/s | × ceiling | Blob read MB/s | long tasks | page RSS growth |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const { runtime, row } of workerRows) {
      lines.push(
        `| ${runtime} | ${row.workers} | ${(row.workersTotal ?? 0) / 1048576} MiB | ${row.chunkSize / 1024} KiB | ${fmt(row.ceilingEncryptMBps)} | ${fmt(row.workersEncryptMBps ?? 0)} | ${fmt((row.workersEncryptMBps ?? 0) / row.ceilingEncryptMBps, 2)}× | ` +
          `${fmt(row.ceilingDecryptMBps)} | ${fmt(row.workersDecryptMBps ?? 0)} | ${fmt((row.workersDecryptMBps ?? 0) / row.ceilingDecryptMBps, 2)}× | ${row.blobReadMBps === undefined ? 'n/a' : fmt(row.blobReadMBps)} | ${row.longTasks ?? 'n/a'} | ${row.workersPageRssGrowthBytes === undefined ? 'n/a' : `${fmt(row.workersPageRssGrowthBytes / 1048576)} MiB`} |`,
      );
    }
  }
  return lines;
}

/** Per runtime: every ratio ≥ target (false for a failed runtime; skipped ones are left out). */
export function runtimeVerdict(results: RuntimeResult[], target: number): Record<string, boolean> {
  return Object.fromEntries(
    results
      .filter((r) => !r.skipped)
      .map((r) => [r.runtime, !!r.rows && r.rows.every((row) => row.encryptRatio >= target && row.decryptRatio >= target)]),
  );
}

/** Where each runtime came from, under the table: versions, how timed, why skipped or failed. */
export function runtimeNotes(results: RuntimeResult[]): string[] {
  return results.map((r) => {
    const what = r.rows ? [r.version, r.method].filter(Boolean).join('; ') : r.skipped ? `skipped: ${r.skipped}` : `failed: ${(r.error ?? '').split('\n')[0]}`;
    return `- ${r.runtime}: ${what}${r.seconds === undefined ? '' : ` (${fmt(r.seconds)} s)`}`;
  });
}

/**
 * Where each runtime's gap to its ceiling lies: the plain-stream reference (a minimal pipelined
 * TransformStream around the ceiling's own WebCrypto calls) against the ceiling, which is what that
 * runtime's Web Streams cost, and Sealbox's streams against that reference, which is what Sealbox
 * costs.
 */
export function plainTable(results: RuntimeResult[]): string[] {
  const lines = [
    '| runtime | chunk | plain enc MB/s | plain ÷ ceiling enc | Sealbox ÷ plain enc | plain dec MB/s | plain ÷ ceiling dec | Sealbox ÷ plain dec |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    for (const row of r.rows ?? []) {
      lines.push(
        `| ${r.runtime} | ${row.chunkSize / 1024} KiB | ${fmt(row.plainEncryptMBps)} | ${fmt(row.plainEncryptMBps / row.ceilingEncryptMBps, 2)}× | ${fmt(row.encryptStreamMBps / row.plainEncryptMBps, 2)}× | ` +
          `${fmt(row.plainDecryptMBps)} | ${fmt(row.plainDecryptMBps / row.ceilingDecryptMBps, 2)}× | ${fmt(row.decryptStreamMBps / row.plainDecryptMBps, 2)}× |`,
      );
    }
  }
  return lines.length > 2 ? lines : [];
}
