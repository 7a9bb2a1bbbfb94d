// Chromium host: a page module that exposes `handle` for Playwright's page.evaluate. Fixtures are
// fetched from the test server, which serves the repository's test/ folder.
import { type HostRequest, handle } from '../protocol.js';

(globalThis as { sealboxHost?: unknown }).sealboxHost = {
  handle: (request: HostRequest) =>
    handle(request, {
      runtime: 'chromium',
      async readText(path) {
        const res = await fetch(`/${path}`);
        if (!res.ok) throw new Error(`fixture ${path}: HTTP ${res.status}`);
        return res.text();
      },
    }),
};
