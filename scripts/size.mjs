// Prints the minified and gzipped size of the core browser bundle and fails past the budget.
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { root } from './lib/run.mjs';

const BUDGET_GZIP = 20 * 1024;
const dir = join(root, 'dist/browser');
const core = readFileSync(join(dir, 'sealbox.min.js'));
const gz = gzipSync(core, { level: 9 }).length;
console.log(`core  dist/browser/sealbox.min.js  ${core.length} B minified, ${gz} B gzip (budget ${BUDGET_GZIP} B)`);
let chunks = [];
try { chunks = readdirSync(join(dir, 'chunks')).filter((f) => f.endsWith('.js')); } catch {}
for (const file of chunks) {
  const bytes = readFileSync(join(dir, 'chunks', file));
  console.log(`lazy  dist/browser/chunks/${file}  ${bytes.length} B minified, ${gzipSync(bytes, { level: 9 }).length} B gzip`);
}
for (const file of ['sealbox-workers.min.js', 'sealbox-worker.js']) {
  let bytes;
  try { bytes = readFileSync(join(dir, file)); } catch { continue; }
  console.log(`lazy  dist/browser/${file}  ${bytes.length} B minified, ${gzipSync(bytes, { level: 9 }).length} B gzip`);
}
if (gz > BUDGET_GZIP) {
  console.error(`✗ core bundle is ${gz} B gzip, over the ${BUDGET_GZIP} B budget`);
  process.exit(1);
}
