/**
 * Sealbox local KMS: a fetch handler speaking the AWS KMS JSON 1.1 protocol, backed by a
 * crash-safe directory store. `createLocalKms` mounts in-process (tests, the dev server);
 * `startLocalKmsServer` serves it over node:http.
 *
 * ```ts
 * const kms = await startLocalKmsServer({ dataDir: '.sealbox/kms', port: 4599 });
 * const client = new KMSClient({ endpoint: kms.url, region: kms.region, credentials: kms.credentials });
 * ```
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { CallTracker, NodeHeaders, UrlCache, closeGracefully, listen, trackResponses, urlHost } from '../http.js';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { JSON_CONTENT_TYPE } from '../../edge/aws/json-protocol.js';
import { AuditFile } from './audit-file.js';
import { GrantStore } from './grants.js';
import { KmsHandler } from './handler.js';
import { createKmsOps, createNodeMetrics, type KmsOpsOptions } from './ops.js';
import { RequestQuotas, type QuotaConfig } from './quotas.js';
import { loadPrincipalsFile, mergeCredentials, toCredentials } from './principals.js';
import { applySeed, loadSeed, type SeedFile } from './seed.js';
import { KeyStore, isValidAccount, isValidRegion, type StoredCredential } from './store.js';

export { AwsError, AwsError as KmsError } from '../../edge/aws/errors.js';
export { StoreError, type KeyRecord, type StoredCredential } from './store.js';
export { SeedError, type SeedFile, type SeedKey } from './seed.js';
export { AWS_CRYPTO_QUOTAS, AWS_MANAGEMENT_QUOTAS, type QuotaConfig } from './quotas.js';
export { PrincipalsError, VIA_SERVICE_HEADER, type PrincipalEntry } from './principals.js';
export { verifySigV4, SigV4Error, type SigV4Result, type VerifySigV4Options, type SigV4Crypto } from '../../edge/aws/sigv4.js';
export { encodeContext } from './blob.js';

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT = '111122223333';

export interface LocalKmsOptions {
  /** Directory of the store (created if missing). */
  dataDir: string;
  /** Time for key lifecycle (deletion windows, rotation, dates in responses, audit). Default `Date.now`. */
  clock?: () => number;
  /** Time for SigV4's 5-minute skew check. Default `Date.now` (independent of `clock`, so tests can move `clock` days ahead while the AWS SDK signs with real time). */
  requestClock?: () => number;
  maxSkewMs?: number;
  /** Default region (printed; keys live in the region of each request's credential scope). */
  region?: string;
  /** Default account: the account of credentials that do not name one. */
  account?: string;
  /** Accepted credentials. Default: env SEALBOX_KMS_ACCESS_KEY_ID / _SECRET_ACCESS_KEY, else generated once per data dir. */
  credentials?: StoredCredential[];
  /** 32-byte root key (or its base64). Default: env SEALBOX_ROOT_KEY, else `<dataDir>/root.key`. */
  rootKey?: Uint8Array | string;
  /** A seed file path or object, applied at start. */
  seed?: string | SeedFile;
  /** Audit file path, or false for none. Default `<dataDir>/audit.log`. */
  audit?: string | false;
  /** Environment to read (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Warnings (default console.warn). */
  log?: (message: string) => void;
  /**
   * Request quotas (see quotas.ts): false (the default; also unless env SEALBOX_KMS_QUOTAS=aws), true
   * for AWS's default rates, or rates to set (per second: symmetric, rsa, ecc, hmac, management.<Op>).
   */
  quotas?: boolean | QuotaConfig;
  /** Called with the seconds each audit record took to write and sync (the server's metrics). */
  onAuditWrite?: (seconds: number) => void;
}

export interface LocalKms {
  fetch(request: Request): Promise<Response>;
  /** Transport-neutral core used by the Node server (no Request/Response objects). */
  handle: KmsHandler['handle'];
  /** Waits for calls in progress (so each is answered and audited), then closes the store and audit file. */
  close(): Promise<void>;
  readonly region: string;
  readonly account: string;
  /** The first accepted credential (what a local client should use). */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly dataDir: string;
  readonly auditPath: string | undefined;
  /** Operations this KMS implements (`TrentService.<name>`). */
  readonly operations: string[];
  /** Every key's policy, with its ARN, aliases and tags (what `sealbox kms` checks at start). */
  keyPolicies(): Array<{ arn: string; aliases: string[]; tags: Record<string, string>; policy: string }>;
}

export async function createLocalKms(options: LocalKmsOptions): Promise<LocalKms> {
  const env = options.env ?? process.env;
  const region = options.region ?? env.SEALBOX_KMS_REGION ?? DEFAULT_REGION;
  const account = options.account ?? env.SEALBOX_KMS_ACCOUNT ?? DEFAULT_ACCOUNT;
  if (!isValidRegion(region)) throw new Error(`invalid region '${region}'`);
  if (!isValidAccount(account)) throw new Error(`invalid account '${account}' (12 digits)`);
  const clock = options.clock ?? Date.now;
  const storeOptions: Parameters<typeof KeyStore.open>[0] = { dataDir: options.dataDir, env, defaultAccount: account };
  if (options.rootKey !== undefined) storeOptions.rootKey = options.rootKey;
  if (options.log) storeOptions.log = options.log;
  const store = await KeyStore.open(storeOptions);
  if (options.credentials) {
    if (options.credentials.length === 0) throw new Error('credentials must not be empty');
    for (const c of options.credentials) {
      if (!c.accessKeyId || !c.secretAccessKey) throw new Error('each credential needs accessKeyId and secretAccessKey');
      if (c.account !== undefined && !isValidAccount(c.account)) throw new Error(`credential ${c.accessKeyId}: invalid account '${c.account}'`);
    }
    store.credentials.splice(0, store.credentials.length, ...options.credentials);
    store.credentialsSource = 'options';
  }
  // Principals: <dataDir>/principals.json, then the seed's "principals" (added to the credentials above).
  mergeCredentials(store.credentials, await loadPrincipalsFile(join(options.dataDir, 'principals.json')), 'principals.json');
  if (options.seed !== undefined) {
    const seed = await loadSeed(options.seed);
    if (seed.principals !== undefined) mergeCredentials(store.credentials, toCredentials(seed.principals, 'seed'), 'seed');
    await applySeed(store, seed, { region, account, now: clock() });
  }
  const auditPath = options.audit === false ? undefined : (options.audit ?? join(options.dataDir, 'audit.log'));
  const audit = auditPath === undefined ? undefined : await AuditFile.open(auditPath, (m) => (options.log ?? console.warn)(`sealbox kms: ${m}`));
  if (audit && options.onAuditWrite) {
    const observe = options.onAuditWrite;
    const record = audit.record.bind(audit);
    audit.record = (r) => {
      const t0 = performance.now();
      return record(r).finally(() => observe((performance.now() - t0) / 1000));
    };
  }
  const grants = await GrantStore.open(options.dataDir);
  const handlerOptions: ConstructorParameters<typeof KmsHandler>[0] = {
    store,
    grants,
    defaultAccount: account,
    defaultRegion: region,
    clock,
    requestClock: options.requestClock ?? Date.now,
    maxSkewMs: options.maxSkewMs ?? 5 * 60 * 1000,
  };
  if (audit) handlerOptions.audit = audit;
  const quotas = options.quotas ?? (env.SEALBOX_KMS_QUOTAS === 'aws' ? true : false);
  if (quotas !== false) handlerOptions.quotas = new RequestQuotas(quotas);
  const handler = new KmsHandler(handlerOptions);
  // Rotations (and deletions, expiries) that fell due while the KMS was stopped happen at start.
  await handler.upkeepAll();
  const first = store.credentials[0]!;
  // close() waits for calls in progress, so none of them meets a closed store or audit file.
  const calls = new CallTracker();
  let closed = false;
  return {
    fetch: (request) => calls.track(handler.fetch(request)),
    handle: (request, body) => calls.track(handler.handle(request, body)),
    async close() {
      if (closed) return;
      closed = true;
      await calls.settled();
      await store.exclusive(async () => undefined);
      await audit?.close();
    },
    region,
    account,
    credentials: { accessKeyId: first.accessKeyId, secretAccessKey: first.secretAccessKey },
    dataDir: options.dataDir,
    auditPath,
    operations: handler.operations,
    keyPolicies: () =>
      store
        .allKeys()
        .map((k) => ({
          arn: `arn:aws:kms:${k.region}:${k.account}:key/${k.keyId}`,
          aliases: [...store.aliases(k.region, k.account)].filter(([, a]) => a.target === k.keyId).map(([name]) => name).sort(),
          tags: Object.fromEntries(k.tags.map((t) => [t.TagKey, t.TagValue])),
          policy: k.policy,
        }))
        .sort((a, b) => (a.arn < b.arn ? -1 : a.arn > b.arn ? 1 : 0)),
  };
}

export interface LocalKmsServerOptions extends LocalKmsOptions, KmsOpsOptions {
  /** Default 4599; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * 'node' (default): a lean node:http listener calling the handler's core directly, which is about
   * twice as fast as building WHATWG Request/Response objects per call; 'hono': @hono/node-server's
   * getRequestListener around `fetch` (what a dev server mounting `fetch` gets).
   */
  adapter?: 'node' | 'hono';
  /** How long `close()` lets requests in flight finish before it cuts their connections (default 5000 ms). */
  closeGraceMs?: number;
}

const MAX_BODY = 1024 * 1024;

const TOO_LARGE_HEADERS = { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-errortype': 'ValidationException' };
const TOO_LARGE_BODY = '{"__type":"ValidationException","message":"Request body is too large."}';
const INTERNAL_HEADERS = { 'content-type': JSON_CONTENT_TYPE };
const INTERNAL_BODY = '{"__type":"KMSInternalException","message":"internal error"}';

/** Writes a reply; `headers` is a fresh object of the caller's, which gets its content-length here. */
function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

/** One request of the node:http listener: buffers the body, then calls the handler core. */
class NodeCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly handle: KmsHandler['handle'];
  readonly urlCache: UrlCache;
  chunks: Buffer[] = [];
  size = 0;
  constructor(req: IncomingMessage, res: ServerResponse, handle: KmsHandler['handle'], urlCache: UrlCache) {
    this.req = req;
    this.res = res;
    this.handle = handle;
    this.urlCache = urlCache;
  }
  onData(c: Buffer): void {
    this.size += c.length;
    if (this.size <= MAX_BODY) this.chunks.push(c);
  }
  onEnd(): void {
    const { req, res } = this;
    if (this.size > MAX_BODY) {
      send(res, 413, { ...TOO_LARGE_HEADERS }, TOO_LARGE_BODY);
      return;
    }
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    this.handle({ method: req.method ?? 'GET', url: this.urlCache.url(req.headers.host ?? 'localhost', req.url), headers: new NodeHeaders(req.headers) }, new Uint8Array(body.buffer, body.byteOffset, body.byteLength)).then(
      (r) => send(res, r.status, r.headers, r.body),
      () => send(res, 500, { ...INTERNAL_HEADERS }, INTERNAL_BODY),
    );
  }
}

function onData(this: IncomingMessage & { sealboxCall: NodeCall }, c: Buffer): void {
  this.sealboxCall.onData(c);
}
function onEnd(this: IncomingMessage & { sealboxCall: NodeCall }): void {
  this.sealboxCall.onEnd();
}
function onError(this: IncomingMessage & { sealboxCall: NodeCall }): void {
  this.sealboxCall.res.destroy();
}

/** node:http listener for the handler core: buffers the body, maps headers, writes the JSON reply. */
export function nodeListener(handle: KmsHandler['handle']): RequestListener {
  const urlCache = new UrlCache();
  return (req: IncomingMessage, res: ServerResponse) => {
    (req as IncomingMessage & { sealboxCall: NodeCall }).sealboxCall = new NodeCall(req, res, handle, urlCache);
    req.on('data', onData);
    req.on('error', onError);
    req.on('end', onEnd);
  };
}

export interface LocalKmsServer {
  url: string;
  port: number;
  host: string;
  kms: LocalKms;
  region: string;
  account: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /**
   * Stops listening, lets requests in flight finish and answer (up to `closeGraceMs`, then cuts
   * their connections), waits for calls still being handled, then closes the store and audit file.
   */
  close(): Promise<void>;
}

export async function startLocalKmsServer(options: LocalKmsServerOptions): Promise<LocalKmsServer> {
  // Metrics (off by default): calls counted and timed around the handler, audit writes timed in the file sink.
  const metrics = options.metrics ? createNodeMetrics() : undefined;
  const kms = await createLocalKms(metrics ? { ...options, onAuditWrite: (s) => { options.onAuditWrite?.(s); metrics.metrics.auditWrite(s); } } : options);
  const host = options.host ?? '127.0.0.1';
  const ops = createKmsOps(kms, options, metrics);
  const listener = ops.listener(options.adapter === 'hono' ? getRequestListener((req) => ops.fetch(req)) : nodeListener(ops.handle));
  const server: Server = createServer({ keepAliveTimeout: 65_000 }, listener);
  const inFlight = trackResponses(server);
  try {
    await listen(server, options.port ?? 4599, host);
  } catch (e) {
    await kms.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    host,
    kms,
    region: kms.region,
    account: kms.account,
    credentials: kms.credentials,
    async close() {
      await closeGracefully(server, inFlight, options.closeGraceMs ?? 5000);
      await kms.close();
    },
  };
}
