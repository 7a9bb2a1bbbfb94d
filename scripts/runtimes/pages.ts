/**
 * One page in any of the three browser engines, for scripts that evaluate code in a page (the
 * bench): Chromium through Playwright, Firefox through puppeteer-core over WebDriver BiDi, WebKit
 * (MiniBrowser) through WebDriver, launched as the browser tests launch them.
 */
import { launchFirefox, launchWebKit } from '../lib/browsers.mjs';
import { launchChromium } from './chromium.js';

export type Engine = 'chromium' | 'firefox' | 'webkit';

export interface EnginePage {
  engine: Engine;
  /** The browser's name and version. */
  version: string;
  /** Evaluates an expression (a string: tsx's transpiled functions carry helpers the page lacks), awaiting a promise. */
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
}

/** Opens `url` in `engine`; `onConsole` gets the page's console lines (Chromium and Firefox). */
export async function openPage(engine: Engine, url: string, onConsole?: (line: string) => void): Promise<EnginePage> {
  if (engine === 'chromium') {
    const browser = await launchChromium();
    const page = await browser.newPage();
    if (onConsole) page.on('console', (m) => onConsole(m.text()));
    await page.goto(url);
    return { engine, version: `Chromium ${browser.version()}`, evaluate: async (e) => page.evaluate(e), close: () => browser.close() };
  }
  if (engine === 'firefox') {
    const browser = await launchFirefox();
    try {
      const page = await browser.newPage();
      if (onConsole) page.on('console', (m) => onConsole(m.text()));
      await page.goto(url);
      const version = await browser.version();
      return { engine, version, evaluate: async (e) => (await page.evaluate(e)) as never, close: () => browser.close() };
    } catch (error) {
      await browser.close();
      throw error;
    }
  }
  const session = await launchWebKit();
  try {
    const { browser } = session;
    await browser.url(url);
    // WebDriver's Execute Script awaits a returned promise, up to the script timeout.
    await browser.setTimeout({ script: 60 * 60_000 });
    const ua = await browser.execute<string>('return navigator.userAgent');
    const version = `WebKitGTK MiniBrowser (${ua})`;
    return { engine, version, evaluate: (e) => browser.execute(`return ${e}`), close: () => session.close() };
  } catch (error) {
    await session.close();
    throw error;
  }
}
