// `npm run bench:runtimes`: EncryptStream / DecryptStream throughput and their ratio to each
// runtime's own raw WebCrypto AES-GCM ceiling (same chunk size, same depth in flight), in Node,
// Deno, Bun, workerd and Chromium; one table, then the JSON. The bodies are scripts/bench/core.ts
// (what `npm run bench` runs in Node and Chromium), bundled for every runtime by
// scripts/runtimes/build.ts and driven through the runtime hosts of the conformance suite.
// Runtimes run one after another, so they do not compete for the CPUs.
//
// workerd's clock stands still while a request computes (a Spectre mitigation), so there each
// step is one request, timed from Node, less the round trip of an empty request.
//
// Options: --quick (16 MiB per run instead of 64), --only=deno,bun, --json-only.
import { cpus, loadavg } from 'node:os';
import type { Row } from './bench/core.js';
import type { BenchStep } from '../test/runtimes/bench.js';
import { chunksInFlight } from '../src/stream/parallel.js';
import { type Host, RUNTIMES, type RuntimeName, withHost } from './runtimes/hosts.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',') as RuntimeName[] | undefined;
const MiB = 1024 * 1024;
const TOTAL = (quick ? 16 : 64) * MiB;
const CHUNK_SIZES = [16384, 262144];
const PIECE = 64 * 1024;
const REPS = 3;
const TARGET = 0.8;
const depths: Record<number, number> = Object.fromEntries(CHUNK_SIZES.map((c) => [c, chunksInFlight(c)]));
const TIMEOUT_MS = 15 * 60_000;

const say = (line: string) => {
  if (!args.includes('--json-only')) console.log(line);
};

/** workerd: one request per step, timed from here. */
async function stepwise(host: Host): Promise<Row[]> {
  const step = async (name: BenchStep, chunkSize: number, total = TOTAL) => {
    const start = performance.now();
    const { bytes } = await host.call<{ bytes: number }>({ op: 'bench-step', step: name, total, chunkSize, depth: depths[chunkSize]!, pieceSize: PIECE }, TIMEOUT_MS);
    return { seconds: (performance.now() - start) / 1000, bytes };
  };
  const rtts: number[] = [];
  for (let i = 0; i < 20; i++) rtts.push((await step('noop', CHUNK_SIZES[0]!)).seconds);
  const rtt = rtts.sort((a, b) => a - b)[10]!;
  const timed = async (name: BenchStep, chunkSize: number) => {
    const r = await step(name, chunkSize);
    if (name === 'decrypt-stream' && r.bytes !== TOTAL) throw new Error(`decrypted ${r.bytes} of ${TOTAL} bytes`);
    // Less the empty request's round trip, but never more than half (a noisy machine can make one
    // round trip slower than a short step).
    return Math.max(r.seconds - rtt, r.seconds / 2);
  };
  const rows: Row[] = [];
  for (const chunkSize of CHUNK_SIZES) {
    await step('ceiling-encrypt', chunkSize, TOTAL / 8);
    await step('encrypt-stream', chunkSize, TOTAL / 8);
    await step('make-envelope', chunkSize);
    const best = { ceilEnc: Infinity, enc: Infinity, ceilDec: Infinity, dec: Infinity };
    for (let rep = 0; rep < REPS; rep++) {
      best.ceilEnc = Math.min(best.ceilEnc, await timed('ceiling-encrypt', chunkSize));
      best.enc = Math.min(best.enc, await timed('encrypt-stream', chunkSize));
      best.ceilDec = Math.min(best.ceilDec, await timed('ceiling-decrypt', chunkSize));
      best.dec = Math.min(best.dec, await timed('decrypt-stream', chunkSize));
    }
    const mbps = (s: number) => TOTAL / 1e6 / s;
    rows.push({
      chunkSize,
      depth: depths[chunkSize]!,
      ceilingEncryptMBps: mbps(best.ceilEnc),
      encryptStreamMBps: mbps(best.enc),
      encryptRatio: best.ceilEnc / best.enc,
      ceilingDecryptMBps: mbps(best.ceilDec),
      decryptStreamMBps: mbps(best.dec),
      decryptRatio: best.ceilDec / best.dec,
    });
  }
  return rows;
}

interface Result {
  runtime: RuntimeName;
  userAgent?: string;
  rows?: Row[];
  error?: string;
  seconds: number;
}

async function measure(runtime: RuntimeName): Promise<Result> {
  const start = performance.now();
  try {
    return await withHost(runtime, async (host) => {
      const { userAgent } = await host.call<{ userAgent?: string }>({ op: 'ping' });
      const rows =
        runtime === 'workerd'
          ? await stepwise(host)
          : await host.call<Row[]>({ op: 'bench', total: TOTAL, chunkSizes: CHUNK_SIZES, pieceSize: PIECE, depths, reps: REPS }, TIMEOUT_MS);
      return { runtime, ...(userAgent ? { userAgent } : {}), rows, seconds: (performance.now() - start) / 1000 };
    });
  } catch (error) {
    return { runtime, error: error instanceof Error ? error.message : String(error), seconds: (performance.now() - start) / 1000 };
  }
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);

async function main(): Promise<void> {
  const started = new Date().toISOString();
  say(`sealbox bench:runtimes — ${cpus().length} CPUs, load ${loadavg().map((n) => n.toFixed(1)).join(' ')}, ${TOTAL / MiB} MiB per run, ${PIECE / 1024} KiB input pieces, best of ${REPS}`);
  const results: Result[] = [];
  for (const runtime of RUNTIMES.filter((r) => !only || only.includes(r))) {
    say(`  ${runtime} …`);
    const result = await measure(runtime);
    say(result.error ? `  ${runtime}: failed: ${result.error.split('\n')[0]}` : `  ${runtime}: done in ${fmt(result.seconds)} s`);
    results.push(result);
  }

  say('');
  say('| runtime | chunk | depth | ceiling enc MB/s | EncryptStream MB/s | ratio | ceiling dec MB/s | DecryptStream MB/s | ratio |');
  say('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    if (!r.rows) {
      say(`| ${r.runtime} | failed | | | | | | | |`);
      continue;
    }
    for (const row of r.rows) {
      const mark = (ratio: number) => `${fmt(ratio, 2)}×${ratio < TARGET ? ' ✗' : ''}`;
      say(
        `| ${r.runtime} | ${row.chunkSize / 1024} KiB | ${row.depth} | ${fmt(row.ceilingEncryptMBps)} | ${fmt(row.encryptStreamMBps)} | ${mark(row.encryptRatio)} | ${fmt(row.ceilingDecryptMBps)} | ${fmt(row.decryptStreamMBps)} | ${mark(row.decryptRatio)} |`,
      );
    }
  }
  const verdict = Object.fromEntries(
    results.map((r) => [r.runtime, r.rows ? r.rows.every((row) => row.encryptRatio >= TARGET && row.decryptRatio >= TARGET) : false]),
  );
  say('');
  say(`Target: stream ≥ ${TARGET}× of the runtime's own ceiling. ${Object.entries(verdict).map(([k, v]) => `${k} ${v ? 'met' : 'NOT met'}`).join(', ')}`);
  say('');
  console.log(JSON.stringify({ started, cpus: cpus().length, loadavg: loadavg(), totalBytes: TOTAL, pieceSize: PIECE, reps: REPS, target: TARGET, results, verdict }, null, 2));
}

await main();
