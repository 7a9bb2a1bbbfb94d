import { playwrightLauncher } from '@web/test-runner-playwright';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { CHROMIUM_ARGS, chromiumPath } from './scripts/lib/chromium.mjs';

export default {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: { browser: true },
  plugins: [esbuildPlugin({ ts: true, target: 'es2022' })],
  browsers: [
    playwrightLauncher({
      product: 'chromium',
      launchOptions: { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS },
    }),
  ],
  concurrency: 1,
  testsFinishTimeout: 300_000,
  testFramework: { config: { timeout: 120_000 } },
};
