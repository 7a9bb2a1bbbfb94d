import { defaultReporter } from '@web/test-runner';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { browserLaunchers, browserSummaryReporter } from './scripts/lib/browsers.mjs';

// The engines come from SEALBOX_BROWSERS (default chromium,firefox,webkit); see scripts/lib/browsers.mjs.
export default {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: { browser: true },
  plugins: [esbuildPlugin({ ts: true, target: 'es2022' })],
  browsers: await browserLaunchers(),
  reporters: [defaultReporter(), browserSummaryReporter()],
  concurrency: 1,
  testsFinishTimeout: 300_000,
  testFramework: { config: { timeout: 120_000 } },
};
