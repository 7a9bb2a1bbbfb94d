// Browser host (Chromium, Firefox, WebKit): a page module that exposes `handle` for the driver's
// evaluate (Playwright, puppeteer-core, WebDriver); the page's `?runtime=` names the engine. Fixtures are
// fetched from the test server, which serves the repository's test/ folder.
import { type HostRequest, handle } from '../protocol.js';

(globalThis as { sealboxHost?: unknown }).sealboxHost = {
  handle: (request: HostRequest) =>
    handle(request, {
      runtime: new URLSearchParams(location.search).get('runtime') ?? 'chromium',
      async readText(path) {
        const res = await fetch(`/${path}`);
        if (!res.ok) throw new Error(`fixture ${path}: HTTP ${res.status}`);
        return res.text();
      },
    }),
};
