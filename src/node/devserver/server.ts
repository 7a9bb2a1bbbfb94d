/**
 * The dev server (`sealbox start`): one Node process with
 *
 *   /               the demo page (demo/), strict CSP          /sealbox/*  the browser bundle
 *   POST /kms       the proxy (JWT auth, policy, rate limit, audit) in front of the local KMS,
 *                   which runs in-process (never listening on a port of its own)
 *   /blobs…         the ciphertext store (PUT/GET/HEAD with Range, list, multi-part uploads)
 *   /api/…          demo users and tokens, key info and rotation, the audit trail and its check
 *   /api/uploads…   S3-style multipart uploads (the page's `s3MultipartTarget`), into the blob
 *                   store or, with `s3`, into an S3 bucket through presigned URLs (./multipart.ts)
 *
 * Everything lives under the data dir (default ./.sealbox): kms/ (keys, encrypted at rest),
 * blobs/, proxy-audit.log, jwt.secret. It survives restarts.
 */
import { createServer, type Server } from 'node:http';
import { listen, urlHost } from '../http.js';
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { DEFAULT_ACCOUNT, createLocalKms, type LocalKms } from '../kms/index.js';
import { createProxy } from '../../edge/proxy/index.js';
import { DevAuditLog } from './audit.js';
import { DEFAULT_LIMITS, RECIPIENT_KMS } from '../../sdk/format/constants.js';
import { parseEnvelopeHeader } from '../../sdk/format/header.js';
import { parseBlob } from '../kms/blob.js';
import { BlobError, BlobStore, ID_RE, newId, parseRange, type BlobMeta } from './blobs.js';
import { HttpError, json, problem, readBytes, readJson } from './http.js';
import { AwsError } from '../../edge/aws/errors.js';
import { SealboxError } from '../../sdk/errors.js';
import { KmsAdmin, OFFLINE_ALIAS, demoSeed, tenantAlias } from './kms-setup.js';
import { demoProxyPolicy } from './policy.js';
import { matchRoute, type Route } from './router.js';
import { type DemoMultipart, checkBucket, embeddedMultipart, ensureBucketCors, s3Multipart } from './multipart.js';
import type { UploadedPart } from '../../sdk/storage/target.js';
import { BUNDLE_DIR, DEMO_DIR, cspWith, serveFile } from './static.js';
import { AUDIENCE, DEMO_USERS, ISSUER, TENANTS, TokenIssuer, loadSecret, type Claims } from './tokens.js';

export interface DevServerOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default ./.sealbox */
  dataDir?: string;
  /** Where the browser bundle is served from (default dist/browser of this package). */
  bundleDir?: string;
  /** Where the demo page is served from (default demo/ of this package). */
  demoDir?: string;
  /** Part size the page uses for multi-part uploads (bytes). Default 8 MiB. */
  partSize?: number;
  /**
   * Store uploads in this S3 bucket instead of the embedded store: the page uploads parts to
   * presigned URLs and reads through presigned ranged GETs (credentials from the AWS variables).
   */
  s3?: { bucket: string; endpoint?: string; region?: string; forcePathStyle?: boolean; prefix?: string; /** Add the page's CORS rule to the bucket at start (default true). */ cors?: boolean };
  log?: (message: string) => void;
}

export interface DevServer {
  url: string;
  port: number;
  host: string;
  dataDir: string;
  close(): Promise<void>;
}

const DEFAULT_PART = 8 * 1024 * 1024;
const MAX_HEADER_BYTES = 1024 * 1024;

function blobHeaders(info: { size: number; etag: string }): Record<string, string> {
  return {
    'content-type': 'application/vnd.sealbox.envelope',
    'accept-ranges': 'bytes',
    etag: info.etag,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
}

function metaFrom(request: Request, claims: Claims): BlobMeta {
  const clean = (v: string | null, max: number) => (v ? v.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, max) : undefined);
  let name: string | undefined;
  try {
    name = clean(decodeURIComponent(request.headers.get('x-sealbox-name') ?? ''), 255);
  } catch {
    name = undefined;
  }
  const meta: BlobMeta = { uploadedBy: claims.sub, tenant: claims.tenant };
  if (name) meta.name = name;
  const type = clean(request.headers.get('x-sealbox-type'), 100);
  if (type) meta.type = type;
  return meta;
}

/** The origin presigned URLs point at: the endpoint's, or AWS S3's (virtual-hosted and path-style). */
function s3Origin(s3: NonNullable<DevServerOptions['s3']>): string {
  if (s3.endpoint) return new URL(s3.endpoint).origin;
  return 'https://*.amazonaws.com';
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const log = options.log ?? ((m: string) => console.log(m));
  const dataDir = resolve(options.dataDir ?? '.sealbox');
  const partSize = options.partSize ?? DEFAULT_PART;
  const bundleDir = resolve(options.bundleDir ?? BUNDLE_DIR);
  const demoDir = resolve(options.demoDir ?? DEMO_DIR);

  const closers: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    closers.length = 0;
  };

  // Listen first, so that a port in use fails fast, before anything is written to the data dir;
  // requests wait until the rest is up.
  const host = options.host ?? '127.0.0.1';
  let ready!: (h: (request: Request) => Promise<Response>) => void;
  const handler = new Promise<(request: Request) => Promise<Response>>((r) => (ready = r));
  const listener = getRequestListener(async (request: Request) => (await handler)(request));
  // No request timeout: a multi-GB streamed upload may take a while.
  const server: Server = createServer({ requestTimeout: 0, keepAliveTimeout: 30_000 }, listener);
  await listen(server, options.port ?? 8080, host);
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // The local KMS, in-process, with the demo keys (the seed is idempotent: existing keys keep
    // their material, so objects encrypted before a restart still decrypt).
    const account = process.env.SEALBOX_KMS_ACCOUNT ?? DEFAULT_ACCOUNT;
    const seeded: LocalKms = await createLocalKms({ dataDir: join(dataDir, 'kms'), account, log: (m) => log(m), seed: demoSeed(account) });
    closers.push(() => seeded.close());
    const admin = new KmsAdmin(seeded);

    const secret = await loadSecret(dataDir);
    const tokens = new TokenIssuer(secret);
    const blobs = await BlobStore.open(join(dataDir, 'blobs'));
    closers.push(() => blobs.close());
    const embedded = embeddedMultipart(blobs, secret);
    let multipart: DemoMultipart = embedded;
    if (options.s3) {
      const { s3Storage } = await import('../storage/s3.js');
      const { bucket, endpoint, region, forcePathStyle } = options.s3;
      const storage = s3Storage({ bucket, ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(forcePathStyle === undefined ? {} : { forcePathStyle }) });
      await checkBucket(storage).catch((e: unknown) => {
        storage.close();
        throw e;
      });
      if (options.s3.cors !== false) {
        const port = (server.address() as AddressInfo).port;
        const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
        if (!['127.0.0.1', '0.0.0.0', '::1', 'localhost'].includes(host)) origins.push(`http://${urlHost(host)}:${port}`);
        const warning = await ensureBucketCors(storage, origins);
        if (warning) log(`warning: ${warning}`);
      }
      multipart = s3Multipart(
        storage,
        { ...(options.s3.prefix ? { prefix: options.s3.prefix } : {}), metaFile: join(dataDir, 's3-objects.json') },
      );
    }
    closers.push(() => multipart.close());
    // In S3 mode the page PUTs parts to and reads ranges from the S3 endpoint: let the CSP allow it.
    const pageCsp = cspWith(options.s3 ? [s3Origin(options.s3)] : []);
    if (multipart !== embedded) closers.push(() => embedded.close());
    const audit = await DevAuditLog.open(join(dataDir, 'proxy-audit.log'));
    closers.push(() => audit.close());

    const keys: Record<string, { alias: string; arn: string }> = {};
    for (const t of TENANTS) keys[t] = { alias: tenantAlias(t), arn: (await admin.describe(tenantAlias(t))).Arn };
    const offline = await admin.publicKey(OFFLINE_ALIAS);

    const proxy = createProxy({
      upstream: {
        endpoint: `https://kms.${seeded.region}.amazonaws.com`,
        region: seeded.region,
        credentials: seeded.credentials,
        fetch: ((input: RequestInfo | URL, init?: RequestInit) => seeded.fetch(new Request(input, init))) as typeof fetch,
      },
      auth: { jwt: { secret, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] } },
      policy: demoProxyPolicy(),
      rateLimit: { capacity: 200, refillPerSecond: 50 },
      audit: audit.sink(),
    });

    const sse = new Set<ReadableStreamDefaultController<Uint8Array>>();
    closers.push(async () => {
      for (const c of sse) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      sse.clear();
    });

    /** An existing object may be replaced (or its header rewritten) only by its own tenant's uploaders. */
    const requireOwnTenant = async (id: string, claims: Claims): Promise<void> => {
      const existing = await blobs.stat(id);
      if (existing?.tenant !== undefined && existing.tenant !== claims.tenant) {
        throw new HttpError(403, `object ${id} belongs to ${existing.tenant}; ${claims.sub} (${claims.tenant}) may not replace it`);
      }
    };

    const requireUser = async (request: Request, role?: 'uploader' | 'reader'): Promise<Claims> => {
      const claims = await tokens.verify(request);
      if (!claims) throw new HttpError(401, 'sign in first (a demo token from POST /api/token)');
      if (role && claims.role !== role) throw new HttpError(403, `only a${role === 'uploader' ? 'n uploader' : ' reader'} may do this; ${claims.sub} is a ${claims.role}`);
      return claims;
    };

    const config = {
      tenants: TENANTS,
      users: DEMO_USERS,
      keys,
      offline: { alias: OFFLINE_ALIAS, keyArn: offline.keyArn, publicKey: offline.spkiBase64 },
      proxy: '/kms',
      partSize,
      region: seeded.region,
      store: multipart.kind,
    };

    const encoder = new TextEncoder();

    /**
     * Which version of its KMS key each `kms` recipient is wrapped under (read from the local
     * KMS's ciphertext format, so the page can show a rewrap moving to a rotated key's newest
     * version). Demo-only insight: with AWS KMS the ciphertext is opaque.
     */
    async function keyVersions(id: string): Promise<Array<{ keyId: string; version: number }>> {
      try {
        const parsed = parseEnvelopeHeader(await blobs.header(id), DEFAULT_LIMITS);
        return parsed.recipients
          .filter((r) => r.type === RECIPIENT_KMS)
          .map((r) => ({ keyId: r.keyId, version: parseBlob(r.wrappedKey)?.materialVersion ?? 0 }))
          .filter((v) => v.version > 0);
      } catch {
        return [];
      }
    }

    // The routes, in the order they are tried; a path none of them names is a static file.
    const routes: Route[] = [
      // ── the proxy ──
      { path: ['/kms', '/kms/'], handle: (request) => proxy.fetch(request) },

      // ── api ──
      { method: 'GET', path: '/api/config', handle: () => json(config) },
      {
        method: 'POST',
        path: '/api/token',
        handle: async (request) => {
          const body = await readJson(request);
          const user = DEMO_USERS.find((u) => u.sub === body.user);
          if (!user) return problem(400, `unknown demo user; one of ${DEMO_USERS.map((u) => u.sub).join(', ')}`);
          return json({ ...(await tokens.issue(user)), user });
        },
      },
      {
        method: 'POST',
        path: '/api/upload-probe',
        handle: async (request) => {
          const bytes = await readBytes(request, 1024);
          return json({ bytes: bytes.length });
        },
      },
      {
        method: 'GET',
        path: '/api/keys',
        handle: async () => {
          const out: Record<string, unknown> = {};
          for (const t of TENANTS) {
            const meta = await admin.describe(keys[t]!.arn);
            const rotations = await admin.rotations(keys[t]!.arn);
            out[t] = { ...keys[t], created: meta.CreationDate, rotations: rotations.length, lastRotation: rotations.at(-1)?.RotationDate ?? null };
          }
          return json({ keys: out, offline: config.offline });
        },
      },
      {
        method: 'POST',
        path: '/api/keys/rotate',
        handle: async (request) => {
          const claims = await requireUser(request, 'uploader');
          const key = keys[claims.tenant];
          if (!key) return problem(403, 'no key for your tenant');
          await admin.rotate(key.arn);
          const rotations = await admin.rotations(key.arn);
          log(`rotated ${key.alias} for ${claims.sub} (${rotations.length} rotation(s))`);
          return json({ tenant: claims.tenant, ...key, rotations: rotations.length, lastRotation: rotations.at(-1)?.RotationDate ?? null });
        },
      },
      {
        method: 'GET',
        path: '/api/audit',
        handle: async (_request, url) => {
          const after = Number(url.searchParams.get('after') ?? 0) || 0;
          return json({ entries: audit.recent(after), verify: await audit.verify() });
        },
      },
      { method: 'GET', path: '/api/audit/verify', handle: async () => json(await audit.verify()) },
      {
        method: 'GET',
        path: '/api/audit/stream',
        handle: () => {
          let unsubscribe = () => {};
          let timer: NodeJS.Timeout | undefined;
          let ctl: ReadableStreamDefaultController<Uint8Array>;
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              ctl = controller;
              sse.add(controller);
              controller.enqueue(encoder.encode(`retry: 2000\n\n`));
              unsubscribe = audit.subscribe((entry) => {
                controller.enqueue(encoder.encode(`id: ${entry.seq}\nevent: audit\ndata: ${JSON.stringify(entry)}\n\n`));
              });
              timer = setInterval(() => {
                try {
                  controller.enqueue(encoder.encode(`: keep-alive\n\n`));
                } catch {
                  clearInterval(timer);
                }
              }, 15_000);
            },
            cancel() {
              unsubscribe();
              clearInterval(timer);
              sse.delete(ctl);
            },
          });
          return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' } });
        },
      },

      // ── blobs ──
      {
        path: ['/blobs', '/blobs/'],
        handle: async (request) => {
          if (request.method !== 'GET') return problem(405, 'GET lists objects; PUT /blobs/<id> or POST /uploads stores one');
          if (multipart.list) return json({ objects: await multipart.list(), store: multipart.kind });
          const objects = await blobs.list();
          return json({ objects: await Promise.all(objects.map(async (o) => ({ ...o, keyVersions: await keyVersions(o.id) }))) });
        },
      },
      {
        path: /^\/blobs\/([^/]+)$/,
        handle: async (request, _url, params) => {
          const method = request.method;
          const id = params[0]!;
          if (!ID_RE.test(id)) return problem(400, 'bad object id');
          if (method === 'PUT') {
            const claims = await requireUser(request, 'uploader');
            await requireOwnTenant(id, claims);
            const info = await blobs.put(id, request.body, metaFrom(request, claims));
            return json(info, 201);
          }
          if (method !== 'GET' && method !== 'HEAD') return problem(405, 'GET, HEAD or PUT');
          const info = await blobs.stat(id);
          if (!info) return problem(404, 'no such object');
          const headers = blobHeaders(info);
          const range = parseRange(request.headers.get('range'), info.size);
          const ifRange = request.headers.get('if-range');
          const useRange = range !== undefined && (ifRange === null || ifRange === info.etag);
          if (useRange && range !== undefined) {
            if (range === 'unsatisfiable') return new Response(null, { status: 416, headers: { ...headers, 'content-range': `bytes */${info.size}` } });
            const length = range.end - range.start + 1;
            const h = { ...headers, 'content-range': `bytes ${range.start}-${range.end}/${info.size}`, 'content-length': String(length) };
            if (method === 'HEAD') return new Response(null, { status: 206, headers: h });
            return new Response(blobs.read(id, range.start, range.end), { status: 206, headers: h });
          }
          const h = { ...headers, 'content-length': String(info.size) };
          if (method === 'HEAD' || info.size === 0) return new Response(null, { status: 200, headers: h });
          return new Response(blobs.read(id, 0, info.size - 1), { status: 200, headers: h });
        },
      },
      {
        path: /^\/blobs\/([^/]+)\/(header|payload-digest)$/,
        handle: async (request, _url, params) => {
          const method = request.method;
          const [id, what] = params as [string, string];
          if (what === 'payload-digest' && method === 'GET') return json(await blobs.payloadDigest(id));
          if (what === 'header' && method === 'PUT') {
            const claims = await requireUser(request, 'uploader');
            await requireOwnTenant(id, claims);
            const head = await readBytes(request, MAX_HEADER_BYTES);
            const info = await blobs.replaceHeader(id, head, claims.sub);
            return json(info);
          }
          return problem(405, 'method not allowed');
        },
      },
      {
        method: 'POST',
        path: '/uploads',
        handle: async (request) => {
          const claims = await requireUser(request, 'uploader');
          const body = await readJson(request);
          const id = typeof body.id === 'string' ? body.id : newId();
          if (!ID_RE.test(id)) return problem(400, 'bad object id');
          await requireOwnTenant(id, claims);
          const meta: BlobMeta = { uploadedBy: claims.sub, tenant: claims.tenant };
          if (typeof body.name === 'string' && body.name) meta.name = body.name.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255);
          if (typeof body.type === 'string' && body.type) meta.type = body.type.slice(0, 100);
          const uploadId = await blobs.createUpload(id, meta, claims.sub);
          return json({ uploadId, id, partSize }, 201);
        },
      },
      {
        path: /^\/uploads\/([^/]+)(?:\/parts\/(\d+)|\/(complete))?$/,
        handle: async (request, _url, params) => {
          const method = request.method;
          const claims = await requireUser(request, 'uploader');
          const [uploadId, part, complete] = params as [string, string | undefined, string | undefined];
          if (part !== undefined && method === 'PUT') return json(await blobs.writePart(uploadId, claims.sub, Number(part), request.body));
          if (complete && method === 'POST') return json(await blobs.completeUpload(uploadId, claims.sub), 201);
          if (!part && !complete && method === 'DELETE') {
            await blobs.abortUpload(uploadId, claims.sub);
            return new Response(null, { status: 204 });
          }
          return problem(405, 'method not allowed');
        },
      },
    ];

    // ── S3-style multipart uploads: one shape for the embedded store and S3 ──
    const partsOf = (value: unknown): UploadedPart[] => {
      if (!Array.isArray(value)) throw new HttpError(400, 'parts: a list of { partNumber, etag, size }');
      return value.map((p: { partNumber?: unknown; etag?: unknown; size?: unknown }) => {
        if (!Number.isInteger(p?.partNumber) || typeof p.etag !== 'string') throw new HttpError(400, 'parts: a list of { partNumber, etag, size }');
        return { partNumber: p.partNumber as number, etag: p.etag, size: Number(p.size) || 0 };
      });
    };
    routes.push(
      {
        method: 'POST',
        path: '/api/uploads',
        handle: async (request) => {
          const claims = await requireUser(request, 'uploader');
          const body = await readJson(request, 256 * 1024);
          const id = typeof body.id === 'string' ? body.id : newId();
          if (!ID_RE.test(id)) return problem(400, 'bad object id');
          await requireOwnTenant(id, claims);
          if (typeof body.head !== 'string') return problem(400, 'head: the upload head, base64');
          const head = new Uint8Array(Buffer.from(body.head, 'base64'));
          const meta: BlobMeta = { uploadedBy: claims.sub, tenant: claims.tenant };
          if (typeof body.name === 'string' && body.name) meta.name = body.name.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255);
          if (typeof body.type === 'string' && body.type) meta.type = body.type.slice(0, 100);
          const uploadId = await multipart.create(id, meta, claims.sub, head);
          return json({ uploadId, id, store: multipart.kind }, 201);
        },
      },
      {
        path: /^\/api\/uploads\/([^/]+)(?:\/(part-url|parts|head|complete))?$/,
        handle: async (request, _url, params) => {
          const method = request.method;
          const claims = await requireUser(request, 'uploader');
          const [uploadId, what] = params as [string, string | undefined];
          const upload = multipart.get(uploadId, claims.sub);
          if (what === 'part-url' && method === 'POST') {
            const partNumber = Number((await readJson(request)).partNumber);
            if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) return problem(400, 'partNumber: 1 … 10000');
            return json(await multipart.partUrl(upload, partNumber));
          }
          if (what === 'parts' && method === 'GET') return json({ parts: await multipart.listParts(upload) });
          if (what === 'head' && method === 'GET') return json({ head: Buffer.from(upload.head).toString('base64') });
          if (what === 'complete' && method === 'POST') {
            const parts = partsOf((await readJson(request, 1024 * 1024)).parts);
            return json(await multipart.complete(upload, parts), 201);
          }
          if (what === undefined && method === 'DELETE') {
            await multipart.abort(upload);
            return new Response(null, { status: 204 });
          }
          return problem(405, 'method not allowed');
        },
      },
      {
        // A part URL of the embedded store ("presigned": no token, an HMAC in the query).
        method: 'PUT',
        path: /^\/api\/parts\/([^/]+)\/(\d+)$/,
        handle: async (request, url, params) => {
          const [uploadId, n] = params as [string, string];
          const part = await embedded.putPart(uploadId, Number(n), url.searchParams.get('expires'), url.searchParams.get('sig'), request.body);
          return json(part, 200, { etag: part.etag });
        },
      },
      {
        // Where the page reads an object with ranged GETs (a presigned GET URL in S3 mode).
        method: 'GET',
        path: /^\/api\/objects\/([^/]+)\/url$/,
        handle: async (_request, _url, params) => {
          const id = params[0]!;
          if (!ID_RE.test(id)) return problem(400, 'bad object id');
          return json(await multipart.readUrl(id));
        },
      },
    );

    async function route(request: Request): Promise<Response> {
      const url = new URL(request.url);
      const path = url.pathname;
      const method = request.method;
      const found = matchRoute(routes, method, path);
      if (found) return found.route.handle(request, url, found.params);

      // ── static ──
      if (method === 'GET' || method === 'HEAD') {
        if (path.startsWith('/sealbox/')) {
          const r = await serveFile(bundleDir, path.slice('/sealbox/'.length), request);
          if (r) return r;
          if (path === '/sealbox/sealbox.min.js') return problem(503, 'dist/browser/sealbox.min.js is missing: run `npm run build`');
          return problem(404, 'not found');
        }
        const r = await serveFile(demoDir, path === '/' ? 'index.html' : path.slice(1), request, pageCsp);
        if (r) return r;
      }
      return problem(404, 'not found');
    }

    async function handle(request: Request): Promise<Response> {
      try {
        return await route(request);
      } catch (e) {
        if (e instanceof HttpError || e instanceof BlobError) return problem(e.status, e.message);
        // S3 refusing (S3 mode): its status when it is the client's fault, else a bad gateway.
        if (e instanceof SealboxError && e.code === 'ERR_STORAGE') return problem(e.status !== undefined && e.status < 500 ? e.status : 502, e.message);
        if (e instanceof AwsError) return problem(e.status >= 500 ? 502 : e.status, `${e.type}: ${e.message}`, { type: e.type });
        log(`error: ${request.method} ${new URL(request.url).pathname}: ${(e as Error).stack ?? e}`);
        return problem(500, 'internal error (see the server log)');
      }
    }

    ready(handle);
    const srv = server;
    const port = (srv.address() as AddressInfo).port;
    // 0.0.0.0 listens everywhere; the URL to open names this machine.
    const shownHost = host === '0.0.0.0' ? '127.0.0.1' : urlHost(host);
    let closing: Promise<void> | undefined;
    return {
      url: `http://${shownHost}:${port}/`,
      port,
      host,
      dataDir,
      close() {
        closing ??= (async () => {
          await new Promise<void>((r) => {
            srv.close(() => r());
            srv.closeIdleConnections();
            setTimeout(() => srv.closeAllConnections(), 2000).unref();
            for (const c of sse) {
              try {
                c.close();
              } catch {
                // closed already
              }
            }
          });
          await cleanup();
        })();
        return closing;
      },
    };
  } catch (e) {
    server.close();
    server.closeAllConnections();
    await cleanup();
    throw e;
  }
}
