// A short run of every fuzz campaign (the full runs are `npm run fuzz`).
import { test } from 'node:test';
import { fuzzTargets } from '../fuzz/index.js';

const RUNS = 1500;
for (const target of fuzzTargets) test(`fuzz (${RUNS} cases): ${target.name}`, () => target.run(RUNS, 20261123));
