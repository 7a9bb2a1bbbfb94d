/**
 * The Service Worker side of `sealbox/sw`: answers `GET`/`HEAD` (and `Range`) for the object URLs a
 * page registered, reading the ciphertext with HTTP range requests and decrypting only the chunks
 * that cover what was asked (the ranged read of `decryptRange`), so a `<video>` seeks and a large
 * download streams without the page holding the plaintext.
 *
 * Keys live in the worker's memory only. A browser may stop an idle Service Worker at any time;
 * the next fetch starts a fresh one that knows no objects and answers 404 (`x-sealbox-error:
 * ERR_NOT_FOUND`) under its prefixes: the page then registers the object again.
 */
import { SealboxError, isSealboxError } from '../errors.js';
import { PREFIX_BYTES, resolveLimits } from '../format/constants.js';
import { parseEnvelopeHeader, readPrefix } from '../format/header.js';
import { startDecryption } from '../envelope/session.js';
import type { Keyring } from '../keyring/types.js';
import { COBBLESTONE_HEADER_BYTES, type MessageKeys, layoutFromCiphertextLength } from '../payload/cobblestone.js';
import { readCobblestoneRange } from '../stream/range.js';
import type { Fetch } from '../storage/http.js';
import { type HttpRangeSource, httpRangeSource } from '../storage/http-range.js';
import { type Ack, DEFAULT_PREFIX, type RegisterMessage } from './protocol.js';

/** What the worker needs of its global scope (`self` in a Service Worker). */
export interface ServiceWorkerScopeLike {
  location: { origin: string };
  addEventListener(type: string, listener: (event: any) => void): void;
  skipWaiting?(): Promise<void>;
  clients?: { claim(): Promise<void> };
}

/**
 * Options of `installSealboxServiceWorker`.
 *
 * @example
 * ```ts
 * installSealboxServiceWorker(self, { prefixes: ['/media/'] });
 * ```
 */
export interface SealboxServiceWorkerOptions {
  /**
   * Path prefixes answered even when no object is registered under them (404 then, so the page
   * knows to register again after a restart). Default `['/sealbox/o/']`; prefixes that pages
   * register under are added while the worker runs.
   */
  prefixes?: string[];
  /** Call `skipWaiting()` at install and `clients.claim()` at activate (default true). */
  claim?: boolean;
  /** The fetch used for the ciphertext (default the worker's own). */
  fetch?: Fetch;
  /** Ciphertext read per request, in chunks: starts at 4 and doubles up to this (default 256, 4 MiB at 16 KiB). */
  maxPieceChunks?: number;
}

/** What `installSealboxServiceWorker` returns: the handler, for apps that route fetches themselves. */
export interface SealboxServiceWorker {
  /** The answer for a request, or undefined when it is not one of Sealbox's URLs. */
  handle(request: Request): Promise<Response> | undefined;
  /** Handles a message's data; `ack` receives the answer. */
  message(data: unknown): Promise<Ack>;
  /** The registered paths. */
  paths(): string[];
}

interface Opened {
  source: HttpRangeSource;
  keys: MessageKeys;
  headerLength: number;
  chunkSize: number;
  plaintextLength: number;
}

interface Entry {
  object: RegisterMessage;
  opened?: Promise<Opened>;
}

const NO_STORE = { 'cache-control': 'no-store' };

function plain(status: number, text: string, code?: string, extra: Record<string, string> = {}): Response {
  return new Response(text, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...NO_STORE, ...(code ? { 'x-sealbox-error': code } : {}), ...extra },
  });
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; undefined for anything else (then the whole object is sent). */
export function parseRange(header: string | null, length: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === null) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || length === 0) return 'unsatisfiable';
    return { start: Math.max(0, length - suffix), end: length };
  }
  const start = Number(match[1]);
  if (match[2] !== '' && Number(match[2]) < start) return undefined;
  if (start >= length) return 'unsatisfiable';
  const last = match[2] === '' ? length - 1 : Number(match[2]);
  return { start, end: Math.min(last + 1, length) };
}

/** `attachment; filename="…"; filename*=UTF-8''…` (an ASCII fallback and the exact name). */
export function contentDisposition(filename: string | undefined): string {
  if (!filename) return 'attachment';
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function validate(data: RegisterMessage): void {
  const fail = (why: string) => {
    throw new SealboxError('ERR_INVALID_ARGUMENT', why);
  };
  if (typeof data.path !== 'string' || !data.path.startsWith('/')) fail('path must start with /');
  if (typeof data.url !== 'string' || !/^https?:\/\//i.test(data.url)) fail('url must be an absolute http(s) URL');
  const key = data.key as CryptoKey | undefined;
  if (typeof CryptoKey === 'undefined' || !(key instanceof CryptoKey)) fail('key must be a CryptoKey');
  if (key!.extractable) fail('key must be non-extractable');
  const algorithm = key!.algorithm as Partial<HmacKeyAlgorithm>;
  if (algorithm.name !== 'HMAC' || algorithm.hash?.name !== 'SHA-512') fail('key must be an HMAC SHA-512 CryptoKey of the data key');
  if (data.headers !== undefined && (typeof data.headers !== 'object' || data.headers === null)) fail('headers must be an object');
  if (data.size !== undefined && (!Number.isSafeInteger(data.size) || data.size < 0)) fail('size must be a non-negative integer');
}

/**
 * Installs the fetch and message handlers on a Service Worker's global scope. The prebuilt
 * `dist/browser/sealbox-sw.js` calls it on `self`; an app with its own Service Worker calls it
 * there (before or after its own fetch handler: it answers only its prefixes).
 *
 * @example
 * ```ts
 * // sw.ts, bundled by the app
 * import { installSealboxServiceWorker } from 'sealbox/sw';
 * installSealboxServiceWorker(self as unknown as ServiceWorkerGlobalScope);
 * ```
 */
export function installSealboxServiceWorker(scope: ServiceWorkerScopeLike, options: SealboxServiceWorkerOptions = {}): SealboxServiceWorker {
  const prefixes = new Set(options.prefixes ?? [DEFAULT_PREFIX]);
  const objects = new Map<string, Entry>();
  const revoked = new Set<string>();
  const maxPieceChunks = options.maxPieceChunks ?? 256;
  const fetchImpl: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const limits = resolveLimits(undefined);

  async function open(object: RegisterMessage): Promise<Opened> {
    const source = httpRangeSource(object.url, { ...(object.headers ? { headers: object.headers } : {}), fetch: fetchImpl });
    const prefix = await source.read(0, PREFIX_BYTES);
    if (prefix.length < PREFIX_BYTES) throw new SealboxError('ERR_TRUNCATED', 'the object ends inside the envelope prefix');
    const headerLength = PREFIX_BYTES + readPrefix(prefix, limits);
    const rest = await source.read(PREFIX_BYTES, headerLength + COBBLESTONE_HEADER_BYTES);
    if (rest.length < headerLength + COBBLESTONE_HEADER_BYTES - PREFIX_BYTES) throw new SealboxError('ERR_TRUNCATED', 'the object ends inside its header');
    const head = new Uint8Array(PREFIX_BYTES + rest.length);
    head.set(prefix, 0);
    head.set(rest, PREFIX_BYTES);
    const parsed = parseEnvelopeHeader(head.subarray(0, headerLength), limits);
    // The key is the page's, already unwrapped: this keyring only hands it over. The commitment check follows.
    const keyring: Keyring = {
      wrapDataKey: () => Promise.reject(new SealboxError('ERR_UNSUPPORTED', 'the Service Worker only decrypts')),
      unwrapDataKey: async () => object.key,
    };
    const keys = await startDecryption(parsed, head.subarray(headerLength), { keyring, ...(object.expectContext ? { expectContext: object.expectContext } : {}) });
    const size = source.size ?? object.size;
    if (size === undefined) throw new SealboxError('ERR_STORAGE', 'the ciphertext store did not say the object size (Content-Range)');
    if (object.size !== undefined && object.size !== size) throw new SealboxError('ERR_SOURCE_CHANGED', `the object is ${size} bytes, registered as ${object.size}`);
    const chunkSize = parsed.protected.chunkSize;
    const { plaintextLength } = layoutFromCiphertextLength(size - headerLength, chunkSize);
    return { source, keys, headerLength, chunkSize, plaintextLength };
  }

  function opened(entry: Entry): Promise<Opened> {
    if (!entry.opened) {
      entry.opened = open(entry.object);
      entry.opened.catch(() => forget(entry));
    }
    return entry.opened;
  }

  /** After a failure the next request starts over (new ETag pin, header read again). */
  function forget(entry: Entry): void {
    entry.opened = undefined;
  }

  function body(entry: Entry, o: Opened, start: number, end: number, readAhead: number, maxChunks: number): ReadableStream<Uint8Array> {
    const reader = {
      read: (s: number, e: number) => o.source.read(o.headerLength + s, o.headerLength + e),
      size: o.source.size === undefined ? undefined : o.source.size - o.headerLength,
    };
    let position = start;
    let pieceChunks = 4;
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const to = Math.min(end, (Math.floor(position / o.chunkSize) + pieceChunks) * o.chunkSize);
          let bytes: Uint8Array;
          try {
            bytes = await readCobblestoneRange(reader, o.keys, o.chunkSize, position, to - position);
          } catch (error) {
            forget(entry);
            controller.error(error);
            return;
          }
          position = to;
          pieceChunks = Math.min(pieceChunks * 2, maxChunks);
          // Throws only when the reader has gone (cancelled): nothing to do then.
          controller.enqueue(bytes);
          if (position >= end) controller.close();
        },
      },
      { highWaterMark: readAhead, size: (chunk) => chunk.byteLength },
    );
  }

  async function answer(request: Request, path: string): Promise<Response> {
    if (revoked.has(path)) return plain(403, 'This object was revoked.\n', 'ERR_ACCESS_DENIED');
    const entry = objects.get(path);
    if (!entry) return plain(404, 'No such object: register it again (the Service Worker may have restarted).\n', 'ERR_NOT_FOUND');
    if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'GET or HEAD only.\n', undefined, { allow: 'GET, HEAD' });
    let o: Opened;
    try {
      o = await opened(entry);
    } catch (error) {
      const code = isSealboxError(error) ? error.code : 'ERR_STORAGE';
      return plain(502, `The object could not be opened: ${error instanceof Error ? error.message : String(error)}\n`, code);
    }
    const length = o.plaintextLength;
    const object = entry.object;
    const headers: Record<string, string> = {
      ...NO_STORE,
      'accept-ranges': 'bytes',
      'content-type': object.contentType || 'application/octet-stream',
      'x-content-type-options': 'nosniff',
    };
    const url = new URL(request.url);
    if (object.download || url.searchParams.get('download') === '1') headers['content-disposition'] = contentDisposition(object.filename);
    const range = parseRange(request.headers.get('range'), length);
    if (range === 'unsatisfiable') return plain(416, 'Range not satisfiable.\n', 'ERR_RANGE', { 'content-range': `bytes */${length}` });
    const start = range?.start ?? 0;
    const end = range?.end ?? length;
    headers['content-length'] = String(end - start);
    if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${length}`;
    const status = range ? 206 : 200;
    if (request.method === 'HEAD' || end === start) return new Response(null, { status, headers });
    // A download reads ahead a little, in pieces of up to maxPieceChunks; a range (a media element's,
    // often open-ended) reads only what the player takes, in pieces of at most 16 chunks.
    return new Response(range ? body(entry, o, start, end, 0, Math.min(16, maxPieceChunks)) : body(entry, o, start, end, 4 * 1024 * 1024, maxPieceChunks), { status, headers });
  }

  function pathOf(request: Request): string | undefined {
    const url = new URL(request.url);
    if (url.origin !== scope.location.origin) return undefined;
    if (objects.has(url.pathname) || revoked.has(url.pathname)) return url.pathname;
    for (const prefix of prefixes) if (url.pathname.startsWith(prefix)) return url.pathname;
    return undefined;
  }

  async function message(data: unknown): Promise<Ack> {
    try {
      const m = data as { type?: unknown; path?: unknown };
      if (m?.type === 'sealbox:ping') return { ok: true, paths: [...objects.keys()] };
      if (m?.type === 'sealbox:revoke') {
        if (typeof m.path !== 'string') throw new SealboxError('ERR_INVALID_ARGUMENT', 'revoke needs a path');
        objects.delete(m.path);
        revoked.add(m.path);
        return { ok: true };
      }
      if (m?.type === 'sealbox:register') {
        const object = data as RegisterMessage;
        validate(object);
        objects.set(object.path, { object });
        revoked.delete(object.path);
        prefixes.add(object.path.slice(0, object.path.lastIndexOf('/') + 1));
        return { ok: true };
      }
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'unknown message');
    } catch (error) {
      return { ok: false, code: isSealboxError(error) ? error.code : 'ERR_INVALID_ARGUMENT', message: error instanceof Error ? error.message : String(error) };
    }
  }

  scope.addEventListener('fetch', (event: { request: Request; respondWith(response: Promise<Response>): void }) => {
    const path = pathOf(event.request);
    if (path !== undefined) event.respondWith(answer(event.request, path));
  });
  scope.addEventListener('message', (event: { data: unknown; ports?: readonly MessagePort[]; waitUntil?(p: Promise<unknown>): void }) => {
    const m = event.data as { type?: unknown } | null;
    if (typeof m?.type !== 'string' || !m.type.startsWith('sealbox:')) return;
    const done = message(event.data).then((ack) => event.ports?.[0]?.postMessage(ack));
    event.waitUntil?.(done);
  });
  if (options.claim !== false) {
    scope.addEventListener('install', (event: { waitUntil(p: Promise<unknown>): void }) => {
      if (scope.skipWaiting) event.waitUntil(scope.skipWaiting());
    });
    scope.addEventListener('activate', (event: { waitUntil(p: Promise<unknown>): void }) => {
      if (scope.clients) event.waitUntil(scope.clients.claim());
    });
  }

  return {
    handle(request) {
      const path = pathOf(request);
      return path === undefined ? undefined : answer(request, path);
    },
    message,
    paths: () => [...objects.keys()],
  };
}
