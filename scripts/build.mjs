// tsc emits dist/ (ESM + .d.ts); rollup then bundles the core for browsers.
import { rmSync } from 'node:fs';
import { run } from './lib/run.mjs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
run('npx', ['tsc', '-p', 'tsconfig.json']);
run('npx', ['rollup', '-c', 'rollup.config.mjs', '--silent']);
