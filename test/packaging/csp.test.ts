// The shipped browser bundle under a strict Content-Security-Policy without 'unsafe-eval' (nor
// 'unsafe-inline'), with and without Trusted Types: round trips with AES and RSA keys and without
// crypto.subtle (the lazily loaded noble chunk), with no console error or warning, no DevTools issue, no page error
// and no `securitypolicyviolation` event. A control page calls `new Function` under the same
// policy, to prove that a violation would be caught.
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright';
import { root } from '../../scripts/runtimes/build.js';
import { launchChromium } from '../../scripts/runtimes/chromium.js';
import { serveStatic } from '../../scripts/runtimes/static-server.js';

/** Scripts from the page's origin only: no inline script, no eval, nothing from elsewhere. */
const STRICT_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
/** The same with Trusted Types enforced and no policy allowed: no string reaches a script sink. */
const STRICT_CSP_TT = `${STRICT_CSP}; require-trusted-types-for 'script'; trusted-types 'none'`;

interface PageResult {
  violations: string[];
  steps: string[];
  error?: string;
  evalAllowed?: boolean;
  scripts?: string[];
}

async function visit(browser: Browser, url: string): Promise<{ result: PageResult; console: string[] }> {
  const page = await browser.newPage();
  const messages: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') messages.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => messages.push(`pageerror: ${e.message}`));
  // CSP reports go to the browser log (DevTools' console shows them), not through console.* calls.
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Log.entryAdded', ({ entry }) => {
    if (entry.level === 'error' || entry.level === 'warning') messages.push(`log ${entry.source} ${entry.level}: ${entry.text}`);
  });
  // Chromium files CSP violations (eval included) as DevTools issues rather than console lines.
  cdp.on('Audits.issueAdded', ({ issue }) => messages.push(`issue ${issue.code}: ${JSON.stringify(issue.details).slice(0, 300)}`));
  await cdp.send('Log.enable');
  await cdp.send('Audits.enable');
  try {
    await page.goto(url);
    await page.waitForFunction(() => 'cspResult' in globalThis, undefined, { timeout: 30_000 });
    const result = (await page.evaluate(() => (globalThis as unknown as { cspResult: Promise<unknown> }).cspResult)) as PageResult;
    return { result, console: messages };
  } finally {
    await page.close();
  }
}

test('strict CSP without unsafe-eval: the browser bundle works, no violation, no console error', async (t) => {
  if (!existsSync(join(root, 'dist/browser/sealbox.min.js'))) throw new Error('dist/browser is missing: run `npm run build` first (npm test does)');
  const html = '<!doctype html><meta charset="utf-8"><title>sealbox under CSP</title><script type="module" src="/test/runtimes/csp/page.js"></script>';
  const server = await serveStatic({
    root,
    prefixes: ['dist/browser/', 'test/runtimes/csp/', 'test/runtimes/fixtures/'],
    headers: { 'content-security-policy': STRICT_CSP },
    routes: {
      '/csp.html': { body: html },
      '/csp-tt.html': { body: html, headers: { 'content-security-policy': STRICT_CSP_TT } },
      '/favicon.ico': { body: '', type: 'image/x-icon' },
    },
  });
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const control = await visit(browser, `${server.origin}/csp.html?control`);
    const seen = control.result.violations.some((v) => v.startsWith('script-src')) && control.console.some((m) => /ContentSecurityPolicy/.test(m));
    if (control.result.evalAllowed !== false || !seen) {
      throw new Error(`the control page shows the policy is not enforced or not observed: ${JSON.stringify(control)}`);
    }
    t.diagnostic(`control: new Function refused, seen as a violation event (${control.result.violations[0]}) and ${control.console.join('; ').slice(0, 160)}`);

    for (const [path, policy] of [['/csp.html', STRICT_CSP], ['/csp-tt.html', STRICT_CSP_TT]] as const) {
      const { result, console: messages } = await visit(browser, `${server.origin}${path}`);
      const problems = [...(result.error ? [`error: ${result.error}`] : []), ...result.violations.map((v) => `CSP violation: ${v}`), ...messages];
      if (result.steps.join() !== 'aes,rsa,noble') problems.push(`steps done: ${result.steps.join(', ') || 'none'}`);
      if (!result.scripts?.some((s) => /\/dist\/browser\/chunks\/noble-/.test(s))) problems.push('the noble chunk was not loaded without crypto.subtle');
      if (problems.length) throw new Error(`under ${policy}:\n- ${problems.join('\n- ')}`);
    }
  } finally {
    await browser?.close();
    await server.close();
  }
});
