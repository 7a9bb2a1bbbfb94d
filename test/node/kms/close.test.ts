// Closing the local KMS server: a request in flight when close() starts is still handled and
// answered (with `Connection: close`), its key is stored and its audit record written before the
// store closes; new connections are refused at once; what is still open after the grace period is
// cut. A request is held in flight by sending its body in two parts around the call to close().
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { AwsV4Signer } from 'aws4fetch';
import { ROOT_KEY, startHarness, tempDir } from './helpers.js';
import { createLocalKms, type LocalKmsServer } from '../../../src/node/kms/index.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A signed CreateKey whose body is sent in two parts: `finish()` sends the second. */
async function startCreateKey(server: LocalKmsServer, description: string) {
  const body = JSON.stringify({ Description: description });
  const signed = await new AwsV4Signer({
    method: 'POST',
    url: `${server.url}/`,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.CreateKey' },
    body,
    ...server.credentials,
    service: 'kms',
    region: server.region,
  }).sign();
  const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(body)) };
  signed.headers.forEach((v, k) => (headers[k] = v));
  const url = new URL(server.url);
  const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers });
  const answer = new Promise<{ res: IncomingMessage; text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (part: string) => (text += part));
      res.on('end', () => resolve({ res, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { answer, finish: () => req.end(body.slice(half)) };
}

test('close(): a request in flight is answered and its key kept; new connections are refused at once', async () => {
  const dir = await tempDir('sealbox-kms-close-');
  try {
    const h = await startHarness({ dataDir: dir });
    const call = await startCreateKey(h.server, 'made while closing');
    await sleep(100); // the server has the headers and half the body
    let closed = false;
    const closing = h.server.close().then(() => (closed = true));
    await sleep(50);
    assert.equal(closed, false, 'close() waits for the request in flight');
    await assert.rejects(fetch(h.server.url, { method: 'POST' }), 'a new connection is refused while closing');
    call.finish();
    const { res, text } = await call.answer;
    assert.equal(res.statusCode, 200, text);
    assert.equal(res.headers.connection, 'close');
    const keyId = (JSON.parse(text) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    await closing;

    const audit = await readFile(join(dir, 'audit.log'), 'utf8');
    assert.ok(audit.split('\n').some((line) => line.includes('"eventName":"CreateKey"') && line.includes(keyId)), 'the CreateKey is in the audit log');
    const again = await startHarness({ dataDir: dir });
    try {
      const described = await again.client.send(new DescribeKeyCommand({ KeyId: keyId }));
      assert.equal(described.KeyMetadata?.Description, 'made while closing');
    } finally {
      await again.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('close(): a request still unfinished after closeGraceMs is cut, and close() resolves', async () => {
  const h = await startHarness({ closeGraceMs: 200 });
  const call = await startCreateKey(h.server, 'never finished');
  const outcome = call.answer.then(
    () => undefined,
    (error: unknown) => error,
  );
  await sleep(100);
  const started = Date.now();
  await h.close();
  const took = Date.now() - started;
  assert.ok(took >= 150 && took < 3000, `close() waited the grace period (200 ms), not more: took ${took} ms`);
  assert.match(String(await outcome), /socket hang up|ECONNRESET/);
});

test('createLocalKms().close() waits for calls in progress: a CreateKey started just before it is answered and audited', async () => {
  const dir = await tempDir('sealbox-kms-close-inproc-');
  try {
    const credentials = { accessKeyId: 'AKIACLOSEINPROC00001', secretAccessKey: 'close-in-process-secret-0123456789abcd' };
    const kms = await createLocalKms({ dataDir: dir, rootKey: ROOT_KEY, env: {}, log: () => {}, credentials: [credentials] });
    const signed = await new AwsV4Signer({
      method: 'POST',
      url: 'http://127.0.0.1:4599/',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.CreateKey' },
      body: '{"Description":"in flight at close"}',
      ...credentials,
      service: 'kms',
      region: kms.region,
    }).sign();
    const answer = kms.fetch(new Request(signed.url, { method: signed.method, headers: signed.headers, body: signed.body ?? null }));
    await kms.close();
    const res = await answer;
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const keyId = (JSON.parse(text) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    const audit = await readFile(join(dir, 'audit.log'), 'utf8');
    assert.ok(audit.includes(keyId), 'the CreateKey is in the audit log');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
