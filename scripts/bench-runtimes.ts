// `npm run bench:runtimes`: the throughput table (seven runtimes) of `npm run bench` (scripts/bench.ts)
// without its memory run, at 64 MiB per run (16 MiB with --quick) unless --total=MiB is given.
// Takes the same options: --only=deno,bun, --quick, --reps=N, --json-only, --no-browser ….
const given = process.argv.slice(2);
const total = given.some((a) => a.startsWith('--total=')) ? [] : [`--total=${given.includes('--quick') ? 16 : 64}`];
process.argv.splice(2, 0, '--no-memory', ...total);
await import('./bench.js');
