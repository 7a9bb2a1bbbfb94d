// The shipped browser bundle under a strict Content-Security-Policy without 'unsafe-eval' (nor
// 'unsafe-inline'): round trips with AES and RSA keys and without crypto.subtle (the lazily
// loaded noble chunk), with no console error, no page error and no `securitypolicyviolation`.
// A control page calls `new Function` under the same policy, to prove violations are caught.
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright';
import { root } from '../../scripts/runtimes/build.js';
import { launchChromium } from '../../scripts/runtimes/chromium.js';
import { serveStatic } from '../../scripts/runtimes/static-server.js';

const STRICT_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

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
    routes: { '/': { body: html }, '/favicon.ico': { body: '', type: 'image/x-icon' } },
  });
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const control = await visit(browser, `${server.origin}/?control`);
    if (control.result.evalAllowed !== false || control.result.violations.length === 0 || !control.console.some((m) => /Content Security Policy/i.test(m))) {
      throw new Error(`the control page shows the policy is not enforced or not observed: ${JSON.stringify(control)}`);
    }
    t.diagnostic(`control: new Function refused; seen as ${control.result.violations.length} violation event(s) and console "${control.console[0]?.slice(0, 90)}…"`);

    const { result, console: messages } = await visit(browser, `${server.origin}/`);
    const problems = [
      ...(result.error ? [`error: ${result.error}`] : []),
      ...result.violations.map((v) => `CSP violation: ${v}`),
      ...messages,
    ];
    if (result.steps.join() !== 'aes,rsa,noble') problems.push(`steps done: ${result.steps.join(', ') || 'none'}`);
    if (!result.scripts?.some((s) => /\/dist\/browser\/chunks\/noble-/.test(s))) problems.push('the noble chunk was not loaded without crypto.subtle');
    if (problems.length) throw new Error(`under ${STRICT_CSP}:\n- ${problems.join('\n- ')}`);
  } finally {
    await browser?.close();
    await server.close();
  }
});
