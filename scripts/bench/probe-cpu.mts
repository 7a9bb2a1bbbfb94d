// Quick probe (not part of npm run bench): how many cores Chromium keeps busy while the page runs the
// single-thread AES-GCM ceiling loop (16 KiB chunks, 64 in flight), while 2 Workers run the same
// loop, while the page only reads a 128 MiB Blob, and while encryptBlob seals it on 2 Workers:
// CPU seconds (/proc, utime + stime) of the renderer and of all of Chromium's processes, over wall
// seconds. Needs `npm run build` (the Worker engine comes from dist/browser/).
//   node --import tsx scripts/bench/probe-cpu.mts [MiB]
import { createServer } from 'node:http';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { launchChromium } from '../runtimes/chromium.js';

const LOOP = `async function loop(total) { const key = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt']); const p = new Uint8Array(1 << 20); const iv = new Uint8Array(12); const q = []; let n = 0; for (let a = 0; a < total; a += 16384) { q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, p.subarray(a % (1 << 20), a % (1 << 20) + 16384))); if (q.length >= 64) { for (const r of await Promise.all(q)) n += r.byteLength; q.length = 0; } } for (const r of await Promise.all(q)) n += r.byteLength; return n; }`;
const WORKER = `${LOOP} onmessage = async (e) => postMessage(await loop(e.data));`;
const server = createServer((req, res) => {
  if (req.url === '/loop.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    return res.end(WORKER);
  }
  const file = join(root, req.url ?? '/');
  if (req.url?.startsWith('/dist/browser/') && !req.url.includes('..') && existsSync(file)) {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    return res.end(readFileSync(file));
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>cpu probe</title><input type=file id=file>');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
const root = new URL('../..', import.meta.url).pathname;
const ticks = 100; // USER_HZ
const processes = (match: (cmdline: string) => boolean) => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
  try {
    return match(readFileSync(`/proc/${p}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
});
const renderers = () => processes((cmdline) => cmdline.includes('--type=renderer'));
const chromium = () => processes((cmdline) => /chrom/i.test(cmdline.split('\0')[0] ?? ''));
const cpuSeconds = (pids: string[]) =>
  pids.reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return sum + (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      return sum;
    }
  }, 0);
const browser = await launchChromium();
const page = await browser.newPage();
await page.goto(url);
// A real File from disk as well (what an app gets from <input type=file>), beside the generated Blob.
const onDisk = '/tmp/sealbox-probe-128MiB.bin';
if (!existsSync(onDisk)) writeFileSync(onDisk, randomBytes(128 << 20));
await page.setInputFiles('#file', onDisk);
const total = Number(process.argv[2] ?? 512) * (1 << 20);
await page.evaluate(`(async () => {
  const lib = await import('/dist/browser/sealbox.min.js');
  const engine = await import('/dist/browser/sealbox-workers.min.js');
  const MiB = 1 << 20;
  const pattern = new Uint8Array(MiB); for (let a = 0; a < MiB; a += 65536) crypto.getRandomValues(pattern.subarray(a, a + 65536));
  const blob = new Blob(Array.from({ length: 128 }, () => pattern));
  const keyring = new lib.RawAesKeyring({ keyName: 'p', key: new Uint8Array(32).fill(7) });
  const pool = new engine.SealboxWorkerPool({ size: 2 });
  const drain = async (stream) => { const r = stream.getReader(); let n = 0; for (;;) { const { done, value } = await r.read(); if (done) return n; n += value.length; } };
  window.readBlob = async (slice = 4 * MiB) => { let n = 0; for (let at = 0; at < blob.size; at += slice) n += await drain(blob.slice(at, at + slice).stream()); return n; };
  window.readWhole = () => drain(blob.stream());
  const file = document.getElementById('file').files[0];
  window.readFile = async (slice = 4 * MiB) => { let n = 0; for (let at = 0; at < file.size; at += slice) n += await drain(file.slice(at, at + slice).stream()); return n; };
  window.encryptFile = () => drain(engine.encryptBlob(file, { keyring, workers: pool }));
  window.encryptBlob = () => drain(engine.encryptBlob(blob, { keyring, workers: pool }));
  await window.encryptBlob();
})()`);
await page.evaluate(`(() => { ${LOOP}; window.loop = loop; window.inWorkers = (count, total) => Promise.all(Array.from({ length: count }, () => new Promise((resolve) => { const w = new Worker('/loop.js'); w.onmessage = (e) => { w.terminate(); resolve(e.data); }; w.postMessage(total / count); }))); })()`);
await page.evaluate(`loop(${64 << 20})`);
const measurements = [
  ['page thread, 64 in flight', `loop(${total})`, total],
  ['2 Workers, same loop', `inWorkers(2, ${total})`, total],
  ['read the Blob (4 MiB streams)', 'readBlob()', 128 << 20],
  ['read the Blob (16 MiB streams)', 'readBlob(16 << 20)', 128 << 20],
  ['read the Blob (32 MiB streams)', 'readBlob(32 << 20)', 128 << 20],
  ['read the Blob (one stream)', 'readWhole()', 128 << 20],
  ['encryptBlob, 2 Workers', 'encryptBlob()', 128 << 20],
  ['read a File (4 MiB streams)', 'readFile()', 128 << 20],
  ['read a File (one stream)', 'readFile(128 << 20)', 128 << 20],
  ['encryptBlob(File), 2 Workers', 'encryptFile()', 128 << 20],
] as const;
// Each twice, the second round after everything has run once.
for (const [name, expression, bytes] of [...measurements, ...measurements]) {
  const pids = renderers();
  const all = chromium();
  const cpu0 = cpuSeconds(pids);
  const all0 = cpuSeconds(all);
  const t0 = performance.now();
  await page.evaluate(expression);
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pids) - cpu0;
  const allCpu = cpuSeconds(all) - all0;
  console.log(
    `${name.padEnd(30)} ${(bytes / 1e6 / wall).toFixed(0).padStart(5)} MB/s; cores busy: renderer ${(cpu / wall).toFixed(2)}, all of Chromium ${(allCpu / wall).toFixed(2)}; ` +
      `CPU ms per MB: ${((allCpu * 1000) / (bytes / 1e6)).toFixed(2)}`,
  );
}
await browser.close();
server.close();
