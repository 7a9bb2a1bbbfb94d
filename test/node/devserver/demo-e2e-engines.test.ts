// The demo end to end in Firefox ESR (puppeteer-core over WebDriver BiDi) and WebKitGTK's
// MiniBrowser (WebDriver), launched as the browser tests launch them (scripts/lib/browsers.mjs):
// sign in, encrypt and upload a generated 24 MiB file (neither engine streams request bodies: the
// page must say it uploads in parts), check the stored blob is ciphertext, download and decrypt it
// (neither has File System Access: the page must say it saved through a Blob; the SHA-256 of that
// Blob is taken in the page), preview a range, see another tenant denied, the audit trail with its
// chain verified, rotate + rewrap (payload untouched), offline RSA encryption. No page error and no
// CSP violation at any step. Screenshots go to test-artifacts/demo-e2e-<engine>/.
// test/node/devserver/demo-e2e.test.ts does the same in Chromium, with its File System Access path.
// SEALBOX_BROWSERS picks engines (as for the browser tests).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firefoxPath, launchFirefox, launchWebKit, miniBrowserPath, selectedEngines } from '../../../scripts/lib/browsers.mjs';
import { startDevServer, type DevServer } from '../../../src/node/devserver/server.js';

const ROOT = new URL('../../../', import.meta.url);
const BUNDLE = new URL('dist/browser/sealbox.min.js', ROOT);
const SIZE = 24 * 1024 * 1024;
const MARKER = 'sealbox-e2e-plaintext';
const HEAVY = 240_000;

/** The few actions the test needs, over puppeteer-core (Firefox) or webdriverio (WebKit). */
interface Driver {
  goto(url: string): Promise<void>;
  click(selector: string): Promise<void>;
  setFile(selector: string, path: string): Promise<void>;
  /** Runs `body` (a function body, `arg` in scope) in the page and returns its JSON-able result. */
  run<T>(body: string, arg?: unknown): Promise<T>;
  screenshot(path: string): Promise<void>;
  /** Page errors and console errors the driver saw (Firefox; WebKit's come from the page's own hooks). */
  errors: string[];
  close(): Promise<void>;
}

// Functions travel to the page as text: a wrapper the driver evaluates (`new Function` is not
// needed, so the page's CSP is not in the way).
const asFunction = (body: string) => `(async (arg) => { ${body} })`;

async function firefoxDriver(): Promise<Driver> {
  const browser = await launchFirefox();
  const page = await browser.newPage();
  await page.setViewport({ width: 1360, height: 1000 });
  page.setDefaultTimeout(60_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  return {
    errors,
    async goto(url) {
      await page.goto(url);
    },
    async click(selector) {
      await page.click(selector);
    },
    async setFile(selector, path) {
      const input = await page.$(selector);
      if (!input) throw new Error(`no ${selector}`);
      await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(path);
    },
    async run<T>(body: string, arg?: unknown) {
      return (await page.evaluate(`${asFunction(body)}(${JSON.stringify(arg ?? null)})`)) as T;
    },
    async screenshot(path) {
      await page.screenshot({ path: path as `${string}.png`, fullPage: true });
    },
    async close() {
      await browser.close();
    },
  };
}

async function webkitDriver(): Promise<Driver> {
  const session = await launchWebKit();
  const browser = session.browser as unknown as {
    url(u: string): Promise<void>;
    $(s: string): Promise<{ click(): Promise<void>; addValue(v: string): Promise<void> }>;
    execute<T>(script: string, ...args: unknown[]): Promise<T>;
    setTimeout(t: { script?: number }): Promise<void>;
    setWindowSize(w: number, h: number): Promise<void>;
    saveScreenshot(p: string): Promise<unknown>;
  };
  await browser.setTimeout({ script: HEAVY });
  await browser.setWindowSize(1360, 1000).catch(() => {});
  return {
    errors: [],
    async goto(url) {
      await browser.url(url);
    },
    async click(selector) {
      await (await browser.$(selector)).click();
    },
    async setFile(selector, path) {
      // WebDriver's Element Send Keys to a file input selects that (local) file. WebKitWebDriver
      // wants the input interactable, and the page hides it visually (a styled button opens it):
      // show it for the moment of the call.
      await browser.execute("const e = document.querySelector(arguments[0]); e.dataset.e2eClass = e.className; e.className = '';", selector);
      try {
        await (await browser.$(selector)).addValue(path);
      } finally {
        await browser.execute('const e = document.querySelector(arguments[0]); e.className = e.dataset.e2eClass; delete e.dataset.e2eClass;', selector);
      }
    },
    async run<T>(body: string, arg?: unknown) {
      return browser.execute<T>(`return ${asFunction(body)}(arguments[0])`, arg ?? null);
    },
    async screenshot(path) {
      await browser.saveScreenshot(path);
    },
    async close() {
      await session.close();
    },
  };
}

/** Hooks installed once the page has loaded: errors, CSP violations, and the Blob a download makes. */
const HOOKS = `
  if (window.__e2eHooks) return;
  window.__e2eHooks = true;
  window.__e2eErrors = [];
  window.__cspViolations = [];
  window.addEventListener('error', (e) => window.__e2eErrors.push('error: ' + e.message));
  window.addEventListener('unhandledrejection', (e) => window.__e2eErrors.push('unhandledrejection: ' + e.reason));
  const consoleError = console.error.bind(console);
  console.error = (...a) => { window.__e2eErrors.push('console.error: ' + a.join(' ')); consoleError(...a); };
  document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
  // The Blob download: keep the Blob, and keep the browser from saving it (no download dialog).
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = (blob) => { window.__e2eBlob = blob; return createObjectURL.call(URL, blob); };
  const click = HTMLAnchorElement.prototype.click;
  HTMLAnchorElement.prototype.click = function () { if (this.download) { window.__e2eDownloaded = this.download; return; } return click.call(this); };
`;

/** Polls `condition` (a function body returning truthy when done) in the page. */
async function waitUntil(d: Driver, condition: string, arg: unknown, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await d.run<boolean>(condition, arg)) return;
    if (Date.now() > deadline) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
const waitFor = (d: Driver, selector: string, timeoutMs?: number) =>
  waitUntil(d, 'return !!document.querySelector(arg);', selector, selector, timeoutMs);
/** Waits for an element matching `selector` whose text contains `text`. */
const waitForText = (d: Driver, selector: string, text: string, timeoutMs?: number) =>
  waitUntil(d, 'return [...document.querySelectorAll(arg.s)].some((e) => e.textContent.includes(arg.t));', { s: selector, t: text }, `${selector} with "${text}"`, timeoutMs);
const textOf = (d: Driver, selector: string) => d.run<string>('const e = document.querySelector(arg); return e ? e.innerText : null;', selector);
const attrOf = (d: Driver, selector: string, name: string) =>
  d.run<string | null>('const e = document.querySelector(arg.s); return e ? e.getAttribute(arg.n) : null;', { s: selector, n: name });

let dir: string;
let bigFile: string;
let bigSha: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-demo-e2e-engines-'));
  bigFile = join(dir, 'big-report.txt');
  const noise = randomBytes(8).toString('hex');
  const out = Buffer.alloc(SIZE);
  let at = 0;
  for (let i = 0; at < SIZE; i++) at += out.write(`${String(i).padStart(8, '0')} ${MARKER} ${noise} the quick brown fox jumps over the lazy dog\n`, at, 'latin1');
  await writeFile(bigFile, out);
  bigSha = createHash('sha256').update(out).digest('hex');
  for (let i = 0; i < 120 && !existsSync(BUNDLE); i++) await new Promise((r) => setTimeout(r, 500));
  if (!existsSync(BUNDLE)) throw new Error('dist/browser/sealbox.min.js is missing: run `npm run build` first');
  await cp(new URL('dist/browser/', ROOT).pathname, join(dir, 'bundle'), { recursive: true });
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ENGINES = { firefox: { binary: firefoxPath, driver: firefoxDriver }, webkit: { binary: miniBrowserPath, driver: webkitDriver } } as const;

for (const engine of ['firefox', 'webkit'] as const) {
  const { binary, driver } = ENGINES[engine];
  const skip = !selectedEngines().includes(engine) ? 'not in SEALBOX_BROWSERS' : !existsSync(binary()) ? `${binary()} not found` : false;
  test(`demo page in ${engine}: upload in parts, download through the Service Worker, preview, tenant isolation, audit, rewrap, offline`, { skip, timeout: 600_000 }, async () => {
    const artifacts = join(ROOT.pathname, 'test-artifacts', `demo-e2e-${engine}`);
    await rm(artifacts, { recursive: true, force: true });
    await mkdir(artifacts, { recursive: true });
    let step = 0;
    // A dev server (and data) per engine: each starts from key version 1 and no objects.
    const server: DevServer = await startDevServer({ port: 0, dataDir: join(dir, `data-${engine}`), bundleDir: join(dir, 'bundle'), log: () => {} });
    const d = await driver().catch(async (error) => {
      await server.close();
      throw error;
    });
    const shot = (name: string) => d.screenshot(join(artifacts, `${String(++step).padStart(2, '0')}-${name}.png`));
    const signIn = async (user: string) => {
      await d.click(`button[data-user="${user}"]`);
      await waitFor(d, `button[data-user="${user}"][aria-pressed="true"]`);
    };
    try {
      await d.goto(server.url);
      await waitFor(d, 'body[data-ready="true"]');
      await d.run(HOOKS);
      // The hooks come after the load (WebDriver classic has no preload script): at least the
      // page's own error notice must not be showing.
      assert.equal(await d.run<string | null>("const n = document.querySelector('#notice.error'); return n && !n.hidden ? n.textContent : null;"), null);
      await shot('loaded');
      // The page uploads every file as a multipart upload (uploadEncrypted), in parts, and says so.
      assert.equal(await attrOf(d, 'body', 'data-upload-mode'), 'multipart');

      // ── sign in as an uploader, encrypt and upload ──
      await signIn('alice');
      assert.match(await textOf(d, '#upload-mode'), /parts/);
      const t0 = Date.now();
      await d.setFile('#file', bigFile);
      await waitFor(d, '.transfer[data-done="true"], .transfer[data-error]', HEAVY);
      assert.equal(await attrOf(d, '.transfer', 'data-error'), null);
      const id = (await attrOf(d, '.transfer', 'data-id'))!;
      console.log(`${engine}: upload of ${SIZE / 2 ** 20} MiB in parts: ${Date.now() - t0} ms`);
      await waitFor(d, `tr[data-id="${id}"]`);
      await shot('uploaded');

      // ── the stored blob is ciphertext ──
      const blobPath = join(server.dataDir, 'blobs', `${id}.sbx`);
      const stored = new Uint8Array(await readFile(blobPath));
      assert.ok(stored.length > SIZE);
      assert.equal(Buffer.from(stored.subarray(0, 4)).toString('latin1'), 'SBX\x01');
      assert.equal(Buffer.from(stored).indexOf(MARKER), -1, 'the plaintext marker is not in the stored blob');
      const row = `tr[data-id="${id}"]`;
      assert.match(await textOf(d, row), /tenant-a/);

      // ── a reader downloads: no File System Access here, so the page streams it through its
      // Service Worker (memory stays flat); the bytes the worker serves are hashed in the page ──
      await signIn('bob');
      await d.click(`${row} button[data-action="download"]`);
      const msg = `.row-msg[data-for="${id}"]`;
      await waitFor(d, `${msg}.ok, ${msg}.error`, HEAVY);
      assert.equal(await attrOf(d, msg, 'data-path'), 'service-worker', await textOf(d, msg));
      const url = await attrOf(d, msg, 'data-url');
      assert.match(url ?? '', /^\/sealbox\/o\//);
      const saved = await d.run<{ size: number; sha256: string; disposition: string | null }>(`
        const response = await fetch(${JSON.stringify(url)});
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await response.arrayBuffer()));
        return { size: Number(response.headers.get('content-length')), disposition: response.headers.get('content-disposition'), sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
      `);
      assert.equal(saved.size, SIZE);
      assert.equal(saved.sha256, bigSha, 'the decrypted download matches the original (SHA-256)');
      assert.match(saved.disposition ?? '', /attachment; filename="big-report\.txt"/);
      await shot('downloaded-bob');

      // ── ranged preview ──
      await d.click(`${row} button[data-action="preview"]`);
      await waitFor(d, '#preview-body pre[data-kind="text"]');
      const previewText = await textOf(d, '#preview-body pre');
      assert.ok(previewText.startsWith(out150(await readFile(bigFile))), 'the preview shows the first bytes of the plaintext');
      const m = /from (\d+) ranged reads totalling ([\d.]+) KB/.exec(await textOf(d, '#preview-meta'));
      assert.ok(m && Number(m[2]) < 100, 'the preview fetched only the first chunks');
      await shot('preview-bob');

      // ── another tenant is denied ──
      await signIn('dave');
      await d.click(`${row} button[data-action="preview"]`);
      await waitFor(d, `${msg}[data-denied="true"]`);
      assert.match(await textOf(d, `${msg}[data-denied="true"]`), /not authorized to perform: kms:Decrypt/);
      await shot('denied-dave');

      // ── audit trail, chain verified ──
      await waitFor(d, '#audit-list li[data-outcome="deny"][data-principal="jwt/dave"]');
      await waitFor(d, '#audit-list li[data-outcome="allow"][data-principal="jwt/alice"][data-op="GenerateDataKey"]');
      await waitFor(d, '#audit-list li[data-outcome="allow"][data-principal="jwt/bob"][data-op="Decrypt"]');
      await waitFor(d, '#chain[data-ok="true"]');
      await shot('audit');

      // ── rotate and rewrap: header only, payload untouched ──
      await signIn('alice');
      await d.click('#rotate');
      await waitForText(d, '#key-list [data-tenant="tenant-a"] dd', 'version 2');
      await d.click(`${row} button[data-action="rewrap"]`);
      // (The row is drawn again once the list refreshes, so wait for the message's text.)
      await waitForText(d, `${msg}.ok`, 'unchanged');
      await waitForText(d, row, 'v2');
      const rewrapped = new Uint8Array(await readFile(blobPath));
      const oldHead = 8 + Buffer.from(stored).readUInt32BE(4);
      const newHead = 8 + Buffer.from(rewrapped).readUInt32BE(4);
      assert.ok(Buffer.from(rewrapped.subarray(newHead)).equals(Buffer.from(stored.subarray(oldHead))), 'payload bytes unchanged by the rewrap');
      await shot('rewrapped');

      // ── offline: RSA public key only, no KMS call to encrypt ──
      await d.click('input[name="mode"][value="offline"]');
      const small = join(dir, `offline-${engine}.txt`);
      await writeFile(small, 'Encrypted with the RSA public key alone; decrypted through the proxy.\n');
      const auditBefore = await d.run<number>("return document.querySelectorAll('#audit-list li').length;");
      await d.setFile('#file', small);
      await waitForText(d, '.transfer[data-done="true"]', `offline-${engine}.txt`);
      const offlineId = await d.run<string>('return [...document.querySelectorAll(".transfer")].find((e) => e.textContent.includes(arg)).dataset.id;', `offline-${engine}.txt`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await d.run<number>("return document.querySelectorAll('#audit-list li').length;"), auditBefore, 'offline encryption made no KMS call');
      const offlineRow = `tr[data-id="${offlineId}"]`;
      await waitFor(d, offlineRow);
      assert.match(await textOf(d, offlineRow), /rsa-oaep-256/);
      await signIn('bob');
      await d.click(`${offlineRow} button[data-action="preview"]`);
      await waitForText(d, '#preview-body pre', 'RSA public key alone');
      await shot('offline-bob');

      // ── no page error, no console error, no CSP violation ──
      const page = await d.run<{ errors: string[]; csp: string[] }>('return { errors: window.__e2eErrors, csp: window.__cspViolations };');
      assert.deepEqual(page.csp, []);
      assert.deepEqual([...d.errors, ...page.errors], []);
    } catch (error) {
      await shot('failure').catch(() => {});
      throw error;
    } finally {
      await d.close();
      await server.close();
    }
  });
}

function out150(bytes: Buffer): string {
  return bytes.subarray(0, 200).toString('utf8').slice(0, 150);
}
