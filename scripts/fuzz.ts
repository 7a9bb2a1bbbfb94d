/**
 * `npm run fuzz`: every fuzz target at full size (default 100,000 cases each), seeded and
 * reproducible. `--runs N`, `--seed S`, `--only <substring>`. A failure prints fast-check's seed
 * and path; add the counterexample as a regression test next to the target.
 */
import { parseArgs } from 'node:util';
import { fuzzTargets } from '../test/fuzz/index.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string', default: '20261123' }, only: { type: 'string' } } });
const runs = Number(values.runs);
const seed = Number(values.seed);
let failed = 0;
for (const target of fuzzTargets) {
  if (values.only && !target.name.includes(values.only)) continue;
  const started = performance.now();
  const rssBefore = process.memoryUsage().rss;
  try {
    await target.run(runs, seed);
    const seconds = (performance.now() - started) / 1000;
    const rssMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.log(`ok    ${target.name}: ${runs} cases in ${seconds.toFixed(1)} s (RSS ${rssMiB >= 0 ? '+' : ''}${rssMiB.toFixed(0)} MiB)`);
  } catch (error) {
    failed++;
    console.log(`FAIL  ${target.name}\n${error instanceof Error ? error.message : String(error)}`);
  }
}
process.exitCode = failed ? 1 : 0;
