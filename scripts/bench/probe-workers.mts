// Quick probe: where the Worker engine's time goes in Chromium (not part of npm run bench).
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../runtimes/chromium.js';
const root = new URL('../..', import.meta.url).pathname;
const RAW = `onmessage = async (e) => { const { total } = e.data; const key = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt']); const p = new Uint8Array(1 << 20); const iv = new Uint8Array(12); let n = 0; const q = []; for (let a = 0; a < total; a += 16384) { q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, p.subarray(a % (1 << 20), a % (1 << 20) + 16384))); if (q.length >= 64) { for (const r of await Promise.all(q)) n += r.byteLength; q.length = 0; } } for (const r of await Promise.all(q)) n += r.byteLength; postMessage(n); };`;
const MIMIC = `let key; onmessage = async (e) => { key ??= await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt']); const input = new Uint8Array(e.data.buf); const out = new Uint8Array(input.length + 64 * 16); const iv = new Uint8Array(12); const q = []; for (let i = 0; i < 64; i++) q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, input.subarray(i * 16384, (i + 1) * 16384)).then((r) => out.set(new Uint8Array(r), i * 16400))); await Promise.all(q); postMessage({ id: e.data.id, buf: out.buffer }, [out.buffer]); };`;
const MIMIC2 = `let key; onmessage = async (e) => { key ??= await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt']); const out = new Uint8Array(e.data.buf); const iv = new Uint8Array(12); const q = []; for (let i = 0; i < 64; i++) q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, out.subarray(i * 16384, (i + 1) * 16384))); let i = 0; for (const r of await Promise.all(q)) out.set(new Uint8Array(r), 16400 * i++); postMessage({ id: e.data.id, buf: out.buffer }, [out.buffer]); };`;
const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/mimic-worker.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(MIMIC); }
  if (path === '/mimic2-worker.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(MIMIC2); }
  if (path === '/raw-worker.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(RAW); }
  if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end('<!doctype html><title>p</title>'); }
  const file = join(root, path);
  if (!path.startsWith('/dist/browser/') || !existsSync(file)) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(readFileSync(file));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as any).port}`;
const browser = await launchChromium();
const page = await browser.newPage();
page.on('console', (m) => console.log(m.text())); page.on('crash', () => console.log('PAGE CRASH')); page.on('pageerror', (e) => console.log('PAGEERROR', e));
await page.goto(url);
await page.evaluate(`(async () => {
  const lib = await import('/dist/browser/sealbox.min.js');
  const w = await import('/dist/browser/sealbox-workers.min.js');
  const MiB = 1 << 20, total = ${Number(process.argv[2] ?? 64)} * MiB;
  const pattern = new Uint8Array(MiB); for (let a = 0; a < MiB; a += 65536) crypto.getRandomValues(pattern.subarray(a, a + 65536));
  const blob = new Blob(Array.from({ length: total / MiB }, () => pattern));
  const keyring = new lib.RawAesKeyring({ keyName: 'b', key: new Uint8Array(32).fill(7) });
  const pool = new w.SealboxWorkerPool({ size: 2 });
  const drain = async (s) => { const r = s.getReader(); let n = 0; for (;;) { const { done, value } = await r.read(); if (done) return n; n += value.length; } };
  const time = async (name, f) => { const t = performance.now(); const n = await f(); const s = (performance.now() - t) / 1000; console.log(name, (total / 1e6 / s).toFixed(0), 'MB/s', n); };
  await drain(w.encryptBlob(blob.slice(0, 8 * MiB), { keyring, workers: pool }));
  const keys = await (async () => { const k = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt', 'decrypt']); return { aead: { subtle: k }, baseNonce: new Uint8Array(12), commitment: new Uint8Array(32) }; })();
  const gen = () => new ReadableStream({ i: 0, pull(c) { if (this.i >= total / 65536) return c.close(); c.enqueue(pattern.subarray((this.i % 16) * 65536, (this.i % 16 + 1) * 65536)); this.i++; } }, { highWaterMark: 0 });
  const rawCeiling = async () => { let n = 0; const iv = new Uint8Array(12); const inflight = []; for (let a = 0; a < total; a += 16384) { inflight.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, keys.aead.subtle, pattern.subarray(a % MiB, a % MiB + 16384))); if (inflight.length >= 64) { for (const r of await Promise.all(inflight)) n += r.byteLength; inflight.length = 0; } } for (const r of await Promise.all(inflight)) n += r.byteLength; return n; };
  await time('raw ceiling main', rawCeiling);
  const poolRun = async (per, depth = 4) => { let n = 0, first = 0; const q = []; for (let a = 0; a < total; a += per) { const data = new Uint8Array(new ArrayBuffer(per + 65 * 16400), 0, per); data.set(pattern); q.push(pool.run({ op: 'seal', keys, chunkSize: 16384, first, data, final: false })); first += per / 16384; if (q.length >= depth) n += (await q.shift()).length; } for (const x of q) n += (await x).length; return n; };
  await time('pool.run 1 MiB batches', () => poolRun(MiB));
  await time('pool.run 4 MiB batches', () => poolRun(4 * MiB));
  if (${process.argv[3] === 'blob' ? 'true' : 'false'}) { console.log('blob start', blob.size); await time('encryptBlob workers', () => drain(w.encryptBlob(blob, { keyring, workers: pool }))); await time('encryptBlob workers', () => drain(w.encryptBlob(blob, { keyring, workers: pool }))); return; }
  await time('raw ceiling main', rawCeiling);
  const raws = [new Worker('/raw-worker.js'), new Worker('/raw-worker.js')];
  const rawWorkers = () => Promise.all(raws.map((w) => new Promise((r) => { w.onmessage = (e) => r(e.data); w.postMessage({ total: total / 2 }); }))).then((a) => a[0] + a[1]);
  await rawWorkers();
  await time('raw 2 workers', rawWorkers);
  const mimics = [new Worker('/mimic-worker.js'), new Worker('/mimic-worker.js')];
  const mimicRun = async (depth) => { let n = 0, id = 0; const waiters = new Map(); for (const w of mimics) w.onmessage = (e) => { waiters.get(e.data.id)(e.data.buf.byteLength); waiters.delete(e.data.id); }; const pend = [0, 0]; const q = []; for (let a = 0; a < total; a += MiB) { const data = pattern.slice(0, MiB); const k = pend[0] <= pend[1] ? 0 : 1; pend[k]++; const my = id++; q.push(new Promise((r) => waiters.set(my, (b) => { pend[k]--; r(b); }))); mimics[k].postMessage({ id: my, buf: data.buffer }, [data.buffer]); if (q.length >= depth) n += await q.shift(); } for (const x of q) n += await x; return n; };
  await time('raw 2 workers', rawWorkers);
  await time('pool.run 1 MiB (in place)', () => poolRun(MiB, 4));
  await time('raw ceiling main', rawCeiling);
  await time('encryptBlob workers', () => drain(w.encryptBlob(blob, { keyring, workers: pool })));
  await time('EncryptStream workers', () => drain(gen().pipeThrough(new lib.EncryptStream({ keyring, workers: pool }))));
  await time('EncryptStream in-thread', () => drain(gen().pipeThrough(new lib.EncryptStream({ keyring }))));
  await time('raw 2 workers', rawWorkers);
  await time('encryptBlob workers', () => drain(w.encryptBlob(blob, { keyring, workers: pool })));
  if (true) return;
  await time('mimic depth 4', () => mimicRun(4));
  await time('raw 2 workers', rawWorkers);
  await time('pool.run 1 MiB batches depth 4', () => poolRun(MiB, 4));
  await time('mimic depth 4', () => mimicRun(4));
  await time('pool.run 1 MiB batches depth 8', () => poolRun(MiB, 8));
  await time('raw 2 workers', rawWorkers);
  await time('pool.run 1 MiB batches depth 4', () => poolRun(MiB, 4));
  await time('pool.run 1 MiB batches depth 16', () => poolRun(MiB, 16));
  await time('raw ceiling main', rawCeiling);
  if (${process.argv[3] === 'short' ? 'true' : 'false'}) return;
  await time('blob.arrayBuffer main', async () => { let n = 0; for (let a = 0; a < total; a += MiB) n += (await blob.slice(a, a + MiB).arrayBuffer()).byteLength; return n; });
  await time('encryptBlob workers', () => drain(w.encryptBlob(blob, { keyring, workers: pool })));
  await time('encryptBlob in-thread', () => drain(w.encryptBlob(blob, { keyring })));
  await time('EncryptStream workers', () => drain(gen().pipeThrough(new lib.EncryptStream({ keyring, workers: pool }))));
  await time('EncryptStream in-thread', () => drain(gen().pipeThrough(new lib.EncryptStream({ keyring }))));
  await time('encrypt one-shot workers', async () => { const p = new Uint8Array(total); return (await lib.encrypt(p, { keyring, workers: pool })).length; });
  pool.terminate();
})()`);
await browser.close(); server.close();
