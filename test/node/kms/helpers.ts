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
