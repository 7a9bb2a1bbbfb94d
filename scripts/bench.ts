// `npm run bench`: stream throughput against the raw WebCrypto ceiling, in Node and in Chromium
// (in-page), and peak RSS growth while 1 GiB streams through encrypt → decrypt. One process;
// prints a table and then the JSON. Options: --quick (smaller sizes), --no-browser, --json-only,
// --sweep (throughput at several in-flight windows, to choose DEFAULT_IN_FLIGHT_BYTES),
// --browser-only (just the Chromium table), --reps=N (runs per measurement, best counts; default 3),
// --piece=KiB (input piece size, default 64).
import { createServer } from 'node:http';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lib from '../src/index.js';
import { DEFAULT_IN_FLIGHT_BYTES, chunksInFlight } from '../src/stream/parallel.js';
import * as core from './bench/core.js';
import type { Row } from './bench/core.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const MiB = 1024 * 1024;
const TOTAL = (quick ? 64 : 256) * MiB;
const RSS_TOTAL = (quick ? 256 : 1024) * MiB;
const BROWSER_TOTAL = (quick ? 64 : 256) * MiB;
const CHUNK_SIZES = [16384, 262144];
const PIECE = Number(process.argv.find((a) => a.startsWith('--piece='))?.slice(8) ?? 64) * 1024; // 64 KiB: what file.stream() and fetch bodies typically hand out
const REPS = Number(process.argv.find((a) => a.startsWith('--reps='))?.slice(7) ?? 3);
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

async function chromiumRun(runs: { inFlightBytes?: number; total: number }[] = [{ total: BROWSER_TOTAL }]): Promise<{ version: string; rows: Row[] }> {
  ensureBundle();
  const { chromium } = await import('playwright');
  const { url, close } = await serve();
  const browser = await chromium.launch({
    executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (message) => say(`  [chromium] ${message.text()}`));
    await page.goto(url);
    // A string, not a function: tsx's transpiled functions carry helpers the page does not have.
    const rows: Row[] = [];
    for (const run of runs) {
      const depthsFor = Object.fromEntries(CHUNK_SIZES.map((c) => [c, chunksInFlight(c, run.inFlightBytes)]));
      const options = JSON.stringify({ total: run.total, chunkSizes: CHUNK_SIZES, pieceSize: PIECE, depths: depthsFor, inFlightBytes: run.inFlightBytes, reps: REPS });
      const got = (await page.evaluate(`(async () => {
        const lib = await import('/dist/browser/sealbox.min.js');
        const core = await import('/core.js');
        return core.throughput(lib, { ...${options}, log: (row) => console.log(JSON.stringify(row)) });
      })()`)) as Row[];
      rows.push(...got.map((row) => ({ ...row, inFlightBytes: run.inFlightBytes ?? DEFAULT_IN_FLIGHT_BYTES })));
    }
    return { version: browser.version(), rows };
  } finally {
    await browser.close();
    await close();
  }
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);

function table(title: string, rows: Row[]): string[] {
  const cpu = rows.some((r) => r.encryptCpuRatio !== undefined);
  const lines = [
    `${title}`,
    `| chunk | depth | ceiling enc MB/s | EncryptStream MB/s | ratio | ceiling dec MB/s | DecryptStream MB/s | ratio |${cpu ? ' CPU ratio enc / dec |' : ''}`,
    `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${cpu ? ' ---: |' : ''}`,
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.chunkSize / 1024} KiB | ${r.depth} | ${fmt(r.ceilingEncryptMBps)} | ${fmt(r.encryptStreamMBps)} | ${fmt(r.encryptRatio, 2)}× | ${fmt(r.ceilingDecryptMBps)} | ${fmt(r.decryptStreamMBps)} | ${fmt(r.decryptRatio, 2)}× |` +
        (cpu ? ` ${fmt(r.encryptCpuRatio ?? 0, 2)}× / ${fmt(r.decryptCpuRatio ?? 0, 2)}× |` : ''),
    );
  }
  return lines;
}

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
    const chromium = await chromiumRun(windows.map((inFlightBytes) => ({ inFlightBytes, total })));
    rows.push(...chromium.rows.map((row) => ({ ...row, where: 'chromium', inFlightBytes: (row as Row & { inFlightBytes: number }).inFlightBytes })));
  }
  say('| where | in flight | chunk | depth | ceiling enc | EncryptStream | ceiling dec | DecryptStream |');
  say('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    say(`| ${r.where} | ${r.inFlightBytes / 1024} KiB | ${r.chunkSize / 1024} KiB | ${r.depth} | ${fmt(r.ceilingEncryptMBps)} | ${fmt(r.encryptStreamMBps)} (${fmt(r.encryptRatio, 2)}×) | ${fmt(r.ceilingDecryptMBps)} | ${fmt(r.decryptStreamMBps)} (${fmt(r.decryptRatio, 2)}×) |`);
  }
  console.log(JSON.stringify({ sweep: rows, loadavg: loadavg() }, null, 2));
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  say(`sealbox bench — node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map((n) => n.toFixed(1)).join(' ')}, in flight ${DEFAULT_IN_FLIGHT_BYTES / 1024} KiB`);

  if (args.has('--browser-only')) {
    const chromium = await chromiumRun();
    for (const line of table(`Chromium ${chromium.version} in-page (${BROWSER_TOTAL / MiB} MiB)`, chromium.rows)) say(line);
    return;
  }
  // Memory first, before the throughput runs allocate their envelopes.
  say(`\n[1/3] peak RSS growth, ${RSS_TOTAL / MiB} MiB: generated source → EncryptStream → DecryptStream → counting sink`);
  await core.roundTrip(lib, { total: 16 * MiB, chunkSize: 16384, pieceSize: PIECE });
  const rss = await peakRssGrowth(() => core.roundTrip(lib, { total: RSS_TOTAL, chunkSize: 16384, pieceSize: PIECE }));
  if (rss.result.bytes !== RSS_TOTAL) throw new Error(`round trip gave ${rss.result.bytes} of ${RSS_TOTAL} bytes`);
  const memory = {
    totalMiB: RSS_TOTAL / MiB,
    baselineMiB: rss.baseline / MiB,
    peakGrowthMiB: (rss.peak - rss.baseline) / MiB,
    roundTripMBps: RSS_TOTAL / 1e6 / rss.result.seconds,
  };
  say(`  peak RSS growth ${fmt(memory.peakGrowthMiB, 1)} MiB (baseline ${fmt(memory.baselineMiB)} MiB), round trip ${fmt(memory.roundTripMBps)} MB/s`);

  say(`\n[2/3] Node throughput, ${TOTAL / MiB} MiB per run, ${PIECE / 1024} KiB input pieces, best of ${REPS} (ceiling and stream alternate)`);
  const node = await core.throughput(lib, {
    total: TOTAL,
    chunkSizes: CHUNK_SIZES,
    pieceSize: PIECE,
    depths,
    reps: REPS,
    cpuSeconds,
    log: (row: Row) => say(`  ${JSON.stringify(row)}`),
  });

  let chromium: { version: string; rows: Row[] } | { skipped: string } = { skipped: '--no-browser' };
  if (!args.has('--no-browser')) {
    say(`\n[3/3] Chromium in-page throughput, ${BROWSER_TOTAL / MiB} MiB per run`);
    try {
      chromium = await chromiumRun();
    } catch (error) {
      chromium = { skipped: String(error) };
      say(`  skipped: ${String(error)}`);
    }
  }

  const ratios = node.flatMap((r) => [r.encryptRatio, r.decryptRatio]);
  const chromiumRatios = 'rows' in chromium ? chromium.rows.flatMap((r) => [r.encryptRatio, r.decryptRatio]) : [];
  const verdict = {
    nodeRatioAtLeast: TARGETS.ratio,
    nodeOk: ratios.every((r) => r >= TARGETS.ratio),
    rssGrowthAtMostMiB: TARGETS.rssMiB,
    rssOk: memory.peakGrowthMiB <= TARGETS.rssMiB,
    chromiumRatioAtLeast: TARGETS.chromiumRatio,
    chromiumOk: chromiumRatios.length > 0 && chromiumRatios.every((r) => r >= TARGETS.chromiumRatio),
  };

  say('');
  for (const line of table(`Node ${process.version} (${TOTAL / MiB} MiB)`, node)) say(line);
  if ('rows' in chromium) {
    say('');
    for (const line of table(`Chromium ${chromium.version} in-page (${BROWSER_TOTAL / MiB} MiB)`, chromium.rows)) say(line);
  }
  say('');
  say(`Peak RSS growth, ${memory.totalMiB} MiB encrypt → decrypt: ${fmt(memory.peakGrowthMiB, 1)} MiB (target ≤ ${TARGETS.rssMiB} MiB)`);
  say(`Targets: Node ≥ ${TARGETS.ratio}× ${verdict.nodeOk ? 'met' : 'NOT met'}; RSS ${verdict.rssOk ? 'met' : 'NOT met'}; Chromium ≥ ${TARGETS.chromiumRatio}× ${verdict.chromiumOk ? 'met' : 'NOT met'}`);
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
        memory,
        nodeThroughput: node,
        chromium,
        verdict,
      },
      null,
      2,
    ),
  );
}

if (args.has('--sweep')) await sweep();
else await main();
