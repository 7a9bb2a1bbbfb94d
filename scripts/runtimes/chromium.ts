/** Launches Debian's Chromium through Playwright (never a downloaded browser build). */
import { type Browser, chromium } from 'playwright';
import { CHROMIUM_ARGS, chromiumPath } from '../lib/chromium.mjs';

export { chromiumPath };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
}
