// `npm run bench:upload`: the same file uploaded to a real S3 (Ceph RGW on loopback) as a plain
// multipart upload and through `uploadEncrypted`, with the same part size, concurrency, presigned
// part URLs and fetch, in the same run (interleaved, so both see the same machine). Prints MB/s
// (plaintext bytes per second) for both, their ratio (target: encrypted ≥ 0.8× plain, so
// encryption is never an upload's bottleneck), the encrypted run's peak RSS, then the JSON.
//
// RGW: the test harness's (test/support/ceph-rgw.ts): the one named by SEALBOX_TEST_S3_* when set,
// else one it starts and stops. RGW runs on the same 2 cores as this process, so both uploads
// also pay RGW's CPU; the ratio is what counts, MB/s move with the machine's load.
// Options: --size=MiB (default 128), --part=MiB (default 8), --concurrency=N (default 4),
// --reps=N (runs of each, best counts; default 3), --chunk=KiB (the envelope's chunk size, default
// 16, the standard; 64 … 4096 is the bulk option, fewer WebCrypto calls per byte), --webcrypto
// (leave the chunks to WebCrypto; by default the bench runs as the CLI does, with sealbox/node's
// useNodeCrypto()), --workers=N|auto (seal the parts on a NodeWorkerPool of N worker_threads from
// sealbox/node; default auto, one per core up to 4, as the CLI's --to s3:// does; 0: in the
// calling thread), --json-only.
import { cpus, loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3Service, startCephRgw } from '../test/support/ceph-rgw.js';
import { RawAesKeyring } from '../src/sdk/keyring/raw-aes.js';
import { s3MultipartTarget } from '../src/sdk/storage/s3.js';
import type { MultipartTarget, UploadedPart } from '../src/sdk/storage/target.js';
import { uploadEncrypted } from '../src/sdk/storage/upload.js';
import type { MultipartTarget as Target } from '../src/sdk/storage/target.js';
import { s3Storage } from '../src/node/storage/s3.js';
import { useNodeCrypto } from '../src/node/crypto/index.js';
import { NodeWorkerPool } from '../src/node/workers/pool.js';

const MiB = 1024 * 1024;
const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const SIZE = Number(option('size') ?? 128) * MiB;
const PART = Number(option('part') ?? 8) * MiB;
const CONCURRENCY = Number(option('concurrency') ?? 4);
const REPS = Number(option('reps') ?? 3);
const CHUNK = Number(option('chunk') ?? 16) * 1024;
const TARGET_RATIO = 0.8;
const jsonOnly = process.argv.includes('--json-only');
const AES = process.argv.includes('--webcrypto') ? 'webcrypto' : 'node:crypto';
if (AES === 'node:crypto') useNodeCrypto();
const workersOption = option('workers') ?? 'auto';
/** The engine the encrypted uploads seal on: worker_threads, or the calling thread (undefined). */
const pool = workersOption === '0' ? undefined : new NodeWorkerPool({ size: workersOption === 'auto' ? 'auto' : Number(workersOption) });
const WORKERS = pool?.size ?? 0;
const engineOption = pool ? { workers: pool } : {};
const say = (line: string) => {
  if (!jsonOnly) console.log(line);
};

/** A plain multipart upload of `blob`: parts of `PART` bytes, `CONCURRENCY` in flight, through the same target. */
async function uploadPlain(blob: Blob, target: MultipartTarget): Promise<void> {
  const uploadId = await target.create({ head: new Uint8Array(0) });
  const count = Math.max(1, Math.ceil(blob.size / PART));
  const parts: UploadedPart[] = [];
  let next = 1;
  const controller = new AbortController();
  const worker = async () => {
    while (next <= count) {
      const n = next++;
      const body = new Uint8Array(await blob.slice((n - 1) * PART, n * PART).arrayBuffer());
      parts.push({ partNumber: n, etag: await target.uploadPart(uploadId, n, body, controller.signal), size: body.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  await target.complete(uploadId, parts.sort((a, b) => a.partNumber - b.partNumber));
}

/** A target that drops every part: `uploadEncrypted` into it measures reading and sealing alone. */
function discard(): Target {
  return {
    create: async () => 'discard',
    uploadPart: async (_id, n) => `"${n}"`,
    complete: async () => ({}),
    abort: async () => {},
    listParts: async () => [],
  };
}

/** Peak RSS while `task` runs, sampled every 5 ms. */
async function peakRss<T>(task: () => Promise<T>): Promise<{ result: T; peak: number; before: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const result = await task();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peak, before };
  } finally {
    clearInterval(timer);
  }
}

const started = new Date().toISOString();
// The S3 named by SEALBOX_TEST_S3_*, or an RGW of our own, stopped at the end.
const service = process.env.SEALBOX_TEST_S3_ENDPOINT ? await s3Service() : await startCephRgw({ memoryBytes: 4 * 1024 * MiB });
const bucket = `bench-upload-${Date.now().toString(36)}`;
await service.createBucket(bucket);
const credentials = { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey };
const storage = s3Storage({ bucket, endpoint: service.endpoint, region: service.region, credentials });
const client = new S3Client({ endpoint: service.endpoint, region: service.region, credentials, forcePathStyle: true });
const keyring = new RawAesKeyring({ keyName: 'bench', key: new Uint8Array(randomBytes(32)) });
const blob = new Blob([new Uint8Array(randomBytes(SIZE))]);
/** Collects garbage when node runs with --expose-gc (npm run bench:upload does), so RSS readings are not yesterday's garbage. */
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** `size` random-ish bytes as a stream made on the fly, 1 MiB at a time: a source that is not in memory. */
function generated(size: number): ReadableStream<Uint8Array> {
  let left = size;
  const piece = new Uint8Array(randomBytes(MiB));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left === 0) return controller.close();
      const n = Math.min(left, MiB);
      controller.enqueue(piece.slice(0, n));
      left -= n;
    },
  });
}

say(`bench:upload  ${SIZE / MiB} MiB, parts of ${PART / MiB} MiB, chunks of ${CHUNK / 1024} KiB, ${CONCURRENCY} in flight, ${REPS} runs each (interleaved), AES-GCM by ${AES}${pool ? ` on ${WORKERS} worker threads` : ''}, RGW at ${service.endpoint}`);
const runs: { plain: number[]; encrypted: number[]; sealOnly: number[]; rss: { peak: number; before: number }[]; plainRss: { peak: number; before: number }[] } = {
  plain: [],
  encrypted: [],
  sealOnly: [],
  rss: [],
  plainRss: [],
};
// RSS with the source in memory, before any upload: peaks are reported over it.
gc();
const rssStart = process.memoryUsage.rss();
let stream: { peak: number; before: number; mbps: number } | undefined;
try {
  for (let rep = 0; rep < REPS; rep++) {
    for (const kind of ['plain', 'encrypted'] as const) {
      const key = `${kind}-${rep}`;
      const target = s3MultipartTarget(storage.callbacks(key));
      gc();
      const t0 = performance.now();
      if (kind === 'plain') {
        const { peak, before } = await peakRss(() => uploadPlain(blob, target));
        runs.plainRss.push({ peak, before });
      } else {
        const { peak, before } = await peakRss(() => uploadEncrypted(blob, { keyring, target, partSize: PART, concurrency: CONCURRENCY, chunkSize: CHUNK, ...engineOption }));
        runs.rss.push({ peak, before });
      }
      const seconds = (performance.now() - t0) / 1000;
      const mbps = SIZE / 1e6 / seconds;
      runs[kind].push(mbps);
      say(`  ${kind.padEnd(9)} run ${rep + 1}: ${mbps.toFixed(1)} MB/s (${seconds.toFixed(2)} s)`);
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
    // The same encryption with no upload at all: what the CPU gives encryption alone.
    const t0 = performance.now();
    await uploadEncrypted(blob, { keyring, target: discard(), partSize: PART, concurrency: CONCURRENCY, chunkSize: CHUNK, ...engineOption });
    const sealMBps = SIZE / 1e6 / ((performance.now() - t0) / 1000);
    runs.sealOnly.push(sealMBps);
    say(`  seal only run ${rep + 1}: ${sealMBps.toFixed(1)} MB/s (uploadEncrypted into a target that drops the parts)`);
  }
  // Memory with a source that is not in memory: a generated stream of the same size, encrypted and uploaded.
  gc();
  const t0 = performance.now();
  const measured = await peakRss(() =>
    uploadEncrypted(generated(SIZE), { keyring, target: s3MultipartTarget(storage.callbacks('stream')), partSize: PART, concurrency: CONCURRENCY, chunkSize: CHUNK, ...engineOption }),
  );
  stream = { peak: measured.peak, before: measured.before, mbps: SIZE / 1e6 / ((performance.now() - t0) / 1000) };
  say(`  encrypted from a generated stream: ${stream.mbps.toFixed(1)} MB/s`);
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'stream' }));
} finally {
  pool?.terminate();
  storage.close();
  client.destroy();
  await service.stop();
}

const best = (xs: number[]) => Math.max(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const plain = best(runs.plain);
const encrypted = best(runs.encrypted);
const ratio = encrypted / plain;
const medianRatio = median(runs.encrypted) / median(runs.plain);
const peak = Math.max(...runs.rss.map((r) => r.peak));
const plainPeak = Math.max(...runs.plainRss.map((r) => r.peak));
say('');
say(`plain      ${plain.toFixed(1)} MB/s (best of ${REPS}; median ${median(runs.plain).toFixed(1)})`);
say(`encrypted  ${encrypted.toFixed(1)} MB/s (best of ${REPS}; median ${median(runs.encrypted).toFixed(1)})`);
say(`seal only  ${best(runs.sealOnly).toFixed(1)} MB/s (best of ${REPS}; no upload: reading and sealing alone, on the same CPUs)`);
say(`ratio      ${ratio.toFixed(2)}× (medians: ${medianRatio.toFixed(2)}×); target ≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`);
say(
  `peak RSS   ${(peak / MiB).toFixed(0)} MiB during encrypted uploads, ${(plainPeak / MiB).toFixed(0)} MiB during plain ones: ` +
    `+${((peak - rssStart) / MiB).toFixed(0)} and +${((plainPeak - rssStart) / MiB).toFixed(0)} MiB over the ${(rssStart / MiB).toFixed(0)} MiB before any upload, which holds the ${SIZE / MiB} MiB source`,
);
if (stream) {
  say(
    `stream     ${SIZE / MiB} MiB generated on the fly (not in memory), encrypted and uploaded: peak RSS +${((stream.peak - stream.before) / MiB).toFixed(0)} MiB ` +
      `(${CONCURRENCY} parts of ${PART / MiB} MiB in flight)${(globalThis as { gc?: unknown }).gc ? '' : '; run with --expose-gc for cleaner figures'}`,
  );
}
say('');
console.log(
  JSON.stringify(
    {
      started,
      node: process.version,
      cpus: cpus().length,
      loadavg: loadavg(),
      sizeBytes: SIZE,
      partBytes: PART,
      chunkBytes: CHUNK,
      aesGcm: AES,
      workers: WORKERS,
      concurrency: CONCURRENCY,
      reps: REPS,
      plainMBps: runs.plain,
      encryptedMBps: runs.encrypted,
      sealOnlyMBps: runs.sealOnly,
      best: { plain, encrypted, ratio },
      median: { plain: median(runs.plain), encrypted: median(runs.encrypted), ratio: medianRatio },
      rssBeforeUploadsBytes: rssStart,
      peakRssBytes: peak,
      peakRssPlainBytes: plainPeak,
      ...(stream ? { stream: { MBps: stream.mbps, peakRssGrowthBytes: stream.peak - stream.before } } : {}),
      verdict: { ratio: TARGET_RATIO, met: ratio >= TARGET_RATIO },
    },
    null,
    2,
  ),
);
