// Faults upstream of the proxy: the KMS down, slow, or answering 5xx. The proxy answers within its
// upstream timeout with a KMS-style error; a KmsClient behind it backs off and retries; both recover
// when a real local KMS comes back on the same port (stopped and started, same data dir).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { KmsClient, KmsRequestError } from '../../../src/index.js';
import { startLocalKmsServer, type LocalKmsServer } from '../../../src/node/kms/index.js';
import { startProxyServer, type ProxyServer } from '../../../src/node/proxy/node.js';

const JWT_SECRET = 'faults-test-secret-0123456789abcdef0123456789';
const KMS_CREDS = { accessKeyId: 'AKIAFAULTS0000000001', secretAccessKey: 'faults-kms-secret-0123456789abcdefghijk' };
const KEY = '0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a';
const TIMEOUT_MS = 700;
/** Scheduling slack on a busy machine: an answer "within the timeout" may come this much later. */
const SLACK_MS = 2500;

let dir: string;
let port: number;
let kms: LocalKmsServer | undefined;
let fake: Server | undefined;
let proxy: ProxyServer;
let token: string;
const audit: Array<Record<string, unknown>> = [];

async function startKms(): Promise<void> {
  kms = await startLocalKmsServer({
    dataDir: join(dir, 'kms'),
    port,
    rootKey: Buffer.alloc(32, 4).toString('base64'),
    env: {},
    log: () => {},
    credentials: [KMS_CREDS],
    audit: false,
    seed: { keys: [{ id: KEY, aliases: ['alias/faults'] }] },
  });
  port = kms.port;
}

async function stopKms(): Promise<void> {
  await kms?.close();
  kms = undefined;
}

/** A stand-in upstream on the KMS's port. */
async function startFake(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<void> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  fake = server;
}

async function stopFake(): Promise<void> {
  const server = fake;
  fake = undefined;
  if (!server) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function raw(op = 'GenerateDataKey', body: unknown = { KeyId: 'alias/faults', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }) {
  const started = performance.now();
  const res = await fetch(proxy.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}`, authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, errorType: res.headers.get('x-amzn-errortype'), ms: performance.now() - started };
}

/** A client with retries, recording when each attempt was made. */
function retryingClient(): { client: KmsClient; attempts: number[] } {
  const attempts: number[] = [];
  const client = new KmsClient({
    endpoint: proxy.url,
    auth: () => ({ authorization: `Bearer ${token}` }),
    retry: { maxAttempts: 12, baseDelayMs: 100, maxDelayMs: 800 },
    timeoutMs: 5000,
    fetch: (input, init) => {
      attempts.push(performance.now());
      return fetch(input, init);
    },
  });
  return { client, attempts };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-faults-'));
  port = 0;
  await startKms();
  proxy = await startProxyServer({
    port: 0,
    config: {
      upstream: { endpoint: kms!.url, region: 'us-east-1', credentials: KMS_CREDS, timeoutMs: TIMEOUT_MS },
      auth: { jwt: { secret: JWT_SECRET, issuer: 'https://idp.faults/', audience: 'faults' } },
      policy: {
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: 'jwt/*' },
            Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
            Resource: '*',
            Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}' } },
          },
        ],
      },
      rateLimit: false,
      keyCacheTtlSec: 0,
      audit: (line) => void audit.push(JSON.parse(line) as Record<string, unknown>),
    },
  });
  token = await new SignJWT({ sub: 'alice', tenant: 'a' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('https://idp.faults/')
    .setAudience('faults')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
  const ok = await raw();
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
});

after(async () => {
  await stopFake();
  await stopKms();
  await proxy.close();
  await rm(dir, { recursive: true, force: true });
});

test('KMS down: the proxy answers at once with a KMS-style 5xx; the client backs off and succeeds once the KMS is back', { timeout: 60_000 }, async () => {
  await stopKms();
  const down = await raw();
  assert.ok(down.status >= 500, `status ${down.status}`);
  assert.equal(down.json.__type, 'KMSInternalException');
  assert.equal(down.errorType, 'KMSInternalException');
  assert.equal(typeof down.json.message, 'string');
  assert.ok(down.ms < TIMEOUT_MS + SLACK_MS, `answered after ${down.ms.toFixed(0)} ms`);
  assert.equal(audit.at(-1)!.outcome, 'error');

  // A client that asks while the KMS is down keeps retrying with backoff until it returns.
  const { client, attempts } = retryingClient();
  const call = client.generateDataKey({ KeyId: 'alias/faults', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } });
  await sleep(1200);
  const attemptsWhileDown = attempts.length;
  await startKms();
  const result = await call;
  assert.equal(result.Plaintext.length, 32);
  assert.ok(attemptsWhileDown >= 2, `only ${attemptsWhileDown} attempts in 1.2 s of downtime`);
  assert.ok(attemptsWhileDown <= 11, `${attemptsWhileDown} attempts in 1.2 s: no backoff`);
  // The proxy recovered too.
  assert.equal((await raw()).status, 200);
});

test('KMS slow: the proxy answers DependencyTimeoutException within its timeout; recovers when the KMS is fast again', { timeout: 60_000 }, async () => {
  await stopKms();
  const held: ServerResponse[] = [];
  await startFake((_req, res) => void held.push(res)); // accepts, never answers
  const slow = await raw();
  assert.equal(slow.status, 503);
  assert.equal(slow.json.__type, 'DependencyTimeoutException');
  assert.ok(slow.ms >= TIMEOUT_MS - 50, `answered after ${slow.ms.toFixed(0)} ms, before the timeout`);
  assert.ok(slow.ms < TIMEOUT_MS + SLACK_MS, `answered after ${slow.ms.toFixed(0)} ms`);
  assert.equal(audit.at(-1)!.errorType, 'DependencyTimeoutException');

  const { client, attempts } = retryingClient();
  const call = client.generateDataKey({ KeyId: 'alias/faults', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } });
  await sleep(2 * TIMEOUT_MS + 300);
  await stopFake();
  for (const res of held) res.destroy();
  await startKms();
  const result = await call;
  assert.equal(result.CiphertextBlob.length > 0, true);
  assert.ok(attempts.length >= 2, `${attempts.length} attempts`);
  assert.equal((await raw()).status, 200);
});

test('KMS answering 5xx (JSON and not): KMS-style errors from the proxy, client retries, then recovery', { timeout: 60_000 }, async () => {
  await stopKms();
  let served = 0;
  await startFake((_req, res) => {
    served++;
    if (served % 2) {
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `fake-${served}` });
      res.end('{"__type":"com.amazonaws.kms#KMSInternalException","message":"injected failure"}');
    } else {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html>Service Unavailable</html>');
    }
  });
  const first = await raw();
  const second = await raw();
  for (const r of [first, second]) {
    assert.ok(r.status >= 500, `status ${r.status}`);
    assert.equal(typeof r.json.__type, 'string');
    assert.equal(r.json.__type, r.errorType);
    assert.equal(typeof r.json.message, 'string');
    assert.ok(r.ms < TIMEOUT_MS + SLACK_MS);
  }
  assert.deepEqual(new Set([first.json.__type, second.json.__type]), new Set(['KMSInternalException']));
  assert.ok(audit.slice(-2).every((r) => r.outcome === 'error'));

  const { client, attempts } = retryingClient();
  const call = client.generateDataKey({ KeyId: 'alias/faults', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } });
  await sleep(800);
  await stopFake();
  await startKms();
  const result = await call;
  assert.equal(result.Plaintext.length, 32);
  assert.ok(attempts.length >= 2, `${attempts.length} attempts`);
  assert.equal((await raw()).status, 200);
});

test('a client without retries surfaces the outage as a typed error (not a hang)', { timeout: 30_000 }, async () => {
  await stopKms();
  const client = new KmsClient({ endpoint: proxy.url, auth: () => ({ authorization: `Bearer ${token}` }), retry: false, timeoutMs: 5000 });
  const started = performance.now();
  await assert.rejects(client.generateDataKey({ KeyId: 'alias/faults', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }), (e: unknown) => {
    assert.ok(e instanceof KmsRequestError, String(e));
    assert.equal(e.kmsErrorType, 'KMSInternalException');
    return true;
  });
  assert.ok(performance.now() - started < TIMEOUT_MS + SLACK_MS);
  await startKms();
  assert.equal((await raw()).status, 200);
});
