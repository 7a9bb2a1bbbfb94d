/**
 * Node adapter for the proxy: serves `createProxy`'s pipeline over node:http (`./listener.ts`; or
 * `Proxy.fetch` through `@hono/node-server`), and adds a file audit sink (append, fsync, chain resumed across restarts).
 *
 * ```ts
 * const server = await startProxyServer({ config, port: 4600 });
 * console.log(server.url);
 * ```
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { CallTracker, closeGracefully, listen, trackResponses, urlHost } from '../http.js';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { readFile } from 'node:fs/promises';
import { AuditFile } from '../kms/audit-file.js';
import { nodeSigV4Crypto } from '../kms/node-crypto.js';
import { nodeUpstreamTransport } from './upstream-http.js';
import { proxyListener } from './listener.js';
import { createHealth, httpReachable } from '../../edge/ops/health.js';
import { createOpsRoutes, type OpsPaths, type OpsRoutes } from '../../edge/ops/routes.js';
import { awsKmsEndpoint } from '../../edge/proxy/upstream.js';
import { fileWritable } from '../ops/checks.js';
import { opsListener } from '../ops/listener.js';
import { createNodeMetrics } from '../ops/metrics.js';
import type { AuditConfig, AuditRecorder, ProxyConfig } from '../../edge/proxy/config.js';
import { createProxy, type Proxy } from '../../edge/proxy/index.js';
import { isStateStore, type SharedStateStore } from '../../edge/state/store.js';

/** `state` in a config file: a Redis store (`src/node/state/redis.ts`), made when the proxy starts. */
export interface RedisStateConfig {
  redis: { url?: string; keyPrefix?: string; commandTimeoutMs?: number; connectTimeoutMs?: number; breakerMs?: number };
}

/**
 * A proxy config whose `audit` may also be `{ file: path }` and `state` `{ redis: { url, … } }`
 * (Node only). `instanceId` defaults to `<hostname>-<pid>`.
 */
export type NodeProxyConfig = Omit<ProxyConfig, 'audit' | 'state'> & {
  audit?: AuditConfig | { file: string };
  state?: SharedStateStore | RedisStateConfig;
  /**
   * The operations endpoints (docs/OPERATIONS.md): `GET /healthz` and `GET /readyz` (on unless
   * `health: false`; readiness: the upstream answers HTTP, the audit file is writable, the shared
   * store answers; cached `healthCacheMs`, default 5 s) and `GET /metrics` in Prometheus format (off
   * unless `metrics: true`, or `{ token }` for `Authorization: Bearer <token>`). Not authenticated
   * (but the metrics token), not audited, not rate-limited.
   */
  ops?: { health?: boolean; metrics?: boolean | { token: string }; paths?: OpsPaths; healthCacheMs?: number };
};

/** The default instance id on Node: stable for the process, distinct across hosts and processes. */
export const defaultInstanceId = () => `${hostname()}-${process.pid}`;

/** Opens the store a config names (a Redis store is created and its connection awaited briefly). */
async function openState(state: NodeProxyConfig['state']): Promise<{ store: SharedStateStore | undefined; owned: boolean }> {
  if (state === undefined || isStateStore(state)) return { store: state, owned: false };
  const r = (state as Partial<RedisStateConfig>).redis;
  if (typeof r !== 'object' || r === null) throw Object.assign(new Error('state must be a SharedStateStore or { "redis": { "url": … } }'), { name: 'ProxyConfigError' });
  const { RedisStateStore } = await import('../state/redis.js');
  const store = new RedisStateStore(r);
  // Start anyway when Redis is not there yet: SigV4 calls answer 503 until it is (reported once).
  await store.ready(r.connectTimeoutMs ?? 2000);
  return { store, owned: true };
}

export interface FileAuditSink extends AuditRecorder {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Opens (or creates) an audit file for appending: the local KMS's audit file writer (one chained
 * line per record, group commit with overlapping fsyncs, the chain continued from the file's last
 * line, a torn last line cut off with a warning). Each `record` resolves once its line is on disk.
 */
export async function openFileAuditSink(path: string): Promise<FileAuditSink> {
  const file = await AuditFile.open(path, (m) => console.warn(`sealbox proxy: ${m}`));
  return {
    path,
    record: (record) => file.record(record as unknown as Record<string, unknown>),
    close: () => file.close(),
  };
}

export interface ProxyServerOptions {
  config: NodeProxyConfig;
  /** Default 4600; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** How long `close()` lets requests in flight finish before it cuts their connections (default 5000 ms). */
  closeGraceMs?: number;
  /**
   * 'node' (default): the lean node:http listener (`./listener.ts`); 'web': @hono/node-server around
   * `Proxy.fetch`, the Request/Response path Workers, Deno and Bun take (the tests run both).
   */
  adapter?: 'node' | 'web';
}

export interface ProxyServer {
  url: string;
  port: number;
  host: string;
  proxy: Proxy;
  /** The audit file, when the config names one. */
  auditPath: string | undefined;
  /**
   * Stops listening, lets requests in flight finish (up to `closeGraceMs`, then cuts their
   * connections), waits for calls still being handled (each ends within the upstream timeout) so
   * that every call's audit record is written, then closes the audit file.
   */
  close(): Promise<void>;
}

/** Creates the proxy (opening its audit file when `audit: { file }`) without serving it. */
export async function createNodeProxy(
  config: NodeProxyConfig,
): Promise<{ proxy: Proxy; auditFile: FileAuditSink | undefined; state?: SharedStateStore | undefined; ops: OpsRoutes; close(): Promise<void> }> {
  const a = config.audit;
  let auditFile: FileAuditSink | undefined;
  let audit: AuditConfig | undefined;
  if (typeof a === 'object' && a !== null && 'file' in a && typeof a.file === 'string') {
    auditFile = await openFileAuditSink(a.file);
    audit = auditFile;
  } else {
    audit = a as AuditConfig | undefined;
  }
  let state: { store: SharedStateStore | undefined; owned: boolean } = { store: undefined, owned: false };
  // Node's fast paths, unless the config brings its own fetch or transport: node:crypto for SigV4
  // (upstream signing and incoming verification) and a keep-alive node:http pool to the upstream.
  const transport = config.upstream.fetch === undefined && config.upstream.transport === undefined ? nodeUpstreamTransport() : undefined;
  try {
    state = await openState(config.state);
    const o = config.ops ?? {};
    const metrics = o.metrics ? createNodeMetrics() : undefined;
    const upstreamUrl = config.upstream.endpoint ?? awsKmsEndpoint(config.upstream.region);
    const store = state.store;
    const health =
      o.health === false
        ? undefined
        : createHealth({
            cacheMs: o.healthCacheMs ?? 5000,
            checks: {
              upstream: httpReachable(upstreamUrl),
              ...(auditFile ? { audit: fileWritable(auditFile.path) } : {}),
              // A replay record that expires at once: the store takes a write, as calls need it to.
              ...(store ? { state: async () => void (await store.rememberOnce(`health:${crypto.randomUUID()}`, Date.now() + 1000)) } : {}),
            },
          });
    const token = typeof o.metrics === 'object' ? o.metrics.token : undefined;
    const ops = createOpsRoutes({
      health: health ?? false,
      metrics: metrics ? { expose: () => metrics.expose(), ...(token === undefined ? {} : { token }) } : false,
      ...(o.paths ? { paths: o.paths } : {}),
    });
    const { ops: _ops, ...proxyConfig } = config;
    const proxy = createProxy({
      ...proxyConfig,
      ...(metrics ? { metrics: metrics.metrics } : {}),
      upstream: { ...config.upstream, ...(transport === undefined ? {} : { transport }) },
      auth: config.auth.sigv4 === undefined ? config.auth : { ...config.auth, sigv4: { crypto: nodeSigV4Crypto, ...config.auth.sigv4 } },
      instanceId: config.instanceId ?? defaultInstanceId(),
      ...(audit === undefined ? {} : { audit }),
      ...(state.store === undefined ? {} : { state: state.store }),
    } as ProxyConfig);
    return {
      proxy,
      auditFile,
      state: state.store,
      ops,
      async close() {
        await auditFile?.close();
        if (state.owned) await state.store?.close?.();
        transport?.close();
      },
    };
  } catch (e) {
    await auditFile?.close();
    if (state.owned) await state.store?.close?.();
    transport?.close();
    throw e;
  }
}

export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const { proxy, auditFile, ops, close: closeProxy } = await createNodeProxy(options.config);
  const host = options.host ?? '127.0.0.1';
  // Calls being handled, whether or not their client is still connected: close() waits for them
  // (each ends within the upstream timeout) so that their audit records are written.
  const calls = new CallTracker();
  const track = <T>(call: Promise<T>) => calls.track(call);
  const listener = options.adapter === 'web' ? getRequestListener((req) => track(proxy.fetch(req))) : proxyListener(proxy, track);
  const server: Server = createServer({ keepAliveTimeout: 65_000 }, opsListener(ops, listener));
  const inFlight = trackResponses(server);
  try {
    await listen(server, options.port ?? 4600, host);
  } catch (e) {
    await closeProxy();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    host,
    proxy,
    auditPath: auditFile?.path,
    async close() {
      await closeGracefully(server, inFlight, options.closeGraceMs ?? 5000);
      await calls.settled();
      await closeProxy();
    },
  };
}

/**
 * Reads a JSON config file (the shape of `ProxyConfig`; see `./config.ts`), with these file-only
 * conveniences, so secrets need not sit in the file:
 * - `upstream.credentials` may be omitted: taken from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 *   AWS_SESSION_TOKEN;
 * - `auth.jwt.secretEnv`: the name of an environment variable holding the JWT secret;
 * - `auth.sigv4.keys[i].secretAccessKeyEnv`: likewise for a machine key's secret;
 * - `policyFile`: a policy document in its own file, instead of `policy`;
 * - relative paths (`policyFile`, `audit.file`) are relative to the config file.
 */
export async function loadProxyConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<NodeProxyConfig> {
  const { dirname, resolve } = await import('node:path');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read proxy config ${path}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`proxy config ${path} must be a JSON object`);
  const c = raw as Record<string, any>;
  const base = dirname(resolve(path));
  const upstream = c.upstream;
  if (upstream && typeof upstream === 'object' && upstream.credentials === undefined) {
    if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) {
      throw new Error('upstream.credentials is missing and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set');
    }
    upstream.credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  const jwt = c.auth?.jwt;
  if (jwt && typeof jwt === 'object' && typeof jwt.secretEnv === 'string') {
    const secret = env[jwt.secretEnv];
    if (!secret) throw new Error(`auth.jwt.secretEnv: environment variable ${jwt.secretEnv} is not set`);
    jwt.secret = secret;
    delete jwt.secretEnv;
  }
  const keys = c.auth?.sigv4?.keys;
  if (Array.isArray(keys)) {
    for (const k of keys) {
      if (k && typeof k === 'object' && typeof k.secretAccessKeyEnv === 'string') {
        const secret = env[k.secretAccessKeyEnv];
        if (!secret) throw new Error(`auth.sigv4: environment variable ${k.secretAccessKeyEnv} is not set`);
        k.secretAccessKey = secret;
        delete k.secretAccessKeyEnv;
      }
    }
  }
  if (typeof c.policyFile === 'string') {
    if (c.policy !== undefined) throw new Error('give policy or policyFile, not both');
    c.policy = await readFile(resolve(base, c.policyFile), 'utf8');
    delete c.policyFile;
  }
  if (c.audit && typeof c.audit === 'object' && typeof c.audit.file === 'string') c.audit.file = resolve(base, c.audit.file);
  return c as NodeProxyConfig;
}
