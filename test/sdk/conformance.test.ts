// Node runner for the shared conformance suite (test/suite).
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { allCases } from '../suite/index.js';
import { type SuiteEnv, skipReason } from '../suite/harness.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const env: SuiteEnv = { runtime: 'node', readText: (path) => readFile(root + path, 'utf8') };

// A case Node cannot run is reported as skipped, with its reason (node:test prints it).
for (const testCase of allCases) test(testCase.name, { skip: skipReason(testCase, env) ?? false }, () => testCase.run(env));
