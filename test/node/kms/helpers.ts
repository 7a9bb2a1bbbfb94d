import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { startLocalKmsServer, type LocalKmsServer, type LocalKmsServerOptions } from '../../../src/node/kms/index.js';

export const ROOT_KEY = Buffer.alloc(32, 7).toString('base64');

export async function tempDir(prefix = 'sealbox-kms-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface Harness {
  server: LocalKmsServer;
  client: KMSClient;
  dir: string;
  clientFor(opts?: { region?: string; accessKeyId?: string; secretAccessKey?: string }): KMSClient;
  close(): Promise<void>;
}

/** A real local KMS on 127.0.0.1:0 in a temp dir, and an AWS SDK client pointed at it. */
export async function startHarness(options: Partial<LocalKmsServerOptions> = {}): Promise<Harness> {
  const dir = options.dataDir ?? (await tempDir());
  const server = await startLocalKmsServer({ port: 0, rootKey: ROOT_KEY, env: {}, log: () => {}, ...options, dataDir: dir });
  const clients: KMSClient[] = [];
  const clientFor: Harness['clientFor'] = (o = {}) => {
    const c = new KMSClient({
      endpoint: server.url,
      region: o.region ?? server.region,
      credentials: {
        accessKeyId: o.accessKeyId ?? server.credentials.accessKeyId,
        secretAccessKey: o.secretAccessKey ?? server.credentials.secretAccessKey,
      },
      maxAttempts: 1,
    });
    clients.push(c);
    return c;
  };
  const client = clientFor();
  return {
    server,
    client,
    dir,
    clientFor,
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      if (options.dataDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts that `promise` rejects with an AWS SDK error of this name (`__type`). */
export async function rejectsWith(promise: Promise<unknown>, name: string): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    if (err.name !== name) throw new Error(`expected ${name}, got ${err.name}: ${err.message}`);
    return err;
  }
  throw new Error(`expected ${name}, but the call succeeded`);
}

/** One HTTP exchange as the SDK saw it on the wire: the operation, the status and the parsed JSON body. */
export interface WireExchange {
  op: string;
  status: number;
  body: Record<string, unknown>;
}

/**
 * An AWS SDK client whose HTTP handler keeps the raw answer of every request, so a test can check
 * what the server sent (members the SDK would silently drop, `__type`, status) through the official
 * client. `last()` is the latest exchange.
 */
export async function recordingClient(h: Harness): Promise<{ client: KMSClient; last(): WireExchange; exchanges: WireExchange[] }> {
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  const { Readable } = await import('node:stream');
  const inner = new NodeHttpHandler();
  const exchanges: WireExchange[] = [];
  const handler = {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request: { headers: Record<string, string> }, options?: unknown) {
      const out = await inner.handle(request as never, options as never);
      const chunks: Buffer[] = [];
      for await (const c of out.response.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
      const text = Buffer.concat(chunks).toString('utf8');
      const target = request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'] ?? '';
      exchanges.push({ op: target.replace(/^TrentService\./, ''), status: out.response.statusCode, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      out.response.body = Readable.from([Buffer.from(text)]);
      return out;
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
    destroy() {
      inner.destroy();
    },
  };
  const client = new KMSClient({
    endpoint: h.server.url,
    region: h.server.region,
    credentials: { accessKeyId: h.server.credentials.accessKeyId, secretAccessKey: h.server.credentials.secretAccessKey },
    maxAttempts: 1,
    requestHandler: handler as never,
  });
  return {
    client,
    exchanges,
    last() {
      const e = exchanges[exchanges.length - 1];
      if (!e) throw new Error('no exchange recorded');
      return e;
    },
  };
}
