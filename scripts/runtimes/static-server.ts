/** A tiny read-only HTTP server on 127.0.0.1 for the Chromium host and the CSP page. */
import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.pem': 'text/plain; charset=utf-8',
};

export interface Route {
  body: string;
  type?: string;
  headers?: Record<string, string>;
}

export interface StaticServer {
  origin: string;
  close(): Promise<void>;
}

/**
 * Serves `routes` (exact paths) and files under `root` whose path starts with one of `prefixes`
 * (e.g. "test/", "dist/"); `headers` go on every response.
 */
export async function serveStatic(options: {
  root: string;
  prefixes: string[];
  routes?: Record<string, Route>;
  headers?: Record<string, string>;
}): Promise<StaticServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const route = options.routes?.[path];
      const headers = { 'cache-control': 'no-store', ...options.headers };
      if (route) {
        res.writeHead(200, { ...headers, 'content-type': route.type ?? TYPES['.html']!, ...route.headers });
        res.end(route.body);
        return;
      }
      const relativePath = normalize(path).replace(/^\/+/, '');
      if (relativePath.includes('..') || !options.prefixes.some((p) => relativePath.startsWith(p))) {
        res.writeHead(404, headers).end('not found');
        return;
      }
      try {
        const body = await readFile(join(options.root, relativePath));
        res.writeHead(200, { ...headers, 'content-type': TYPES[extname(relativePath)] ?? 'application/octet-stream' });
        res.end(body);
      } catch {
        res.writeHead(404, headers).end('not found');
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
