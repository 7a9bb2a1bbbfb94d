// Benchmark bodies shared by Node (scripts/bench.ts) and Chromium (served in-page by the bench,
// transpiled by esbuild). Web APIs only, so the same code runs in both. `lib` is the Sealbox module:
// src/index.ts in Node, the built dist/browser/sealbox.min.js in Chromium.
import type * as Sealbox from '../../src/index.js';

type Lib = typeof Sealbox;
export interface Row {
  chunkSize: number;
  depth: number;
  ceilingEncryptMBps: number;
  encryptStreamMBps: number;
  encryptRatio: number;
  ceilingDecryptMBps: number;
  decryptStreamMBps: number;
  decryptRatio: number;
  /**
   * The plain-stream reference (see `plainStream`): the same WebCrypto calls as the ceiling inside
   * the simplest pipelined TransformStream, between the same source and sink as Sealbox's streams.
   */
  plainEncryptMBps: number;
  plainDecryptMBps: number;
  /** Node only: CPU seconds (all threads) of the ceiling run over the stream run; best of each. */
  encryptCpuRatio?: number;
  decryptCpuRatio?: number;
  /**
   * The Worker engine (Chromium, the 16 KiB row): `workers` dedicated Workers (SealboxWorkerPool)
   * encrypting a generated Blob of `workersTotal` bytes with encryptBlob and decrypting the result
   * with decryptBlob; `longTasks`: main-thread long tasks (> 50 ms) during those timed runs.
   * `blobReadMBps`: reading that Blob alone, as the engine reads it (4 MiB slices through `stream()`,
   * two in flight), in the page: the platform's Blob rate, which bounds what encryptBlob can reach.
   */
  workers?: number;
  blobReadMBps?: number;
  workersEncryptMBps?: number;
  workersDecryptMBps?: number;
  longTasks?: number;
  /**
   * Chromium and Firefox: the peak growth of the page process's RSS (the page and its Workers)
   * during the timed runs, over its RSS after the warm-up (read from /proc by the bench).
   */
  workersPageRssGrowthBytes?: number;
  workersPageRssBaselineBytes?: number;
  /** Each of those long tasks: in which timed run ('encrypt' or 'decrypt', run number), when (ms into it) and how long. */
  longTaskDetails?: { run: string; atMs: number; durationMs: number }[];
  workersTotal?: number;
}

const KEY = new Uint8Array(32).fill(7);

/** A generated plaintext: views cycling over a 4 MiB pattern, `pieceSize` bytes at a time. */
export function generatedSource(total: number, pieceSize: number): ReadableStream<Uint8Array> {
  const pattern = makePattern();
  let sent = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= total) return controller.close();
        const at = sent % pattern.length;
        const n = Math.min(pieceSize, total - sent, pattern.length - at);
        controller.enqueue(pattern.subarray(at, at + n));
        sent += n;
      },
    },
    { highWaterMark: 0 },
  );
}

/** A source over a byte array, `pieceSize` bytes at a time (what a fetch body or file.stream() gives). */
export function bytesSource(bytes: Uint8Array, pieceSize: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        const n = Math.min(pieceSize, bytes.length - at);
        controller.enqueue(bytes.subarray(at, at + n));
        at += n;
      },
    },
    { highWaterMark: 0 },
  );
}

export function countingSink(counter: { bytes: number }): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write(chunk) {
      counter.bytes += chunk.byteLength;
    },
  });
}

function makePattern(): Uint8Array<ArrayBuffer> {
  const pattern = new Uint8Array(4 * 1024 * 1024);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 31 + (i >>> 11)) & 0xff;
  return pattern;
}

function nonceFor(i: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  nonce[11] = i & 0xff;
  nonce[10] = (i >>> 8) & 0xff;
  nonce[9] = (i >>> 16) & 0xff;
  nonce[8] = (i >>> 24) & 0xff;
  return nonce;
}

/** Raw AES-256-GCM ciphertext of `total` pattern bytes, chunk i sealed with nonce i, in one buffer. */
export async function rawCiphertext(total: number, chunkSize: number): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey('raw', KEY, 'AES-GCM', false, ['encrypt']);
  const pattern = makePattern();
  const count = Math.ceil(total / chunkSize);
  const out = new Uint8Array(count * (chunkSize + 16));
  for (let i = 0; i < count; i++) {
    const at = (i * chunkSize) % pattern.length;
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonceFor(i) }, key, pattern.subarray(at, at + chunkSize));
    out.set(new Uint8Array(sealed), i * (chunkSize + 16));
  }
  return out;
}

/**
 * The raw ceiling: plain WebCrypto AES-256-GCM, `chunkSize` per call, `depth` calls in flight (a
 * FIFO window, like the streams'), nothing else — over the same bytes the streams see: encryption
 * reads the same 4 MiB generated pattern, decryption walks a ciphertext buffer as large as the
 * envelope the decrypting stream reads (from `rawCiphertext`).
 */
export async function ceiling({ total, chunkSize, depth, op, sealed }: { total: number; chunkSize: number; depth: number; op: 'encrypt' | 'decrypt'; sealed?: Uint8Array<ArrayBuffer> }): Promise<number> {
  const key = await crypto.subtle.importKey('raw', KEY, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const pattern = makePattern();
  const sealedSize = chunkSize + 16;
  const count = Math.ceil(total / chunkSize);
  if (op === 'decrypt' && (!sealed || sealed.length < count * sealedSize)) throw new Error('ceiling: decrypt needs rawCiphertext(total, chunkSize)');
  const ring: (Promise<ArrayBuffer> | undefined)[] = new Array(depth);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const slot = i % depth;
    if (ring[slot]) await ring[slot];
    if (op === 'encrypt') {
      const at = (i * chunkSize) % pattern.length;
      ring[slot] = crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonceFor(i) }, key, pattern.subarray(at, at + chunkSize));
    } else {
      ring[slot] = crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonceFor(i) }, key, sealed!.subarray(i * sealedSize, (i + 1) * sealedSize));
    }
  }
  await Promise.all(ring.filter(Boolean));
  return (performance.now() - start) / 1000;
}

/**
 * The plain-stream reference: what a minimal TransformStream reaches with exactly the ceiling's
 * WebCrypto calls, between the same source (64 KiB pieces) and counting sink as Sealbox's streams.
 * It cuts the pieces into `chunkLength`-byte chunks (gathering a chunk that straddles pieces into
 * one reused buffer, as WebCrypto copies its input when called), keeps up to `depth` calls in a FIFO
 * and enqueues each result in order. No format: no header, no key derivation, no final-chunk rule,
 * no bounds on a slow reader. The distance from the ceiling to this is what the runtime's Web
 * Streams cost; the distance from this to Sealbox's stream is what Sealbox costs.
 */
export async function plainStream({
  total,
  chunkSize,
  depth,
  pieceSize,
  op,
  sealed,
  sink,
}: {
  total: number;
  chunkSize: number;
  depth: number;
  pieceSize: number;
  op: 'encrypt' | 'decrypt';
  sealed?: Uint8Array<ArrayBuffer>;
  /** Where the output goes (default: a counting sink); tests collect it to check the reference's bytes. */
  sink?: WritableStream<Uint8Array>;
}): Promise<number> {
  const key = await crypto.subtle.importKey('raw', KEY, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const chunkLength = op === 'encrypt' ? chunkSize : chunkSize + 16;
  const count = Math.ceil(total / chunkSize);
  if (op === 'decrypt' && (!sealed || sealed.length < count * chunkLength)) throw new Error('plainStream: decrypt needs rawCiphertext(total, chunkSize)');
  const source = op === 'encrypt' ? generatedSource(total, pieceSize) : bytesSource(sealed!.subarray(0, count * chunkLength), pieceSize);
  const gather = new Uint8Array(chunkLength);
  let gathered = 0;
  let index = 0;
  const window: Promise<ArrayBuffer>[] = [];
  const call = (chunk: Uint8Array<ArrayBuffer>) =>
    op === 'encrypt'
      ? crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonceFor(index++) }, key, chunk)
      : crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonceFor(index++) }, key, chunk);
  const counter = { bytes: 0 };
  const start = performance.now();
  await source
    .pipeThrough(
      new TransformStream<Uint8Array<ArrayBuffer>, Uint8Array>({
        async transform(piece, controller) {
          let at = 0;
          while (at < piece.length) {
            let chunk: Uint8Array<ArrayBuffer>;
            if (gathered === 0 && piece.length - at >= chunkLength) {
              chunk = piece.subarray(at, at + chunkLength);
              at += chunkLength;
            } else {
              const n = Math.min(chunkLength - gathered, piece.length - at);
              gather.set(piece.subarray(at, at + n), gathered);
              gathered += n;
              at += n;
              if (gathered < chunkLength) break;
              gathered = 0;
              chunk = gather;
            }
            window.push(call(chunk));
            if (window.length >= depth) controller.enqueue(new Uint8Array(await window.shift()!));
          }
        },
        async flush(controller) {
          if (gathered > 0) window.push(call(gather.subarray(0, gathered)));
          while (window.length > 0) controller.enqueue(new Uint8Array(await window.shift()!));
        },
      }),
    )
    .pipeTo(sink ?? countingSink(counter));
  return (performance.now() - start) / 1000;
}

export function keyring(lib: Lib) {
  return new lib.RawAesKeyring({ keyName: 'bench', key: KEY });
}

/** EncryptStream over a generated source into a counting sink; returns seconds and bytes out. */
export async function encryptStream(lib: Lib, { total, chunkSize, pieceSize, inFlightBytes }: { total: number; chunkSize: number; pieceSize: number; inFlightBytes?: number }) {
  const counter = { bytes: 0 };
  // The source (its 4 MiB pattern) is made before the clock starts, as the ceiling's is.
  const source = generatedSource(total, pieceSize);
  const start = performance.now();
  await source
    .pipeThrough(new lib.EncryptStream({ keyring: keyring(lib), chunkSize, inFlightBytes }))
    .pipeTo(countingSink(counter));
  return { seconds: (performance.now() - start) / 1000, bytes: counter.bytes };
}

/** Encrypts `total` generated bytes into one array (the input of the decrypt runs). */
export async function makeEnvelope(lib: Lib, { total, chunkSize }: { total: number; chunkSize: number }): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  await generatedSource(total, 1024 * 1024)
    .pipeThrough(new lib.EncryptStream({ keyring: keyring(lib), chunkSize }))
    .pipeTo(new WritableStream({ write(chunk) { parts.push(chunk); length += chunk.length; } }));
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export async function decryptStream(lib: Lib, envelope: Uint8Array, { pieceSize, inFlightBytes }: { pieceSize: number; inFlightBytes?: number }) {
  const counter = { bytes: 0 };
  const start = performance.now();
  await bytesSource(envelope, pieceSize)
    .pipeThrough(new lib.DecryptStream({ keyring: keyring(lib), inFlightBytes }))
    .pipeTo(countingSink(counter));
  return { seconds: (performance.now() - start) / 1000, bytes: counter.bytes };
}

/** Generated source → EncryptStream → DecryptStream → counting sink. */
export async function roundTrip(lib: Lib, { total, chunkSize, pieceSize }: { total: number; chunkSize: number; pieceSize: number }) {
  const counter = { bytes: 0 };
  const start = performance.now();
  await generatedSource(total, pieceSize)
    .pipeThrough(new lib.EncryptStream({ keyring: keyring(lib), chunkSize }))
    .pipeThrough(new lib.DecryptStream({ keyring: keyring(lib) }))
    .pipeTo(countingSink(counter));
  return { seconds: (performance.now() - start) / 1000, bytes: counter.bytes };
}

/**
 * One throughput row per chunk size: the raw ceilings at the streams' depth (`depths[chunkSize]`),
 * then the streams. Ceiling and stream runs alternate, `reps` times, and the best of each counts,
 * so that load from other processes hits both alike.
 */
export async function throughput(
  lib: Lib,
  {
    total,
    chunkSizes,
    pieceSize,
    depths,
    inFlightBytes,
    reps = 5,
    log = () => {},
    cpuSeconds,
  }: {
    total: number;
    chunkSizes: number[];
    pieceSize: number;
    depths: Record<number, number>;
    inFlightBytes?: number;
    reps?: number;
    log?: (row: Row) => void;
    /** CPU time of the process so far (all threads), where the runtime can tell (Node). */
    cpuSeconds?: () => number;
  },
): Promise<Row[]> {
  const rows: Row[] = [];
  const mbps = (seconds: number) => total / 1e6 / seconds;
  const timed = async (run: () => Promise<number>) => {
    const cpu0 = cpuSeconds?.() ?? 0;
    const seconds = await run();
    return { seconds, cpu: (cpuSeconds?.() ?? 0) - cpu0 };
  };
  for (const chunkSize of chunkSizes) {
    const depth = depths[chunkSize]!;
    // Warm up every measured path (JIT tiers, key import, thread pools, the allocator's state): in
    // Node the first 256 MiB of a stream ran up to 1.6x the CPU of later ones, which a short
    // warm-up left inside the measured runs.
    await ceiling({ total: total / 2, chunkSize, depth, op: 'encrypt' });
    await encryptStream(lib, { total: total / 2, chunkSize, pieceSize, inFlightBytes });
    const envelope = await makeEnvelope(lib, { total, chunkSize });
    const sealed = await rawCiphertext(total, chunkSize);
    await ceiling({ total, chunkSize, depth, op: 'decrypt', sealed });
    await decryptStream(lib, envelope, { pieceSize, inFlightBytes });
    await plainStream({ total: total / 2, chunkSize, depth, pieceSize, op: 'encrypt' });
    await plainStream({ total, chunkSize, depth, pieceSize, op: 'decrypt', sealed });
    const best = { ceilEnc: Infinity, ceilDec: Infinity, enc: Infinity, dec: Infinity, plainEnc: Infinity, plainDec: Infinity };
    const cpu = { ceilEnc: Infinity, ceilDec: Infinity, enc: Infinity, dec: Infinity, plainEnc: Infinity, plainDec: Infinity };
    const note = (key: keyof typeof best, r: { seconds: number; cpu: number }) => {
      best[key] = Math.min(best[key], r.seconds);
      cpu[key] = Math.min(cpu[key], r.cpu);
    };
    for (let rep = 0; rep < reps; rep++) {
      note('ceilEnc', await timed(() => ceiling({ total, chunkSize, depth, op: 'encrypt' })));
      note('enc', await timed(async () => (await encryptStream(lib, { total, chunkSize, pieceSize, inFlightBytes })).seconds));
      note('ceilDec', await timed(() => ceiling({ total, chunkSize, depth, op: 'decrypt', sealed })));
      note(
        'dec',
        await timed(async () => {
          const r = await decryptStream(lib, envelope, { pieceSize, inFlightBytes });
          if (r.bytes !== total) throw new Error(`decrypted ${r.bytes} of ${total} bytes`);
          return r.seconds;
        }),
      );
      note('plainEnc', await timed(() => plainStream({ total, chunkSize, depth, pieceSize, op: 'encrypt' })));
      note('plainDec', await timed(() => plainStream({ total, chunkSize, depth, pieceSize, op: 'decrypt', sealed })));
    }
    const row: Row = {
      chunkSize,
      depth,
      ceilingEncryptMBps: mbps(best.ceilEnc),
      encryptStreamMBps: mbps(best.enc),
      encryptRatio: best.ceilEnc / best.enc,
      ceilingDecryptMBps: mbps(best.ceilDec),
      decryptStreamMBps: mbps(best.dec),
      decryptRatio: best.ceilDec / best.dec,
      plainEncryptMBps: mbps(best.plainEnc),
      plainDecryptMBps: mbps(best.plainDec),
    };
    if (cpuSeconds) {
      row.encryptCpuRatio = cpu.ceilEnc / cpu.enc;
      row.decryptCpuRatio = cpu.ceilDec / cpu.dec;
    }
    log(row);
    rows.push(row);
  }
  return rows;
}

/** Console lines the page logs around the Worker engine's timed runs: the bench samples the page process's memory between them. */
export const MEMORY_START = 'sealbox-bench: workers memory start';
export const MEMORY_STOP = 'sealbox-bench: workers memory stop';

/** What `sealbox/workers` exports (dist/browser/sealbox-workers.min.js in Chromium). */
type WorkersLib = typeof import('../../src/sdk/workers/pool.js');

/**
 * The Worker engine on a generated Blob: encryptBlob then decryptBlob with a pool of `size`
 * Workers, best of `reps`, and the main thread's long tasks during the timed runs.
 */
export async function workersThroughput(
  lib: Lib,
  workers: WorkersLib,
  { total, size, reps, chunkSize = 16384 }: { total: number; size: number; reps: number; chunkSize?: number },
): Promise<Pick<Row, 'workers' | 'workersEncryptMBps' | 'workersDecryptMBps' | 'longTasks' | 'longTaskDetails' | 'workersTotal' | 'blobReadMBps'>> {
  const MiB = 1024 * 1024;
  const pattern = new Uint8Array(MiB);
  for (let at = 0; at < MiB; at += 65536) crypto.getRandomValues(pattern.subarray(at, at + 65536));
  const blob = new Blob(Array.from({ length: Math.ceil(total / MiB) }, () => pattern)).slice(0, total);
  const pool = new workers.SealboxWorkerPool({ size });
  const timed: [number, number, string][] = [];
  const longTaskDetails: { run: string; atMs: number; durationMs: number }[] = [];
  let observer: PerformanceObserver | undefined;
  try {
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const run = timed.find(([from, to]) => entry.startTime >= from && entry.startTime <= to);
        if (run) longTaskDetails.push({ run: run[2], atMs: Math.round(entry.startTime - run[0]), durationMs: Math.round(entry.duration) });
      }
    });
    observer.observe({ type: 'longtask' });
  } catch {
    observer = undefined;
  }
  const read = async (stream: ReadableStream<Uint8Array>, keep: boolean) => {
    const parts: Uint8Array[] = [];
    let bytes = 0;
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { parts, bytes };
      bytes += value.length;
      if (keep) parts.push(value);
    }
  };
  const ring = keyring(lib);
  try {
    // Warm-up: Workers started, the worker script compiled, WebCrypto's threads woken.
    const warm = await read(workers.encryptBlob(blob.slice(0, 8 * MiB), { keyring: ring, chunkSize, workers: pool }), true);
    await read(workers.decryptBlob(new Blob(warm.parts as Uint8Array<ArrayBuffer>[]), { keyring: ring, workers: pool }).readable, false);
    let bestEnc = Infinity;
    let bestDec = Infinity;
    let bestRead = Infinity;
    // The Blob alone, read as the engine reads it: 4 MiB slices, each through `stream()`, two in flight.
    const readSliceBytes = async (from: number, to: number) => {
      const reader = blob.slice(from, to).stream().getReader();
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return bytes;
        bytes += value.length;
      }
    };
    const readBlob = async () => {
      const slices: Promise<number>[] = [];
      let bytes = 0;
      for (let at = 0; at < blob.size; at += 4 * MiB) {
        slices.push(readSliceBytes(at, Math.min(blob.size, at + 4 * MiB)));
        if (slices.length === 2) bytes += await slices.shift()!;
      }
      for (const slice of slices) bytes += await slice;
      if (bytes !== blob.size) throw new Error(`read ${bytes} of ${blob.size} Blob bytes`);
    };
    // The envelope the decrypt runs read, made before the timed runs. A timed encrypt drops its
    // output as a consumer that sends it on does: holding 128 MiB of results in the page is the
    // bench's choice, not the engine's, and its garbage collection showed up as a long task at the
    // end of each encrypt run.
    const made = await read(workers.encryptBlob(blob, { keyring: ring, chunkSize, workers: pool }), true);
    const envelope = new Blob(made.parts as Uint8Array<ArrayBuffer>[]);
    made.parts.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 0));
    console.log(MEMORY_START);
    for (let rep = 0; rep < reps; rep++) {
      let start = performance.now();
      await readBlob();
      bestRead = Math.min(bestRead, (performance.now() - start) / 1000);
      start = performance.now();
      const sealed = await read(workers.encryptBlob(blob, { keyring: ring, chunkSize, workers: pool }), false);
      let end = performance.now();
      timed.push([start, end, `encrypt ${rep + 1}`]);
      if (sealed.bytes !== envelope.size) throw new Error(`encryptBlob gave ${sealed.bytes} bytes, not ${envelope.size}`);
      bestEnc = Math.min(bestEnc, (end - start) / 1000);
      start = performance.now();
      const opened = await read(workers.decryptBlob(envelope, { keyring: ring, workers: pool }).readable, false);
      end = performance.now();
      timed.push([start, end, `decrypt ${rep + 1}`]);
      if (opened.bytes !== total) throw new Error(`decryptBlob gave ${opened.bytes} of ${total} bytes`);
      bestDec = Math.min(bestDec, (end - start) / 1000);
    }
    console.log(MEMORY_STOP);
    // Long-task entries arrive after the task: give the observer a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { workers: size, workersEncryptMBps: total / 1e6 / bestEnc, workersDecryptMBps: total / 1e6 / bestDec, longTasks: longTaskDetails.length, longTaskDetails, workersTotal: total, blobReadMBps: total / 1e6 / bestRead };
  } finally {
    observer?.disconnect();
    pool.terminate();
  }
}
