// Node runner for the shared conformance suite (test/suite).
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { allCases } from '../suite/index.js';
import type { SuiteEnv } from '../suite/harness.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const env: SuiteEnv = { runtime: 'node', readText: (path) => readFile(root + path, 'utf8') };

for (const testCase of allCases) test(testCase.name, () => testCase.run(env));
