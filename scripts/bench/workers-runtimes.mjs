// The Worker engine outside browsers: `encrypt`/`decrypt` of 64 MiB at 16 KiB chunks in this thread
// and with a pool of 2, alternating, best of 3, on the built dist/. Deno and Bun have Web Workers
// (module workers, CryptoKeys structured-cloned), so SealboxWorkerPool runs there; Node has no
// `Worker` global, so there the pool is sealbox/node's NodeWorkerPool (worker_threads, node:crypto
// inside), and Node also gets a row for node:crypto in this thread (useNodeCrypto), the fair
// single-thread baseline for it. Plain JS, so each runtime runs the same file:
//
//   npm run build
//   node scripts/bench/workers-runtimes.mjs
//   node_modules/.bin/deno run --allow-read scripts/bench/workers-runtimes.mjs
//   node_modules/.bin/bun scripts/bench/workers-runtimes.mjs
//
// Prints a line per measurement and one JSON line. The option is off unless set, in every runtime;
// this is what tells whether setting it wins there.
const dist = new URL('../../dist/', import.meta.url);
const { encrypt, decrypt, RawAesKeyring } = await import(new URL('index.js', dist).href);
const { SealboxWorkerPool } = await import(new URL('sdk/workers/pool.js', dist).href);
const isNode = typeof Deno === 'undefined' && typeof Bun === 'undefined';
const nodeSpeedups = isNode ? await import(new URL('node/crypto/index.js', dist).href) : undefined;

const runtime = typeof Deno !== 'undefined' ? `deno ${Deno.version.deno}` : typeof Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.version}`;
const MiB = 1024 * 1024;
const total = 64 * MiB;
const reps = 3;
const keyring = new RawAesKeyring({ keyName: 'bench', key: new Uint8Array(32).fill(7) });
const data = new Uint8Array(total);
for (let at = 0; at < total; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));

let pool;
let poolError;
try {
  pool = nodeSpeedups ? new nodeSpeedups.NodeWorkerPool({ size: 2 }) : new SealboxWorkerPool({ size: 2 });
} catch (error) {
  poolError = error.message;
  console.log(`${runtime}: no pool (${poolError}); workers: 2 runs in this thread here`);
}

const best = {};
const time = async (name, run) => {
  const start = performance.now();
  await run();
  const mbps = total / 1e6 / ((performance.now() - start) / 1000);
  best[name] = Math.max(best[name] ?? 0, mbps);
  console.log(`${runtime}  ${name.padEnd(18)} ${mbps.toFixed(0)} MB/s`);
};

const envelope = await encrypt(data, { keyring });
const workers = pool ?? 2;
// Warm-up: Workers started, the worker script compiled.
await decrypt(await encrypt(data.subarray(0, 8 * MiB), { keyring, workers }), { keyring, workers });
for (let rep = 0; rep < reps; rep++) {
  await time('encrypt in-thread', () => encrypt(data, { keyring }));
  if (nodeSpeedups) {
    nodeSpeedups.useNodeCrypto();
    await time('encrypt node:crypto', () => encrypt(data, { keyring }));
    await time('decrypt node:crypto', () => decrypt(envelope, { keyring }));
    nodeSpeedups.useNodeCrypto(false);
  }
  await time('encrypt workers:2', async () => {
    const sealed = await encrypt(data, { keyring, workers });
    if (sealed.length !== envelope.length) throw new Error('the Workers sealed another length');
  });
  await time('decrypt in-thread', () => decrypt(envelope, { keyring }));
  await time('decrypt workers:2', async () => {
    const { plaintext } = await decrypt(envelope, { keyring, workers });
    if (plaintext.length !== total) throw new Error('the Workers opened another length');
  });
}
pool?.terminate();
const ratio = (a, b) => Number((best[a] / best[b]).toFixed(2));
console.log(
  JSON.stringify({
    bench: 'workers-runtimes',
    runtime,
    pool: pool !== undefined,
    ...(poolError ? { poolError } : {}),
    totalBytes: total,
    chunkSize: 16384,
    bestMBps: best,
    encryptWorkersOverInThread: ratio('encrypt workers:2', 'encrypt in-thread'),
    decryptWorkersOverInThread: ratio('decrypt workers:2', 'decrypt in-thread'),
    ...(nodeSpeedups
      ? {
          encryptWorkersOverNodeCrypto: ratio('encrypt workers:2', 'encrypt node:crypto'),
          decryptWorkersOverNodeCrypto: ratio('decrypt workers:2', 'decrypt node:crypto'),
        }
      : {}),
  }),
);
