/** A real local KMS over HTTP, an admin AWS SDK client, and KmsClients that count the calls they make. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { startLocalKmsServer, type LocalKmsServer } from '../../../src/node/kms/index.js';
import { KmsClient, type KmsClientOptions } from '../../../src/sdk/client/kms-client.js';

export interface Kms {
  server: LocalKmsServer;
  admin: KMSClient;
  /** KMS operations that reached the server through clients made by `client()`, in order. */
  calls: string[];
  count(op: string): number;
  client(options?: Partial<KmsClientOptions>): KmsClient;
  adminFor(region: string): KMSClient;
  createKey(spec?: 'SYMMETRIC_DEFAULT' | 'RSA_2048' | 'RSA_3072', region?: string): Promise<string>;
  createAlias(name: string, keyId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startKms(): Promise<Kms> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-client-'));
  const server = await startLocalKmsServer({ port: 0, dataDir: dir, rootKey: Buffer.alloc(32, 9).toString('base64'), env: {}, log: () => {} });
  const admins = new Map<string, KMSClient>();
  const adminFor = (region: string) => {
    let c = admins.get(region);
    if (!c) {
      c = new KMSClient({ endpoint: server.url, region, credentials: server.credentials, maxAttempts: 1 });
      admins.set(region, c);
    }
    return c;
  };
  const admin = adminFor(server.region);
  const calls: string[] = [];
  const countingFetch: typeof fetch = async (input, init) => {
    calls.push(new Headers(init?.headers).get('x-amz-target')?.replace('TrentService.', '') ?? '?');
    return fetch(input, init);
  };
  return {
    server,
    admin,
    calls,
    count: (op) => calls.filter((c) => c === op).length,
    client: (options = {}) => new KmsClient({ endpoint: server.url, region: server.region, auth: { ...server.credentials }, fetch: countingFetch, ...options }),
    adminFor,
    async createKey(spec = 'SYMMETRIC_DEFAULT', region = server.region) {
      const out = await adminFor(region).send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'ENCRYPT_DECRYPT' }));
      return out.KeyMetadata!.Arn!;
    },
    async createAlias(name, keyId) {
      await admin.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }));
    },
    async close() {
      for (const c of admins.values()) c.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts a SealboxError code (and returns the error). */
export async function rejectsCode(promise: Promise<unknown>, code: string): Promise<Error & { code: string; requestId?: string; kmsErrorType?: string }> {
  try {
    await promise;
  } catch (e) {
    const err = e as Error & { code: string };
    if (err.code !== code) throw new Error(`expected ${code}, got ${err.code}: ${err.message}`, { cause: e });
    return err;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}
