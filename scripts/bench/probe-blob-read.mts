// Quick probe (not part of npm run bench): how fast Chromium hands out a generated Blob's bytes, by
// reader and by thread. Tells whether the Worker engine's encryptBlob is bounded by the Blob read.
//   node --import tsx scripts/bench/probe-blob-read.mts [MiB]
import { createServer } from 'node:http';
import { launchChromium } from '../runtimes/chromium.js';

const READER = `onmessage = async (e) => { const { blob, from, to, step, depth, stream } = e.data; const t = performance.now(); let n = 0; const q = []; if (stream) { const r = blob.slice(from, to).stream().getReader(); for (;;) { const { done, value } = await r.read(); if (done) break; n += value.length; } postMessage({ n, ms: performance.now() - t }); return; } for (let a = from; a < to; a += step) { q.push(blob.slice(a, Math.min(to, a + step)).arrayBuffer()); if (q.length >= depth) n += (await q.shift()).byteLength; } for (const p of q) n += (await p).byteLength; postMessage({ n, ms: performance.now() - t }); };`;
const server = createServer((req, res) => {
  if (req.url === '/reader.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    return res.end(READER);
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>blob read probe</title>');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
const browser = await launchChromium();
const page = await browser.newPage();
page.on('console', (m) => console.log(m.text()));
await page.goto(url);
await page.evaluate(`(async () => {
  const MiB = 1 << 20, total = ${Number(process.argv[2] ?? 128)} * MiB;
  const pattern = new Uint8Array(MiB); for (let a = 0; a < MiB; a += 65536) crypto.getRandomValues(pattern.subarray(a, a + 65536));
  const blob = new Blob(Array.from({ length: total / MiB }, () => pattern));
  const say = (name, ms) => console.log(name.padEnd(44), (total / 1e6 / (ms / 1000)).toFixed(0), 'MB/s');
  const main = async (step, depth) => { const t = performance.now(); const q = []; let n = 0; for (let a = 0; a < total; a += step) { q.push(blob.slice(a, a + step).arrayBuffer()); if (q.length >= depth) n += (await q.shift()).byteLength; } for (const p of q) n += (await p).byteLength; if (n !== total) throw new Error('short'); return performance.now() - t; };
  const stream = async () => { const t = performance.now(); const r = blob.stream().getReader(); let n = 0; for (;;) { const { done, value } = await r.read(); if (done) break; n += value.length; } if (n !== total) throw new Error('short'); return performance.now() - t; };
  const workers = [new Worker('/reader.js'), new Worker('/reader.js'), new Worker('/reader.js'), new Worker('/reader.js')];
  const inWorkers = async (count, step, depth, stream = false) => { const t = performance.now(); const share = total / count; const done = await Promise.all(workers.slice(0, count).map((w, i) => new Promise((resolve) => { w.onmessage = (e) => resolve(e.data.n); w.postMessage({ blob, from: i * share, to: (i + 1) * share, step, depth, stream }); }))); if (done.reduce((a, b) => a + b, 0) !== total) throw new Error('short'); return performance.now() - t; };
  await main(MiB, 2);
  const runs = [
    ['main: 1 MiB slices, 2 in flight', () => main(MiB, 2)],
    ['main: 4 MiB slices, 2 in flight', () => main(4 * MiB, 2)],
    ['main: 8 MiB slices, 2 in flight', () => main(8 * MiB, 2)],
    ['main: blob.stream()', () => stream()],
    ['1 Worker: 1 MiB slices, 2 in flight', () => inWorkers(1, MiB, 2)],
    ['1 Worker: 8 MiB slices, 2 in flight', () => inWorkers(1, 8 * MiB, 2)],
    ['2 Workers: 1 MiB slices, 2 in flight each', () => inWorkers(2, MiB, 2)],
    ['2 Workers: 4 MiB slices, 2 in flight each', () => inWorkers(2, 4 * MiB, 2)],
    ['2 Workers: 8 MiB slices, 2 in flight each', () => inWorkers(2, 8 * MiB, 2)],
    ['2 Workers: stream() of their half', () => inWorkers(2, 0, 0, true)],
  ];
  for (const [name, run] of runs) {
    try { say(name, await run()); } catch (error) { console.log(name.padEnd(44), 'failed:', error.message.slice(0, 60)); }
  }
})()`);
await browser.close();
server.close();
