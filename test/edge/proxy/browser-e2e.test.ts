// Chromium → proxy → local KMS over real HTTP (cross-origin, so CORS preflights are real): a page
// bundled from the public `sealbox` entry encrypts and decrypts with KmsKeyring and a JWT; another
// tenant and an uploader are denied, and the denials are audited with the page's origin.
// Uses Debian's Chromium (CHROME_PATH or /usr/bin/chromium); never downloads a browser.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright';
import { auditRecords, startEnv, token, type Env } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const chromePath = process.env.CHROME_PATH || '/usr/bin/chromium';

let env: Env;
let page: Server;
let pageUrl: string;
let browser: Browser | undefined;

before(async () => {
  const bundle = await build({
    entryPoints: [join(root, 'test/fixtures/proxy/browser-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0]!.text;
  const html = '<!doctype html><meta charset="utf-8"><title>sealbox proxy e2e</title><script type="module" src="/page.js"></script>';
  page = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  env = await startEnv({ cors: { origins: [pageUrl] } });
});

after(async () => {
  await browser?.close();
  await env?.close();
  await new Promise((r) => page?.close(r));
});

test('Chromium: encrypt → decrypt through the proxy with a JWT; other tenant and uploader denied', { skip: !existsSync(chromePath) && `no Chromium at ${chromePath}` }, async () => {
  browser = await chromium.launch({
    executablePath: chromePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const tab = await browser.newPage();
  const errors: string[] = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  await tab.goto(`${pageUrl}/`);
  await tab.waitForFunction(() => 'sealboxE2E' in globalThis);
  const tokens = {
    uploaderA: await token({ sub: 'alice', tenant: 'a', role: 'uploader' }),
    readerA: await token({ sub: 'ann', tenant: 'a', role: 'reader' }),
    readerB: await token({ sub: 'bob', tenant: 'b', role: 'reader' }),
  };
  // The proxy is on another origin (another port): every call is a CORS request.
  const result = await tab.evaluate(
    (input) => (globalThis as unknown as { sealboxE2E: (i: unknown) => Promise<Record<string, string>> }).sealboxE2E(input),
    { proxyUrl: env.proxy.url, tokens },
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(result, {
    symmetricRoundTrip: 'hello from the browser, tenant a',
    symmetricOtherTenant: 'ERR_ACCESS_DENIED',
    symmetricUploaderDecrypt: 'ERR_ACCESS_DENIED',
    rsaRoundTrip: 'hello from the browser, tenant a',
    rsaOtherTenant: 'ERR_ACCESS_DENIED',
  });
  const records = auditRecords(env.audit);
  const denials = records.filter((r) => r.outcome === 'deny' && r.op === 'Decrypt');
  assert.deepEqual(denials.map((r) => r.principal).sort(), ['jwt/alice', 'jwt/bob', 'jwt/bob']);
  assert.ok(records.every((r) => r.origin === pageUrl));
});
