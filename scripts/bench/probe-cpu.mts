// Quick probe (not part of npm run bench): how many cores Chromium's page process keeps busy while
// the page runs the single-thread AES-GCM ceiling loop (16 KiB chunks, 64 in flight), and while 2
// Workers run the same loop: CPU seconds of the renderer (/proc, utime + stime) over wall seconds.
//   node --import tsx scripts/bench/probe-cpu.mts [MiB]
import { createServer } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { launchChromium } from '../runtimes/chromium.js';

const LOOP = `async function loop(total) { const key = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt']); const p = new Uint8Array(1 << 20); const iv = new Uint8Array(12); const q = []; let n = 0; for (let a = 0; a < total; a += 16384) { q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, p.subarray(a % (1 << 20), a % (1 << 20) + 16384))); if (q.length >= 64) { for (const r of await Promise.all(q)) n += r.byteLength; q.length = 0; } } for (const r of await Promise.all(q)) n += r.byteLength; return n; }`;
const WORKER = `${LOOP} onmessage = async (e) => postMessage(await loop(e.data));`;
const server = createServer((req, res) => {
  if (req.url === '/loop.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    return res.end(WORKER);
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>cpu probe</title>');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
const ticks = 100; // USER_HZ
const renderers = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
  try {
    return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--type=renderer');
  } catch {
    return false;
  }
});
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
const total = Number(process.argv[2] ?? 512) * (1 << 20);
await page.evaluate(`(() => { ${LOOP}; window.loop = loop; window.inWorkers = (count, total) => Promise.all(Array.from({ length: count }, () => new Promise((resolve) => { const w = new Worker('/loop.js'); w.onmessage = (e) => { w.terminate(); resolve(e.data); }; w.postMessage(total / count); }))); })()`);
await page.evaluate(`loop(${64 << 20})`);
for (const [name, expression] of [
  ['page thread, 64 in flight', `loop(${total})`],
  ['2 Workers, same loop', `inWorkers(2, ${total})`],
  ['page thread, 64 in flight', `loop(${total})`],
  ['2 Workers, same loop', `inWorkers(2, ${total})`],
] as const) {
  const pids = renderers();
  const cpu0 = cpuSeconds(pids);
  const t0 = performance.now();
  await page.evaluate(expression);
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pids) - cpu0;
  console.log(`${name.padEnd(28)} ${(total / 1e6 / wall).toFixed(0).padStart(5)} MB/s, renderer CPU ${cpu.toFixed(2)} s over ${wall.toFixed(2)} s wall = ${(cpu / wall).toFixed(2)} cores`);
}
await browser.close();
server.close();
