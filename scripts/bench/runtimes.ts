// Stream throughput against the runtime's own raw WebCrypto ceiling in Deno, Bun and workerd (and
// Node or Chromium if asked), through the runtime hosts of the conformance suite
// (scripts/runtimes/hosts.ts), which run test/runtimes/bench.ts: the same bodies as Node's run
// (scripts/bench/core.ts), bundled for each runtime.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { BenchStep } from '../../test/runtimes/bench.js';
import { type Host, type RuntimeName, runtimeBinary, withHost } from '../runtimes/hosts.js';
import type { Row } from './core.js';
import type { RuntimeResult } from './report.js';

export interface HostBenchOptions {
  total: number;
  chunkSizes: number[];
  pieceSize: number;
  depths: Record<number, number>;
  reps: number;
}

const TIMEOUT_MS = 15 * 60_000;

/** CPU seconds used so far by all threads of `pid` (Linux: the first field of each thread's schedstat under /proc/<pid>/task, in ns). */
function processCpuSeconds(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return ns / 1e9;
  } catch {
    return undefined;
  }
}

const STEPS = ['ceiling-encrypt', 'encrypt-stream', 'ceiling-decrypt', 'decrypt-stream', 'plain-encrypt', 'plain-decrypt'] as const;
type Step = (typeof STEPS)[number];
type Best = Record<Step, { small: number; large: number }>;

/** A row from the per-byte slopes between the small and the large size. */
function slopeRow(best: Best, small: number, large: number, chunkSize: number, depth: number): Row {
  // A noisy pair can make a slope non-positive, which then reads as 0 MB/s.
  const mbps = (s: Step) => Math.max(0, (large - small) / 1e6 / (best[s].large - best[s].small));
  const row = {
    chunkSize,
    depth,
    ceilingEncryptMBps: mbps('ceiling-encrypt'),
    encryptStreamMBps: mbps('encrypt-stream'),
    ceilingDecryptMBps: mbps('ceiling-decrypt'),
    decryptStreamMBps: mbps('decrypt-stream'),
    plainEncryptMBps: mbps('plain-encrypt'),
    plainDecryptMBps: mbps('plain-decrypt'),
  };
  return { ...row, encryptRatio: row.encryptStreamMBps / row.ceilingEncryptMBps, decryptRatio: row.decryptStreamMBps / row.ceilingDecryptMBps };
}

/**
 * workerd, one request per step, timed from Node: its clock stands still while a request computes
 * (a Spectre mitigation), so nothing inside can time itself.
 *
 * Each measurement is the per-byte slope between a step over `total / 4` and one over `total`
 * (best of `2 × reps` each), not one request's time less an empty request's round trip. A whole
 * request also pays fixed costs that are not throughput: the 4 MiB pattern generated in
 * JavaScript, key import, the keyring's HKDF and commitment, setting up the pipe; 5–15 ms at
 * 16–64 MiB, against steps of 5–50 ms. The empty request's round trip cancels only HTTP and JSON;
 * the slope cancels all of them. With single requests of 16 MiB the short 256 KiB ceiling steps
 * were mostly fixed cost, which made the 256 KiB ratios look like 0.7–1.0× instead of about 0.4×.
 *
 * It is the slope of workerd's CPU time (all its threads, from /proc) where Linux gives it, not of
 * wall time: crypto.subtle in workerd runs synchronously on the isolate's thread (the promise is
 * already settled when `encrypt` returns), so a step is one thread computing, and its CPU time
 * leaves out the time other processes held the CPU. Wall-time rows are in the JSON (`wallRows`).
 *
 * Synchronous crypto also means that the "ceiling" is AES-GCM in a plain loop, whatever the depth,
 * and that none of the streams' own work overlaps it (in Node it overlaps the thread pool's AES).
 * So in workerd the ratio is AES time over AES time plus the Web Streams' own cost, which there is
 * high: measured in workerd alone, the generated source through a plain TransformStream that
 * re-enqueues each 64 KiB piece as four 16 KiB views into the counting sink, no crypto, took about
 * 15 µs per 16 KiB, more than AES-GCM of 16 KiB (about 12 µs).
 */
async function workerdSlopes(host: Host, { total, chunkSizes, pieceSize, depths, reps }: HostBenchOptions): Promise<{ rows: Row[]; wallRows: Row[]; clock: string }> {
  const small = total / 4;
  const cpu = () => (host.pid === undefined ? undefined : processCpuSeconds(host.pid));
  const clock = cpu() === undefined ? 'wall time' : 'CPU time';
  const step = async (name: BenchStep, chunkSize: number, bytes: number) => {
    const cpu0 = cpu();
    const start = performance.now();
    const r = await host.call<{ bytes: number }>({ op: 'bench-step', step: name, total: bytes, chunkSize, depth: depths[chunkSize]!, pieceSize }, TIMEOUT_MS);
    const wall = (performance.now() - start) / 1000;
    const cpu1 = cpu();
    if (name === 'decrypt-stream' && r.bytes !== bytes) throw new Error(`workerd decrypted ${r.bytes} of ${bytes} bytes`);
    return { wall, cpu: cpu0 === undefined || cpu1 === undefined ? wall : cpu1 - cpu0 };
  };
  const rows: Row[] = [];
  const wallRows: Row[] = [];
  for (const chunkSize of chunkSizes) {
    await step('ceiling-encrypt', chunkSize, small);
    await step('encrypt-stream', chunkSize, small);
    await step('make-envelope', chunkSize, small);
    await step('make-envelope', chunkSize, total);
    const fresh = () => Object.fromEntries(STEPS.map((s) => [s, { small: Infinity, large: Infinity }])) as Best;
    const bestCpu = fresh();
    const bestWall = fresh();
    for (let rep = 0; rep < 2 * reps; rep++) {
      for (const s of STEPS) {
        for (const size of ['small', 'large'] as const) {
          const r = await step(s, chunkSize, size === 'small' ? small : total);
          bestCpu[s][size] = Math.min(bestCpu[s][size], r.cpu);
          bestWall[s][size] = Math.min(bestWall[s][size], r.wall);
        }
      }
    }
    rows.push(slopeRow(bestCpu, small, total, chunkSize, depths[chunkSize]!));
    wallRows.push(slopeRow(bestWall, small, total, chunkSize, depths[chunkSize]!));
  }
  return { rows, wallRows, clock };
}

/** Why `runtime` cannot run here, or undefined when its binary is present. */
export function missing(runtime: RuntimeName): string | undefined {
  const binary = runtimeBinary(runtime);
  return existsSync(binary) ? undefined : `${binary} not found`;
}

/** Runs the bench in one runtime through its host; never throws (a failure is in the result). */
export async function measureInHost(runtime: RuntimeName, options: HostBenchOptions): Promise<RuntimeResult> {
  const absent = missing(runtime);
  if (absent) return { runtime, skipped: absent };
  const start = performance.now();
  try {
    return await withHost(runtime, async (host) => {
      const { userAgent } = await host.call<{ userAgent?: string }>({ op: 'ping' });
      if (runtime === 'workerd') {
        const { rows, wallRows, clock } = await workerdSlopes(host, options);
        const method = `${clock} of the workerd process, per-byte slope between ${options.total / 4 / 2 ** 20} and ${options.total / 2 ** 20} MiB requests, best of ${2 * options.reps}`;
        return { runtime, ...(userAgent ? { version: userAgent } : {}), method, rows, wallRows, seconds: (performance.now() - start) / 1000 };
      }
      const rows = await host.call<Row[]>({ op: 'bench', total: options.total, chunkSizes: options.chunkSizes, pieceSize: options.pieceSize, depths: options.depths, reps: options.reps }, TIMEOUT_MS);
      const method = `${options.total / 2 ** 20} MiB, best of ${options.reps}`;
      return { runtime, ...(userAgent ? { version: userAgent } : {}), method, rows, seconds: (performance.now() - start) / 1000 };
    });
  } catch (error) {
    return { runtime, error: error instanceof Error ? error.message : String(error), seconds: (performance.now() - start) / 1000 };
  }
}
