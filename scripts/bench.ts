// `npm run bench`: stream throughput against each runtime's own raw WebCrypto ceiling in Node (in
// this process), Deno, Bun, workerd (through the runtime hosts of the conformance suite, see
// scripts/bench/runtimes.ts) and Chromium (in-page, on the built bundle), one table, then a second
// against the plain-stream reference (scripts/bench/core.ts `plainStream`), which splits each gap
// into the runtime's Web Streams cost and Sealbox's own; and peak RSS growth while 1 GiB streams
// through encrypt → decrypt in Node. Prints the tables, the RSS line and the targets, then the JSON. Runtimes run one after another, so they do not compete for the CPUs;
// one whose binary is missing is reported as skipped.
// Chromium, Firefox and WebKit run the same in-page bench on the built bundle (scripts/runtimes/pages.ts).
// Options: --quick (smaller sizes), --only=node,deno,bun,workerd,chromium,firefox,webkit (default: all),
// --no-browser (no browser), --browser-only (just the browsers, no memory run), --no-memory,
// --total=MiB (per run), --json-only, --sweep (throughput at several in-flight windows, Node and
// Chromium, to choose DEFAULT_IN_FLIGHT_BYTES), --reps=N (runs per measurement, best counts;
// default 5), --piece=KiB (input piece size, default 64).
import { createServer } from 'node:http';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lib from '../src/index.js';
import { DEFAULT_IN_FLIGHT_BYTES, chunksInFlight } from '../src/sdk/payload/parallel.js';
import * as core from './bench/core.js';
import type { Row } from './bench/core.js';
import { type RuntimeResult, fmt, plainTable, runtimeNotes, runtimeTable, runtimeVerdict } from './bench/report.js';
import { measureInHost, missing } from './bench/runtimes.js';
import { openPage } from './runtimes/pages.js';
import { PAGE_PROCESS, pageMemorySampler } from './bench/process-memory.js';
import { RUNTIMES, type RuntimeName } from './runtimes/hosts.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.has('--quick');
const MiB = 1024 * 1024;
const TOTAL = Number(option('total') ?? (quick ? 64 : 256)) * MiB;
/** workerd times a quarter of it and all of it (at least 64 MiB: shorter steps are noise), keeping both envelopes in one isolate. */
const WORKERD_TOTAL = Math.min(Math.max(TOTAL, 64 * MiB), 128 * MiB);
const RSS_TOTAL = (quick ? 256 : 1024) * MiB;
const BROWSER_TOTAL = TOTAL;
/** The Worker engine's run in Chromium (issue 16): a generated Blob of this size, `WORKERS` Workers. */
// 128 MiB: in this Chromium a generated Blob of 256 MiB or more intermittently fails to be read at all
// (NotReadableError, "network error"), through arrayBuffer() and stream() alike.
const WORKERS_TOTAL = Number(option('workers-total') ?? 128) * MiB;
const WORKERS = Number(option('workers') ?? 2);
const CHUNK_SIZES = [16384, 262144];
const PIECE = Number(option('piece') ?? 64) * 1024; // 64 KiB: what file.stream() and fetch bodies typically hand out
const REPS = Number(option('reps') ?? 5);
const unknown = option('only')?.split(',').filter((r) => !(RUNTIMES as readonly string[]).includes(r));
if (unknown?.length) {
  console.error(`--only: unknown runtime ${unknown.join(', ')} (known: ${RUNTIMES.join(', ')})`);
  process.exit(2);
}
const BROWSER_NAMES: readonly string[] = ['chromium', 'firefox', 'webkit'];
const selected: RuntimeName[] = args.has('--browser-only')
  ? RUNTIMES.filter((r) => BROWSER_NAMES.includes(r) && (option('only')?.split(',') ?? RUNTIMES).includes(r))
  : RUNTIMES.filter((r) => (option('only')?.split(',') ?? RUNTIMES).includes(r) && !(BROWSER_NAMES.includes(r) && args.has('--no-browser')));
const cpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
const depths = Object.fromEntries(CHUNK_SIZES.map((c) => [c, chunksInFlight(c)]));
const TARGETS = { ratio: 0.8, rssMiB: 64, chromiumRatio: 0.7 };

const say = (line: string) => {
  if (!args.has('--json-only')) console.log(line);
};

/** Peak RSS growth over a baseline, sampled every 10 ms while `task` runs. */
async function peakRssGrowth<T>(task: () => Promise<T>): Promise<{ result: T; baseline: number; peak: number }> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    const result = await task();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, baseline, peak };
  } finally {
    clearInterval(timer);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

function ensureBundle(): string {
  const bundle = join(root, 'dist/browser/sealbox.min.js');
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < newestMtime(join(root, 'src'))) {
    say('building dist/ (the browser bundle is missing or older than src/) …');
    const build = spawnSync('node', ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  return bundle;
}

/** Serves the built bundle and the bench bodies on 127.0.0.1 (a secure context, so crypto.subtle exists). */
async function serve(): Promise<{ url: string; close: () => Promise<void> }> {
  const { transform } = await import('esbuild');
  const coreJs = (await transform(readFileSync(join(root, 'scripts/bench/core.ts'), 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022' })).code;
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><meta charset="utf-8"><title>sealbox bench</title>');
      return;
    }
    if (path === '/favicon.ico') {
      response.writeHead(204);
      response.end();
      return;
    }
    if (path === '/core.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(coreJs);
      return;
    }
    const file = (path.startsWith('/dist/browser/') && !path.includes('..') ? join(root, path) : undefined);
    if (!file || !existsSync(file)) {
      response.writeHead(404);
      response.end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/javascript' });
    response.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return { url: `http://127.0.0.1:${address.port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const BROWSERS = ['chromium', 'firefox', 'webkit'] as const;
type BrowserName = (typeof BROWSERS)[number];
const isBrowser = (r: string): r is BrowserName => (BROWSERS as readonly string[]).includes(r);

/** In-page on the built bundle, in Chromium, Firefox or WebKit (scripts/runtimes/pages.ts). */
async function browserRun(engine: BrowserName, runs: { inFlightBytes?: number; total: number }[] = [{ total: BROWSER_TOTAL }], withWorkers = true): Promise<{ version: string; rows: Row[] }> {
  ensureBundle();
  const { url, close } = await serve();
  // The Worker engine's memory: the page process's RSS from the page's marker after the warm-up to
  // the one after the timed runs (Chromium and Firefox, whose consoles reach us; Linux only).
  const memory = PAGE_PROCESS[engine] && process.platform === 'linux' ? pageMemorySampler(PAGE_PROCESS[engine]) : undefined;
  let workersMemory: { baselineBytes: number; peakGrowthBytes: number } | undefined;
  const page = await openPage(engine, url, (line) => {
    if (line === core.MEMORY_START) return memory?.start();
    if (line === core.MEMORY_STOP) return void (workersMemory = memory?.stop());
    say(`  [${engine}] ${line}`);
  });
  try {
    // A string, not a function: tsx's transpiled functions carry helpers the page does not have.
    // Each row is logged as it comes (Chromium, Firefox); WebDriver gives WebKit's page no console.
    const rows: Row[] = [];
    for (const run of runs) {
      const depthsFor = Object.fromEntries(CHUNK_SIZES.map((c) => [c, chunksInFlight(c, run.inFlightBytes)]));
      const options = JSON.stringify({ total: run.total, chunkSizes: CHUNK_SIZES, pieceSize: PIECE, depths: depthsFor, inFlightBytes: run.inFlightBytes, reps: REPS });
      const got = await page.evaluate<Row[]>(`(async () => {
        const lib = await import('/dist/browser/sealbox.min.js');
        const core = await import('/core.js');
        return core.throughput(lib, { ...${options}, log: (row) => console.log(JSON.stringify(row)) });
      })()`);
      rows.push(...got.map((row) => ({ ...row, inFlightBytes: run.inFlightBytes ?? DEFAULT_IN_FLIGHT_BYTES })));
    }
    if (withWorkers && WORKERS > 0) {
      // The Worker engine beside the 16 KiB row's single-thread ceiling, in the same page.
      const options = JSON.stringify({ total: WORKERS_TOTAL, size: WORKERS, reps: Math.min(REPS, 3) });
      const got = (await page.evaluate(`(async () => {
        const lib = await import('/dist/browser/sealbox.min.js');
        const workers = await import('/dist/browser/sealbox-workers.min.js');
        const core = await import('/core.js');
        return core.workersThroughput(lib, workers, ${options});
      })()`)) as Partial<Row>;
      if (workersMemory) Object.assign(got, { workersPageRssGrowthBytes: workersMemory.peakGrowthBytes, workersPageRssBaselineBytes: workersMemory.baselineBytes });
      const row = rows.find((r) => r.chunkSize === 16384);
      if (row) Object.assign(row, got);
      say(`  [${engine}] workers ${JSON.stringify(got)}`);
    }
    return { version: page.version, rows };
  } finally {
    await page.close();
    await close();
  }
}

const chromiumRun = (runs?: { inFlightBytes?: number; total: number }[], withWorkers = true) => browserRun('chromium', runs, withWorkers);

/** --sweep: throughput at several in-flight windows, Node then Chromium, to choose DEFAULT_IN_FLIGHT_BYTES. */
async function sweep(): Promise<void> {
  const windows = [256, 512, 1024, 2048, 4096].map((k) => k * 1024);
  const total = (quick ? 32 : 128) * MiB;
  const rows: (Row & { where: string; inFlightBytes: number })[] = [];
  for (const inFlightBytes of windows) {
    const depthsFor = Object.fromEntries(CHUNK_SIZES.map((c) => [c, chunksInFlight(c, inFlightBytes)]));
    for (const row of await core.throughput(lib, { total, chunkSizes: CHUNK_SIZES, pieceSize: PIECE, depths: depthsFor, inFlightBytes, reps: REPS, cpuSeconds })) {
      rows.push({ ...row, where: 'node', inFlightBytes });
      say(`  node ${JSON.stringify({ ...row, inFlightBytes })}`);
    }
  }
  if (!args.has('--no-browser')) {
    const chromium = await chromiumRun(windows.map((inFlightBytes) => ({ inFlightBytes, total })), false);
    rows.push(...chromium.rows.map((row) => ({ ...row, where: 'chromium', inFlightBytes: (row as Row & { inFlightBytes: number }).inFlightBytes })));
  }
  say('| where | in flight | chunk | depth | ceiling enc | EncryptStream | ceiling dec | DecryptStream |');
  say('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    say(`| ${r.where} | ${r.inFlightBytes / 1024} KiB | ${r.chunkSize / 1024} KiB | ${r.depth} | ${fmt(r.ceilingEncryptMBps)} | ${fmt(r.encryptStreamMBps)} (${fmt(r.encryptRatio, 2)}×) | ${fmt(r.ceilingDecryptMBps)} | ${fmt(r.decryptStreamMBps)} (${fmt(r.decryptRatio, 2)}×) |`);
  }
  console.log(JSON.stringify({ sweep: rows, loadavg: loadavg() }, null, 2));
}

/** Node, in this process (with CPU time: the ceiling's over the stream's, all threads). */
async function nodeRun(): Promise<RuntimeResult> {
  const start = performance.now();
  const rows = await core.throughput(lib, {
    total: TOTAL,
    chunkSizes: CHUNK_SIZES,
    pieceSize: PIECE,
    depths,
    reps: REPS,
    cpuSeconds,
    log: (row: Row) => say(`    ${JSON.stringify(row)}`),
  });
  return { runtime: 'node', version: process.version, method: `in process, ${TOTAL / MiB} MiB, best of ${REPS}`, rows, seconds: (performance.now() - start) / 1000 };
}

async function measure(runtime: RuntimeName): Promise<RuntimeResult> {
  if (runtime === 'node') return nodeRun();
  if (isBrowser(runtime)) {
    const absent = missing(runtime);
    if (absent) return { runtime, skipped: absent };
    const start = performance.now();
    try {
      const { version, rows } = await browserRun(runtime);
      return { runtime, version, method: `in-page on dist/browser/sealbox.min.js, ${BROWSER_TOTAL / MiB} MiB, best of ${REPS}`, rows, seconds: (performance.now() - start) / 1000 };
    } catch (error) {
      return { runtime, error: String(error), seconds: (performance.now() - start) / 1000 };
    }
  }
  const total = runtime === 'workerd' ? WORKERD_TOTAL : TOTAL;
  return measureInHost(runtime, { total, chunkSizes: CHUNK_SIZES, pieceSize: PIECE, depths, reps: REPS });
}

/** Peak RSS growth in Node while RSS_TOTAL bytes stream through encrypt → decrypt. */
async function memoryRun() {
  await core.roundTrip(lib, { total: 16 * MiB, chunkSize: 16384, pieceSize: PIECE });
  const rss = await peakRssGrowth(() => core.roundTrip(lib, { total: RSS_TOTAL, chunkSize: 16384, pieceSize: PIECE }));
  if (rss.result.bytes !== RSS_TOTAL) throw new Error(`round trip gave ${rss.result.bytes} of ${RSS_TOTAL} bytes`);
  return {
    totalMiB: RSS_TOTAL / MiB,
    baselineMiB: rss.baseline / MiB,
    peakGrowthMiB: (rss.peak - rss.baseline) / MiB,
    roundTripMBps: RSS_TOTAL / 1e6 / rss.result.seconds,
  };
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  say(`sealbox bench — node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map((n) => n.toFixed(1)).join(' ')}, in flight ${DEFAULT_IN_FLIGHT_BYTES / 1024} KiB`);
  const withMemory = selected.includes('node') && !args.has('--no-memory') && !args.has('--browser-only');

  // Memory first, before the throughput runs allocate their envelopes.
  let memory: Awaited<ReturnType<typeof memoryRun>> | undefined;
  if (withMemory) {
    say(`\npeak RSS growth, ${RSS_TOTAL / MiB} MiB: generated source → EncryptStream → DecryptStream → counting sink`);
    memory = await memoryRun();
    say(`  peak RSS growth ${fmt(memory.peakGrowthMiB, 1)} MiB (baseline ${fmt(memory.baselineMiB)} MiB), round trip ${fmt(memory.roundTripMBps)} MB/s`);
  }

  say(`\nthroughput, ${TOTAL / MiB} MiB per run${selected.includes('workerd') ? ` (workerd: ${WORKERD_TOTAL / 4 / MiB} and ${WORKERD_TOTAL / MiB} MiB)` : ''}, ${PIECE / 1024} KiB input pieces, best of ${REPS} (ceiling and stream alternate)`);
  const results: RuntimeResult[] = [];
  for (const runtime of selected) {
    say(`  ${runtime} …`);
    const result = await measure(runtime);
    say(result.rows ? `  ${runtime}: done in ${fmt(result.seconds ?? 0)} s` : `  ${runtime}: ${result.skipped ? `skipped: ${result.skipped}` : `failed: ${(result.error ?? '').split('\n')[0]}`}`);
    results.push(result);
  }

  const byRuntime = Object.fromEntries(results.map((r) => [r.runtime, r]));
  const ratios = runtimeVerdict(results, TARGETS.ratio);
  const chromiumRatios = byRuntime.chromium?.rows?.flatMap((r) => [r.encryptRatio, r.decryptRatio]) ?? [];
  const verdict = {
    ratioAtLeast: TARGETS.ratio,
    ratioOk: ratios,
    ...(byRuntime.node ? { nodeRatioAtLeast: TARGETS.ratio, nodeOk: ratios.node ?? false } : {}),
    ...(memory ? { rssGrowthAtMostMiB: TARGETS.rssMiB, rssOk: memory.peakGrowthMiB <= TARGETS.rssMiB } : {}),
    ...(byRuntime.chromium?.rows ? { chromiumRatioAtLeast: TARGETS.chromiumRatio, chromiumOk: chromiumRatios.length > 0 && chromiumRatios.every((r) => r >= TARGETS.chromiumRatio) } : {}),
  };

  say('');
  say(`Stream throughput and ratio to the runtime's own raw WebCrypto ceiling (${TOTAL / MiB} MiB per run; ✗ under ${TARGETS.ratio}×)`);
  say('');
  for (const line of runtimeTable(results, TARGETS.ratio)) say(line);
  const plain = plainTable(results);
  if (plain.length > 0) {
    say('');
    say('Where the gap lies: the plain-stream reference (the ceiling\'s own WebCrypto calls in a minimal pipelined TransformStream, same source and sink)');
    say('');
    for (const line of plain) say(line);
  }
  say('');
  for (const line of runtimeNotes(results)) say(line);
  say('');
  if (memory) say(`Peak RSS growth, ${memory.totalMiB} MiB encrypt → decrypt: ${fmt(memory.peakGrowthMiB, 1)} MiB (target ≤ ${TARGETS.rssMiB} MiB)`);
  const targets = Object.entries(ratios).map(([runtime, ok]) => `${runtime} ${ok ? 'met' : 'NOT met'}`);
  if ('rssOk' in verdict) targets.push(`RSS ≤ ${TARGETS.rssMiB} MiB ${verdict.rssOk ? 'met' : 'NOT met'}`);
  if ('chromiumOk' in verdict) targets.push(`Chromium ≥ ${TARGETS.chromiumRatio}× ${verdict.chromiumOk ? 'met' : 'NOT met'}`);
  say(`Targets: stream ≥ ${TARGETS.ratio}× of its ceiling: ${targets.join('; ')}`);
  say('');
  console.log(
    JSON.stringify(
      {
        started,
        node: process.version,
        cpus: cpus().length,
        loadavg: loadavg(),
        inFlightBytes: DEFAULT_IN_FLIGHT_BYTES,
        pieceSize: PIECE,
        totalBytes: TOTAL,
        workerdTotalBytes: WORKERD_TOTAL,
        reps: REPS,
        ...(memory ? { memory } : {}),
        ...(byRuntime.node ? { nodeThroughput: byRuntime.node.rows } : {}),
        ...(byRuntime.chromium ? { chromium: byRuntime.chromium.rows ? { version: byRuntime.chromium.version, rows: byRuntime.chromium.rows } : { skipped: byRuntime.chromium.skipped ?? byRuntime.chromium.error } } : {}),
        runtimes: results,
        verdict,
      },
      null,
      2,
    ),
  );
}

if (args.has('--sweep')) await sweep();
else await main();
