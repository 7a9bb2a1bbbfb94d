// Browser runner for the shared conformance suite (test/suite), under web-test-runner's mocha, in
// each engine scripts/lib/browsers.mjs launches: Chromium, Firefox and WebKit. A case a runtime
// cannot run is registered as skipped, under its name and the reason, never left out.
import { allCases } from '../suite/index.js';
import { type SuiteEnv, skipReason } from '../suite/harness.js';

declare const it: {
  (name: string, fn: () => Promise<void>): void;
  skip(name: string, fn?: () => Promise<void>): void;
};

/** The engine from the user agent: WebKit says Safari without Chrome; Chromium says Chrome. */
function browserEngine(userAgent: string): 'chromium' | 'firefox' | 'webkit' | 'unknown' {
  if (/\bFirefox\//.test(userAgent)) return 'firefox';
  if (/\b(Headless)?Chrome\//.test(userAgent)) return 'chromium';
  if (/\bAppleWebKit\//.test(userAgent)) return 'webkit';
  return 'unknown';
}

const engine = browserEngine(navigator.userAgent);
// The launcher says which engine it meant to start; a page that runs in another fails loudly.
const launched = new URLSearchParams(location.search).get('sealbox-engine');
if (launched !== null && launched !== engine) {
  throw new Error(`launched as ${launched}, but this page runs in ${engine} (${navigator.userAgent})`);
}

const env: SuiteEnv = {
  runtime: engine,
  async readText(path) {
    const response = await fetch(`/${path}`);
    if (!response.ok) throw new Error(`fixture ${path}: HTTP ${response.status}`);
    return response.text();
  },
};

for (const testCase of allCases) {
  const reason = skipReason(testCase, env);
  if (reason === undefined) it(testCase.name, () => testCase.run(env));
  else it.skip(`${testCase.name} [skipped in ${engine}: ${reason}]`);
}
