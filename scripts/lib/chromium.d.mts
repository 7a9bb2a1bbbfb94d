// Types for chromium.mjs (plain JS, so scripts/test.mjs and web-test-runner's config run without tsx).
export declare const CHROMIUM_ARGS: string[];
export declare function chromiumPath(): string;
export declare function ensureChromium(): string;
