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
