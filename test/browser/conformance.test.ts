// Chromium runner for the shared conformance suite (test/suite), under web-test-runner's mocha.
import { allCases } from '../suite/index.js';
import type { SuiteEnv } from '../suite/harness.js';

declare const it: (name: string, fn: () => Promise<void>) => void;

const env: SuiteEnv = {
  runtime: 'chromium',
  async readText(path) {
    const response = await fetch(`/${path}`);
    if (!response.ok) throw new Error(`fixture ${path}: HTTP ${response.status}`);
    return response.text();
  },
};

for (const testCase of allCases) it(testCase.name, () => testCase.run(env));
