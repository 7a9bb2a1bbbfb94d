// The browser engines the browser tests run in, and how each is launched: Debian's Chromium
// (Playwright), Firefox ESR (puppeteer-core over WebDriver BiDi) and WebKitGTK's MiniBrowser
// (WebKitWebDriver, a W3C WebDriver server, under an Xvfb display of our own). Never downloads a
// browser or a driver. SEALBOX_BROWSERS=chromium,firefox,webkit (the default: all three) selects.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHROMIUM_ARGS, chromiumPath } from './chromium.mjs';

export const ENGINES = ['chromium', 'firefox', 'webkit'];

/** The engines SEALBOX_BROWSERS names (all three by default); exits on an unknown name. */
export function selectedEngines(value = process.env.SEALBOX_BROWSERS) {
  if (value === undefined || value.trim() === '') return [...ENGINES];
  const names = value.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  for (const name of names) {
    if (!ENGINES.includes(name)) {
      console.error(`SEALBOX_BROWSERS: unknown engine "${name}" (use a comma-separated list of ${ENGINES.join(', ')})`);
      process.exit(2);
    }
  }
  return ENGINES.filter((name) => names.includes(name));
}

export function firefoxPath() {
  return process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';
}
export function webkitDriverPath() {
  return process.env.WEBKIT_DRIVER_PATH || '/usr/bin/WebKitWebDriver';
}
export function miniBrowserPath() {
  return process.env.WEBKIT_BROWSER_PATH || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
}
export function xvfbPath() {
  return '/usr/bin/Xvfb';
}

/** What each engine needs on disk, and the Debian package that provides it. */
function requirements(engine) {
  if (engine === 'chromium') return [{ path: chromiumPath(), pkg: 'chromium' }];
  if (engine === 'firefox') return [{ path: firefoxPath(), pkg: 'firefox-esr' }];
  return [
    { path: webkitDriverPath(), pkg: 'webkit2gtk-driver' },
    { path: miniBrowserPath(), pkg: 'webkit2gtk-driver' },
    // A display of our own only when none is given (MiniBrowser has no headless mode).
    ...(process.env.DISPLAY ? [] : [{ path: xvfbPath(), pkg: 'xvfb' }]),
  ];
}

/** Throws with the one apt-get command when a binary `engines` need is missing. */
export function checkInstalled(engines = selectedEngines()) {
  const missing = engines.flatMap((engine) => requirements(engine).filter((r) => !existsSync(r.path)));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((r) => r.pkg))];
  throw new Error(
    `Browser tests need ${missing.map((r) => r.path).join(', ')}: sudo apt-get install -y ${packages.join(' ')} ` +
      `(or choose engines with SEALBOX_BROWSERS, e.g. SEALBOX_BROWSERS=chromium)`,
  );
}

/**
 * The @web/test-runner launchers for `engines`, in the order chromium, firefox, webkit. Each test
 * page's URL gets `sealbox-engine=<engine>`, so the page can check it runs in the engine meant.
 */
export async function browserLaunchers(engines = selectedEngines()) {
  checkInstalled(engines);
  const launchers = [];
  for (const engine of engines) {
    launchers.push(tagged(await launcherFor(engine), engine));
  }
  return launchers;
}

function tagged(launcher, engine) {
  const startSession = launcher.startSession.bind(launcher);
  const getBrowserUrl = launcher.getBrowserUrl.bind(launcher);
  launcher.startSession = (id, url) => {
    const tagged = new URL(url);
    tagged.searchParams.set('sealbox-engine', engine);
    return startSession(id, tagged.href);
  };
  // web-test-runner compares this with the URL it asked for, to tell a navigation from a crash.
  launcher.getBrowserUrl = async (id) => {
    const current = await getBrowserUrl(id);
    if (!current) return current;
    const url = new URL(current);
    url.searchParams.delete('sealbox-engine');
    return url.href;
  };
  return launcher;
}

async function launcherFor(engine) {
  if (engine === 'chromium') {
    const { playwrightLauncher } = await import('@web/test-runner-playwright');
    return playwrightLauncher({
      product: 'chromium',
      launchOptions: { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS },
    });
  }
  if (engine === 'firefox') {
    // web-test-runner's Puppeteer launcher, given puppeteer-core: Firefox over WebDriver BiDi.
    const { chromeLauncher } = await import('@web/test-runner');
    return chromeLauncher({ puppeteer: await puppeteerCore(), launchOptions: firefoxLaunchOptions() });
  }
  return webkitLauncher();
}

async function puppeteerCore() {
  const puppeteer = await import('puppeteer-core');
  return puppeteer.default ?? puppeteer;
}

/** puppeteer-core's launch options for Debian's Firefox ESR, headless, over WebDriver BiDi. */
export function firefoxLaunchOptions() {
  return {
    browser: 'firefox',
    executablePath: firefoxPath(),
    headless: true,
    // No network of its own: no updates, telemetry or first-run pages.
    extraPrefsFirefox: {
      'app.update.enabled': false,
      'browser.shell.checkDefaultBrowser': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'toolkit.telemetry.enabled': false,
    },
  };
}

/** Launches Debian's Firefox ESR with puppeteer-core (a puppeteer Browser). */
export async function launchFirefox() {
  checkInstalled(['firefox']);
  return (await puppeteerCore()).launch(firefoxLaunchOptions());
}

/** webdriverio, the copy @web/test-runner-webdriver depends on (it is not a top-level package). */
export async function webdriverio() {
  const require = createRequire(import.meta.resolve('@web/test-runner-webdriver'));
  return import(pathToFileURL(require.resolve('webdriverio')).href);
}

/**
 * A webdriverio session in WebKitGTK's MiniBrowser: starts Xvfb (unless DISPLAY is set) and a
 * WebKitWebDriver, opens the session; `close()` ends the session and stops both.
 */
export async function launchWebKit() {
  checkInstalled(['webkit']);
  const helpers = [];
  const stop = async () => {
    for (const child of helpers.reverse()) await stopHelper(child);
  };
  try {
    const env = { ...process.env };
    if (!env.DISPLAY) {
      const xvfb = await startXvfb();
      helpers.push(xvfb.child);
      env.DISPLAY = xvfb.display;
    }
    const driver = await startWebKitDriver(env);
    helpers.push(driver.child);
    const { remote } = await webdriverio();
    const browser = await remote({
      hostname: '127.0.0.1',
      port: driver.port,
      path: '/',
      capabilities: { ...webkitCapabilities(), 'wdio:enforceWebDriverClassic': true },
      logLevel: 'error',
      connectionRetryCount: 0,
    });
    return {
      browser,
      async close() {
        await browser.deleteSession().catch(() => {});
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const children = new Set();
let exitHookInstalled = false;
/** Spawns a helper process that dies with us, whatever way we end. */
function spawnHelper(command, args, options) {
  const child = spawn(command, args, options);
  children.add(child);
  child.on('exit', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
  return child;
}

function stopHelper(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts `Xvfb -displayfd`, which picks a free display and tells us its number. */
export function startXvfb() {
  return new Promise((resolve, reject) => {
    const child = spawnHelper(xvfbPath(), ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let out = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdio[3].on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve({ display: `:${out.trim()}`, child });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`Xvfb exited (${code}) before giving a display: ${stderr.trim().slice(-500)}`)));
  });
}

/** Starts WebKitWebDriver on a free port and waits until it answers /status. */
export async function startWebKitDriver(env) {
  const port = await freePort();
  const child = spawnHelper(webkitDriverPath(), [`--port=${port}`, '--host=127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`WebKitWebDriver exited (${child.exitCode}): ${stderr.trim().slice(-500)}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/status`);
      if (response.ok) return { port, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`WebKitWebDriver did not answer on port ${port} within 15 s: ${stderr.trim().slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const webkitCapabilities = () => ({
  'webkitgtk:browserOptions': { binary: miniBrowserPath(), args: ['--automation'] },
});

/**
 * @web/test-runner-webdriver's launcher, connected to a WebKitWebDriver (and Xvfb, unless
 * DISPLAY is set) that this launcher starts on first use and stops at the end.
 */
async function webkitLauncher() {
  const { WebdriverLauncher } = await import('@web/test-runner-webdriver');
  class WebKitLauncher extends WebdriverLauncher {
    helpers = [];
    starting;
    constructor() {
      // hostname and port are filled in once the driver runs; with them set, webdriverio
      // connects to that driver and never sets up (or downloads) one of its own.
      super({ hostname: '127.0.0.1', port: 0, path: '/', capabilities: webkitCapabilities(), logLevel: 'error', connectionRetryCount: 0 });
    }
    async initialize(config, testFiles) {
      await super.initialize(config, testFiles);
      this.name = 'WebKit';
    }
    async startHelpers() {
      const env = { ...process.env };
      if (!env.DISPLAY) {
        const xvfb = await startXvfb();
        this.helpers.push(xvfb.child);
        env.DISPLAY = xvfb.display;
      }
      const driver = await startWebKitDriver(env);
      this.helpers.push(driver.child);
      this.options.port = driver.port;
    }
    async startSession(id, url) {
      this.starting ??= this.startHelpers();
      await this.starting;
      return super.startSession(id, url);
    }
    async stop() {
      await super.stop();
      for (const child of this.helpers.reverse()) await stopHelper(child);
      this.helpers = [];
      this.starting = undefined;
    }
  }
  return new WebKitLauncher();
}

/**
 * A web-test-runner reporter that, per browser and test file, names every skipped test (the
 * default reporter only counts them; a skipped conformance case carries its reason in its name,
 * see test/browser/conformance.test.ts) and says how long the tests took, with the slowest ones.
 */
export function browserSummaryReporter() {
  const collect = (results, prefix, out) => {
    for (const test of results?.tests ?? []) out.push({ ...test, name: `${prefix}${test.name}` });
    for (const suite of results?.suites ?? []) collect(suite, `${prefix}${suite.name} › `, out);
    return out;
  };
  const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
  return {
    reportTestFileResults({ logger, sessionsForTestFile, testFile }) {
      for (const session of sessionsForTestFile) {
        const tests = collect(session.testResults, '', []);
        const skipped = tests.filter((t) => t.skipped);
        const passed = tests.filter((t) => t.passed && !t.skipped).length;
        const ran = tests.filter((t) => !t.skipped);
        const total = ran.reduce((sum, t) => sum + (t.duration ?? 0), 0);
        const slowest = [...ran].sort((a, b) => (b.duration ?? 0) - (a.duration ?? 0)).slice(0, 3);
        logger.log(
          `${session.browser.name}, ${relative(process.cwd(), testFile)}: ${passed} passed, ${ran.length - passed} failed, ${skipped.length} skipped; tests took ${seconds(total)}` +
            (slowest.length ? ` (slowest: ${slowest.map((t) => `${seconds(t.duration ?? 0)} ${t.name.slice(0, 60)}`).join('; ')})` : ''),
        );
        for (const test of skipped) logger.log(`  skipped: ${test.name}`);
      }
    },
  };
}
