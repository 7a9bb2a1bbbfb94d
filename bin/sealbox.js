#!/usr/bin/env node
// The `sealbox` command. The CLI is compiled to dist/ by `npm run build` (run on `npm install`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/node/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('sealbox: dist/ is missing; run `npm install` (or `npm run build`) in the sealbox checkout first.');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
