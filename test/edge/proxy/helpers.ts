// Test harness for the proxy: a real local KMS (node:http on 127.0.0.1:0, seeded keys), the proxy
// served over real HTTP in front of it, JWTs signed with jose, and a raw KMS JSON caller.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { SignJWT } from 'jose';
import { startLocalKmsServer, type LocalKmsServer, type SeedFile } from '../../../src/node/kms/index.js';
import { startProxyServer, type NodeProxyConfig, type ProxyServer } from '../../../src/node/proxy/node.js';
import type { Policy } from '../../../src/edge/policy/index.js';

export const ROOT_KEY = Buffer.alloc(32, 9).toString('base64');
export const JWT_SECRET = 'proxy-test-secret-0123456789abcdef0123456789';
export const ISSUER = 'https://idp.test/';
export const AUDIENCE = 'sealbox-proxy';
export const REGION = 'us-east-1';
export const ACCOUNT = '111122223333';

export const KEY_IDS = {
  tenantA: '0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a',
  tenantB: '0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b',
  secret: '05050505-0505-4505-8505-050505050505',
  rsa: '0c0c0c0c-0c0c-4c0c-8c0c-0c0c0c0c0c0c',
} as const;

export const arn = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;

export const SEED: SeedFile = {
  keys: [
    { id: KEY_IDS.tenantA, aliases: ['alias/tenant-a'], description: 'tenant A' },
    { id: KEY_IDS.tenantB, aliases: ['alias/tenant-b'], description: 'tenant B' },
    { id: KEY_IDS.secret, aliases: ['alias/secret', 'alias/secret-too'], description: 'denied by the proxy policy' },
    { id: KEY_IDS.rsa, aliases: ['alias/rsa-shared'], keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT', description: 'shared RSA key' },
  ],
};

/** Tenant isolation and separation of duties, as in the README. */
export const POLICY: Policy = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'ReadersDecryptTheirTenant',
      Effect: 'Allow',
      Principal: { AWS: 'jwt/*' },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}', 'jwt:role': ['reader', 'admin'] } },
    },
    {
      Sid: 'UploadersEncryptForTheirTenant',
      Effect: 'Allow',
      Principal: { AWS: 'jwt/*' },
      Action: ['kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Encrypt'],
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}', 'jwt:role': ['uploader', 'admin'] } },
    },
    { Sid: 'PublicKeysForAll', Effect: 'Allow', Principal: '*', Action: ['kms:GetPublicKey', 'kms:DescribeKey'], Resource: '*' },
    { Sid: 'BatchMachine', Effect: 'Allow', Principal: { AWS: 'machine/batch' }, Action: 'kms:*', Resource: '*' },
    {
      Sid: 'OpsOnlyTenantAByAlias',
      Effect: 'Allow',
      Principal: { AWS: 'jwt/ops' },
      Action: 'kms:GenerateDataKey',
      Resource: 'arn:aws:kms:*:*:alias/tenant-a',
    },
    { Sid: 'NeverTheSecretKey', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: 'alias/secret' },
  ],
};

export const MACHINE = { accessKeyId: 'AKIAPROXYBATCH000001', secretAccessKey: 'machine-secret-0123456789abcdefghijklmn', principal: 'machine/batch' };

export async function token(claims: Record<string, unknown>, opts: { expiresIn?: string; issuer?: string; audience?: string; secret?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(opts.issuer ?? ISSUER)
    .setAudience(opts.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m')
    .sign(new TextEncoder().encode(opts.secret ?? JWT_SECRET));
}

export interface Env {
  kms: LocalKmsServer;
  proxy: ProxyServer;
  audit: string[];
  dir: string;
  /** Starts another proxy (same KMS) with config overrides; closed with the env. */
  extraProxy(overrides: Partial<NodeProxyConfig>): Promise<ProxyServer>;
  close(): Promise<void>;
}

export function baseConfig(kms: { url: string; credentials: { accessKeyId: string; secretAccessKey: string } }, audit: string[]): NodeProxyConfig {
  return {
    upstream: { endpoint: kms.url, region: REGION, credentials: kms.credentials, timeoutMs: 5000 },
    auth: {
      jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE },
      sigv4: { keys: [MACHINE] },
    },
    policy: POLICY,
    cors: { origins: ['http://app.test'] },
    rateLimit: { capacity: 1000, refillPerSecond: 1000 },
    audit: (line) => void audit.push(line),
  };
}

/**
 * Which listener the proxies of startEnv use: the Node fast path by default; 'web' (the
 * Request/Response path of Workers, Deno and Bun) when SEALBOX_TEST_PROXY_ADAPTER says so, which
 * is how the *-web.test.ts files run a whole suite over it too.
 */
const adapter = process.env.SEALBOX_TEST_PROXY_ADAPTER === 'web' ? 'web' : 'node';

export async function startEnv(overrides: Partial<NodeProxyConfig> = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-proxy-'));
  const kms = await startLocalKmsServer({ port: 0, dataDir: join(dir, 'kms'), rootKey: ROOT_KEY, env: {}, log: () => {}, seed: SEED, audit: false });
  const audit: string[] = [];
  const servers: ProxyServer[] = [];
  const proxy = await startProxyServer({ config: { ...baseConfig(kms, audit), ...overrides }, port: 0, adapter });
  servers.push(proxy);
  return {
    kms,
    proxy,
    audit,
    dir,
    async extraProxy(o) {
      const s = await startProxyServer({ config: { ...baseConfig(kms, audit), ...o }, port: 0, adapter });
      servers.push(s);
      return s;
    },
    async close() {
      for (const s of servers) await s.close();
      await kms.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface KmsAnswer {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

/** A raw KMS JSON 1.1 call (what the browser client sends). */
export async function call(url: string, op: string, body: unknown, headers: Record<string, string> = {}): Promise<KmsAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : JSON.parse(text), headers: res.headers };
}

export const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A tiny node:http server around a fetch handler. */
export async function serve(handler: (req: Request) => Promise<Response> | Response): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(getRequestListener((req) => handler(req)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function auditRecords(lines: string[]): Array<Record<string, any>> {
  return lines.map((l) => JSON.parse(l));
}
