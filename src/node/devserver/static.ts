/**
 * Static files for the demo: the page (`demo/`) and the browser bundle (`dist/browser/`, under
 * `/sealbox/`), with a strict Content-Security-Policy: scripts and styles from this origin only,
 * no inline script, no eval, nothing from elsewhere.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The package root (this file is src/node/devserver/ or dist/node/devserver/). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEMO_DIR = join(PACKAGE_ROOT, 'demo');
export const BUNDLE_DIR = join(PACKAGE_ROOT, 'dist', 'browser');

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  // Downloads through the Service Worker are fetched by a hidden same-origin frame.
  "frame-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** The CSP with more origins the page may connect to (the S3 endpoint in the demo's S3 mode). */
export function cspWith(connect: readonly string[]): string {
  return connect.length === 0 ? CSP : CSP.replace("connect-src 'self'", `connect-src 'self' ${connect.join(' ')}`);
}

/** Serves `relPath` from `root`, or undefined when there is no such file (or it escapes root). */
export async function serveFile(root: string, relPath: string, request: Request, csp = CSP): Promise<Response | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const path = normalize(join(root, decoded));
  if (path !== root && !path.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
  let st;
  try {
    st = await stat(path);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers = new Headers({
    ...SECURITY_HEADERS,
    'content-security-policy': csp,
    'content-type': TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    etag,
  });
  if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
  headers.set('content-length', String(st.size));
  if (request.method === 'HEAD') return new Response(null, { status: 200, headers });
  return new Response(Readable.toWeb(createReadStream(path)) as unknown as ReadableStream, { status: 200, headers });
}
