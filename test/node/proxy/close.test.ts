// Closing the Node proxy: requests in flight finish, with their audit records, before close()
// resolves; new connections are refused at once; what is still open after the grace period is cut.
// The upstream is a real local KMS behind a relay that adds latency, so requests are in flight long
// enough to close the proxy under them.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { startLocalKmsServer, type LocalKmsServer } from '../../../src/node/kms/index.js';
import { startProxyServer, type ProxyServer } from '../../../src/node/proxy/node.js';

const JWT_SECRET = 'close-test-secret-0123456789abcdef0123456789';
const KMS_CREDS = { accessKeyId: 'AKIACLOSETEST0000001', secretAccessKey: 'close-test-kms-secret-0123456789abcdefgh' };
const KEY = '0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a';

let dir: string;
let kms: LocalKmsServer;
let relay: Server;
let relayUrl: string;
let delayMs = 0;
let token: string;

/** Forwards each request to the KMS unchanged (Host included, so SigV4 still verifies) after `delayMs`. */
async function startRelay(target: URL): Promise<void> {
  relay = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      setTimeout(() => {
        const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(parts));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
}

async function startProxy(auditFile: string, closeGraceMs?: number): Promise<ProxyServer> {
  return startProxyServer({
    port: 0,
    ...(closeGraceMs === undefined ? {} : { closeGraceMs }),
    config: {
      upstream: { endpoint: relayUrl, region: 'us-east-1', credentials: KMS_CREDS, timeoutMs: 10_000 },
      auth: { jwt: { secret: JWT_SECRET, issuer: 'https://idp.close/', audience: 'close' } },
      policy: {
        Statement: [{ Effect: 'Allow', Principal: { AWS: 'jwt/*' }, Action: 'kms:GenerateDataKey', Resource: '*' }],
      },
      rateLimit: false,
      audit: { file: auditFile },
    },
  });
}

function generateDataKey(proxy: ProxyServer): Promise<Response> {
  return fetch(proxy.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.GenerateDataKey', authorization: `Bearer ${token}` },
    body: JSON.stringify({ KeyId: 'alias/close', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }),
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-proxy-close-'));
  kms = await startLocalKmsServer({
    dataDir: join(dir, 'kms'),
    port: 0,
    rootKey: Buffer.alloc(32, 5).toString('base64'),
    env: {},
    log: () => {},
    credentials: [KMS_CREDS],
    audit: false,
    seed: { keys: [{ id: KEY, aliases: ['alias/close'] }] },
  });
  await startRelay(new URL(kms.url));
  token = await new SignJWT({ sub: 'alice' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('https://idp.close/')
    .setAudience('close')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
});

after(async () => {
  await new Promise<void>((resolve) => {
    relay.close(() => resolve());
    relay.closeAllConnections();
  });
  await kms.close();
  await rm(dir, { recursive: true, force: true });
});

test('close() lets requests in flight finish and writes their audit records before it resolves', async () => {
  const auditFile = join(dir, 'graceful.audit.jsonl');
  const proxy = await startProxy(auditFile, 20_000);
  delayMs = 0;
  assert.equal((await generateDataKey(proxy)).status, 200, 'warm-up over a keep-alive connection');
  delayMs = 600;
  const inFlight = [generateDataKey(proxy), generateDataKey(proxy)];
  await sleep(200);
  let closed = false;
  const closing = proxy.close().then(() => (closed = true));
  await sleep(50);
  await assert.rejects(generateDataKey(proxy), 'a closing proxy takes no new connections');
  for (const response of await Promise.all(inFlight)) {
    assert.equal(response.status, 200);
    const body = (await response.json()) as { KeyId?: string; Plaintext?: string };
    assert.ok(body.KeyId?.endsWith(KEY) && body.Plaintext, 'the whole answer arrived');
  }
  const answered = performance.now();
  await closing;
  assert.equal(closed, true);
  // Keep-alive connections end with their last answer: close() does not sit out the grace period.
  const after = performance.now() - answered;
  assert.ok(after < 3000, `close() resolved ${Math.round(after)} ms after the last answer (grace 20 s)`);
  const lines = (await readFile(auditFile, 'utf8')).trim().split('\n');
  assert.equal(lines.filter((line) => line.includes('GenerateDataKey')).length, 3, 'the warm-up and both requests in flight are in the audit file');
});

test('close() cuts what is still in flight after the grace period, and still audits the call', async () => {
  const auditFile = join(dir, 'grace.audit.jsonl');
  const proxy = await startProxy(auditFile, 300);
  delayMs = 1500;
  const inFlight = generateDataKey(proxy).then(
    (response) => response.status,
    () => 'cut',
  );
  await sleep(200);
  const started = performance.now();
  await proxy.close();
  const took = performance.now() - started;
  assert.equal(await inFlight, 'cut', 'the client was cut off after the grace period');
  // close() waited for the call itself (the KMS answered after 1.5 s) so that its record is written.
  assert.ok(took >= 1000 && took < 5000, `close took ${Math.round(took)} ms`);
  const lines = (await readFile(auditFile, 'utf8')).trim().split('\n');
  assert.equal(lines.filter((line) => line.includes('GenerateDataKey')).length, 1, 'the cut call is in the audit file');
});

test('a client that goes away in the middle of its body: the call ends (audited as a refusal, not a 5xx), and close() does not wait for it', async () => {
  const auditFile = join(dir, 'cut-off.audit.jsonl');
  const proxy = await startProxy(auditFile, 20_000);
  const { connect } = await import('node:net');
  const socket = connect(proxy.port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `POST / HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.GenerateDataKey\r\n` +
      `Authorization: Bearer ${token}\r\nContent-Length: 1000\r\n\r\n{"KeyId":`,
  );
  await sleep(200);
  socket.destroy();
  await sleep(200);
  const closing = proxy.close();
  const outcome = await Promise.race([closing.then(() => 'closed'), sleep(5000).then(() => 'still waiting')]);
  assert.equal(outcome, 'closed', 'close() waited for a call whose client was gone');
  const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { status: number; outcome: string; reason?: string });
  assert.equal(lines.length, 1, 'the cut-off call is audited');
  assert.equal(lines[0]!.outcome, 'deny');
  assert.ok(lines[0]!.status < 500, `audited with status ${lines[0]!.status}`);
});
