// Types for browsers.mjs (plain JS, so scripts/test.mjs and web-test-runner's config run without tsx).
export type Engine = 'chromium' | 'firefox' | 'webkit';
export declare const ENGINES: Engine[];
export declare function selectedEngines(value?: string): Engine[];
export declare function firefoxPath(): string;
export declare function webkitDriverPath(): string;
export declare function miniBrowserPath(): string;
export declare function xvfbPath(): string;
export declare function checkInstalled(engines?: Engine[]): void;
export declare function browserLaunchers(engines?: Engine[]): Promise<unknown[]>;
export declare function freePort(): Promise<number>;
export declare function startXvfb(): Promise<{ display: string; child: import('node:child_process').ChildProcess }>;
export declare function startWebKitDriver(env: NodeJS.ProcessEnv): Promise<{ port: number; child: import('node:child_process').ChildProcess }>;
export declare function webkitCapabilities(): Record<string, unknown>;
export declare function browserSummaryReporter(): unknown;
export declare function firefoxLaunchOptions(): Record<string, unknown>;
/** A puppeteer-core Browser (Firefox over WebDriver BiDi). */
export declare function launchFirefox(): Promise<import('puppeteer-core').Browser>;
/** A webdriverio session in WebKitGTK's MiniBrowser, with its WebKitWebDriver (and Xvfb). */
export declare function launchWebKit(): Promise<{ browser: WebKitBrowser; close(): Promise<void> }>;
/** The few webdriverio calls the scripts use (webdriverio is @web/test-runner-webdriver's dependency). */
export interface WebKitBrowser {
  url(url: string): Promise<unknown>;
  execute<T>(script: string | ((...args: any[]) => T | Promise<T>), ...args: unknown[]): Promise<T>;
  setTimeout(timeouts: { script?: number; pageLoad?: number; implicit?: number }): Promise<void>;
  saveScreenshot(path: string): Promise<unknown>;
  getUrl(): Promise<string>;
  deleteSession(): Promise<void>;
}
export declare function webdriverio(): Promise<{ remote(options: Record<string, unknown>): Promise<WebKitBrowser> }>;
