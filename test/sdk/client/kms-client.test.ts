/**
 * KmsClient against a real local KMS over HTTP (SigV4), and retry behaviour against a real tiny
 * node:http server that answers what each test scripts.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DisableKeyCommand, PutKeyPolicyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { KmsClient, KmsRequestError } from '../../../src/sdk/client/kms-client.js';
import { SealboxError } from '../../../src/sdk/errors.js';
import { rejectsCode, startKms, type Kms } from './helpers.js';

const UUID = /^[0-9a-f-]{36}$/;

describe('KmsClient against the local KMS (SigV4 over HTTP)', () => {
  let kms: Kms;
  let client: KmsClient;
  let key: string;
  let rsa: string;
  before(async () => {
    kms = await startKms();
    client = kms.client();
    key = await kms.createKey();
    rsa = await kms.createKey('RSA_2048');
    await kms.createAlias('alias/app', key);
  });
  after(() => kms.close());

  test('GenerateDataKey and Decrypt, with an encryption context', async () => {
    const context = { tenant: 'acme', purpose: 'test' };
    const out = await client.generateDataKey({ KeyId: 'alias/app', KeySpec: 'AES_256', EncryptionContext: context });
    assert.equal(out.KeyId, key);
    assert.ok(out.Plaintext instanceof Uint8Array && out.Plaintext.length === 32);
    assert.ok(out.CiphertextBlob instanceof Uint8Array && out.CiphertextBlob.length > 32);
    const back = await client.decrypt({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: context });
    assert.deepEqual(back.Plaintext, out.Plaintext);
    assert.equal(back.KeyId, key);
  });

  test('byte members given as Node Buffers (what a file read hands decrypt) are sent as base64 too', async () => {
    const context = { tenant: 'acme' };
    const out = await client.generateDataKey({ KeyId: 'alias/app', KeySpec: 'AES_256', EncryptionContext: context });
    // Buffer has a toJSON that JSON.stringify calls before any replacer sees the value.
    const back = await client.decrypt({ CiphertextBlob: Buffer.from(out.CiphertextBlob!), EncryptionContext: context });
    assert.deepEqual(back.Plaintext, out.Plaintext);
  });

  test('GenerateDataKeyWithoutPlaintext: encrypt later', async () => {
    const out = await client.generateDataKeyWithoutPlaintext({ KeyId: key, KeySpec: 'AES_256', EncryptionContext: { a: 'b' } });
    assert.equal(out.KeyId, key);
    assert.equal((out as Record<string, unknown>).Plaintext, undefined);
    const later = await client.decrypt({ KeyId: key, CiphertextBlob: out.CiphertextBlob, EncryptionContext: { a: 'b' } });
    assert.equal(later.Plaintext.length, 32);
  });

  test('direct Encrypt/Decrypt of up to 4096 bytes; more is refused by the KMS', async () => {
    const secret = crypto.getRandomValues(new Uint8Array(4096));
    const enc = await client.encrypt({ KeyId: key, Plaintext: secret, EncryptionContext: { k: 'v' } });
    assert.equal(enc.KeyId, key);
    const dec = await client.decrypt({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { k: 'v' } });
    assert.deepEqual(dec.Plaintext, secret);
    const tooBig = await rejectsCode(client.encrypt({ KeyId: key, Plaintext: new Uint8Array(4097) }), 'ERR_KMS');
    assert.equal(tooBig.kmsErrorType, 'ValidationException');
  });

  test('wrong context → ERR_KMS_DECRYPT with the request id and the KMS message', async () => {
    const enc = await client.encrypt({ KeyId: key, Plaintext: new Uint8Array([1, 2, 3]), EncryptionContext: { tenant: 'a' } });
    const err = await rejectsCode(client.decrypt({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { tenant: 'b' } }), 'ERR_KMS_DECRYPT');
    assert.ok(err instanceof SealboxError && err instanceof KmsRequestError);
    assert.match(err.requestId!, UUID);
    assert.equal(err.kmsErrorType, 'InvalidCiphertextException');
    assert.ok(err.message.includes(err.requestId!));
    // A different key named explicitly: IncorrectKeyException, also ERR_KMS_DECRYPT.
    const other = await kms.createKey();
    const wrongKey = await rejectsCode(client.decrypt({ KeyId: other, CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { tenant: 'a' } }), 'ERR_KMS_DECRYPT');
    assert.equal(wrongKey.kmsErrorType, 'IncorrectKeyException');
  });

  test('ReEncrypt moves a ciphertext to another key without the plaintext leaving the KMS', async () => {
    const dest = await kms.createKey();
    const enc = await client.encrypt({ KeyId: key, Plaintext: new Uint8Array([9, 9]), EncryptionContext: { x: '1' } });
    const re = await client.reEncrypt({
      CiphertextBlob: enc.CiphertextBlob,
      DestinationKeyId: dest,
      SourceEncryptionContext: { x: '1' },
      DestinationEncryptionContext: { x: '2' },
    });
    assert.equal(re.KeyId, dest);
    assert.equal(re.SourceKeyId, key);
    const dec = await client.decrypt({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { x: '2' } });
    assert.deepEqual(dec.Plaintext, new Uint8Array([9, 9]));
  });

  test('GetPublicKey gives an SPKI WebCrypto imports; RSA Decrypt ignores the SealboxEnvelope member', async () => {
    const pub = await client.getPublicKey({ KeyId: rsa });
    assert.equal(pub.KeyId, rsa);
    assert.ok(pub.EncryptionAlgorithms?.includes('RSAES_OAEP_SHA_256'));
    const publicKey = await crypto.subtle.importKey('spki', pub.PublicKey as BufferSource, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
    const dataKey = crypto.getRandomValues(new Uint8Array(32));
    const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, publicKey, dataKey));
    const out = await client.decrypt({
      KeyId: rsa,
      CiphertextBlob: wrapped,
      EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      SealboxEnvelope: { Protected: new Uint8Array([0xa0]), Salt: new Uint8Array(24), Commitment: new Uint8Array(32) },
    });
    assert.deepEqual(out.Plaintext, dataKey);
  });

  test('DescribeKey resolves an alias to the key ARN', async () => {
    const out = await client.describeKey({ KeyId: 'alias/app' });
    assert.equal(out.KeyMetadata.Arn, key);
    assert.equal(out.KeyMetadata.KeySpec, 'SYMMETRIC_DEFAULT');
  });

  test('send() reaches any other operation', async () => {
    const out = await client.send<{ Plaintext: Uint8Array }>('GenerateRandom', { NumberOfBytes: 16 });
    assert.equal(out.Plaintext.length, 16);
  });

  test('error mapping: disabled, not found, pending deletion, access denied, bad credentials', async () => {
    const disabled = await kms.createKey();
    await kms.admin.send(new DisableKeyCommand({ KeyId: disabled }));
    const e1 = await rejectsCode(client.generateDataKey({ KeyId: disabled, KeySpec: 'AES_256' }), 'ERR_KEY_DISABLED');
    assert.match(e1.requestId!, UUID);
    assert.equal(e1.kmsErrorType, 'DisabledException');

    const e2 = await rejectsCode(client.generateDataKey({ KeyId: 'alias/nope', KeySpec: 'AES_256' }), 'ERR_NOT_FOUND');
    assert.match(e2.requestId!, UUID);

    const doomed = await kms.createKey();
    await kms.admin.send(new ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 7 }));
    const e3 = await rejectsCode(client.encrypt({ KeyId: doomed, Plaintext: new Uint8Array([1]) }), 'ERR_KEY_STATE');
    assert.equal(e3.kmsErrorType, 'KMSInvalidStateException');

    const guarded = await kms.createKey();
    const policy = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${kms.server.account}:root` }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Principal: '*', Action: 'kms:GenerateDataKey', Resource: '*' },
      ],
    };
    await kms.admin.send(new PutKeyPolicyCommand({ KeyId: guarded, PolicyName: 'default', Policy: JSON.stringify(policy) }));
    const e4 = await rejectsCode(client.generateDataKey({ KeyId: guarded, KeySpec: 'AES_256' }), 'ERR_ACCESS_DENIED');
    assert.equal(e4.kmsErrorType, 'AccessDeniedException');
    assert.match(e4.message, /explicit deny/);

    const stranger = kms.client({ auth: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'nope' } });
    const e5 = await rejectsCode(stranger.describeKey({ KeyId: key }), 'ERR_ACCESS_DENIED');
    assert.match(e5.requestId!, UUID);
    const badSecret = kms.client({ auth: { ...kms.server.credentials, secretAccessKey: 'wrong' } });
    await rejectsCode(badSecret.describeKey({ KeyId: key }), 'ERR_ACCESS_DENIED');
  });

  test('non-retryable errors are not retried', async () => {
    const before = kms.calls.length;
    await rejectsCode(client.generateDataKey({ KeyId: 'alias/missing', KeySpec: 'AES_256' }), 'ERR_NOT_FOUND');
    assert.equal(kms.calls.length - before, 1);
  });

  test('SigV4 needs a region', () => {
    assert.throws(() => new KmsClient({ endpoint: 'http://127.0.0.1:1', auth: { accessKeyId: 'a', secretAccessKey: 'b' } }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.equal(new KmsClient({ endpoint: 'https://kms.eu-west-3.amazonaws.com' }).region, 'eu-west-3');
  });
});

// ── retries, against a scripted node:http server ─────────────────────────────────────────────

type Reply = { status: number; type?: string; headers?: Record<string, string>; body?: unknown; hang?: boolean };

interface Scripted {
  url: string;
  requests: { at: number; headers: IncomingMessage['headers']; body: string }[];
  script(replies: Reply[]): void;
  close(): Promise<void>;
}

async function scriptedServer(): Promise<Scripted> {
  let replies: Reply[] = [];
  const requests: Scripted['requests'] = [];
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ at: Date.now(), headers: req.headers, body });
      const reply = replies[Math.min(requests.length - 1, replies.length - 1)]!;
      if (reply.hang) return; // never answers
      const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `req-${++n}`, ...reply.headers };
      res.writeHead(reply.status, headers);
      res.end(JSON.stringify(reply.body ?? (reply.type ? { __type: reply.type, message: `scripted ${reply.type}` } : { KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k', Plaintext: 'AAEC' })));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    script(r) {
      replies = r;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('KmsClient retries (real HTTP server)', () => {
  let srv: Scripted;
  before(async () => {
    srv = await scriptedServer();
  });
  after(() => srv.close());
  const fast = { baseDelayMs: 20, maxDelayMs: 200 };
  const ok: Reply = { status: 200 };

  test('503 twice, then success: three requests, the answer decoded', async () => {
    srv.script([{ status: 503, type: 'KMSInternalException' }, { status: 503 }, ok]);
    const client = new KmsClient({ endpoint: srv.url, retry: fast });
    const out = await client.decrypt({ CiphertextBlob: new Uint8Array([1]) });
    assert.deepEqual(out.Plaintext, new Uint8Array([0, 1, 2]));
    assert.equal(srv.requests.length, 3);
    assert.equal(srv.requests[0]!.headers['x-amz-target'], 'TrentService.Decrypt');
    assert.equal(srv.requests[0]!.headers['content-type'], 'application/x-amz-json-1.1');
    assert.deepEqual(JSON.parse(srv.requests[0]!.body), { CiphertextBlob: 'AQ==' });
  });

  test('ThrottlingException (HTTP 400) is retried with backoff; Retry-After is honoured', async () => {
    srv.script([{ status: 400, type: 'ThrottlingException', headers: { 'retry-after': '1' } }, { status: 400, type: 'ThrottlingException' }, ok]);
    const client = new KmsClient({ endpoint: srv.url, retry: fast });
    const t0 = Date.now();
    await client.decrypt({ CiphertextBlob: new Uint8Array([1]) });
    assert.equal(srv.requests.length, 3);
    const [a, b, c] = srv.requests.map((r) => r.at);
    assert.ok(b! - a! >= 900, `waited ${b! - a!} ms after Retry-After: 1`);
    assert.ok(c! - b! < 900, `the jittered backoff (≤ 20 ms) took ${c! - b!} ms`);
    assert.ok(Date.now() - t0 < 5000);
  });

  test('persistent throttling surfaces ERR_THROTTLED after maxAttempts, with the last request id', async () => {
    srv.script([{ status: 400, type: 'com.amazonaws.kms#ThrottlingException' }]);
    const client = new KmsClient({ endpoint: srv.url, retry: { ...fast, maxAttempts: 3 } });
    const err = await rejectsCode(client.generateDataKey({ KeyId: 'k', KeySpec: 'AES_256' }), 'ERR_THROTTLED');
    assert.equal(srv.requests.length, 3);
    assert.match(err.requestId!, /^req-\d+$/);
    assert.equal(err.kmsErrorType, 'ThrottlingException');
  });

  test('HTTP 429 without a body type counts as throttling', async () => {
    srv.script([{ status: 429, body: {} }, ok]);
    await new KmsClient({ endpoint: srv.url, retry: fast }).decrypt({ CiphertextBlob: new Uint8Array([1]) });
    assert.equal(srv.requests.length, 2);
  });

  test('a 400 (other than throttling) is never retried', async () => {
    for (const type of ['ValidationException', 'AccessDeniedException', 'InvalidCiphertextException']) {
      srv.script([{ status: 400, type }, ok]);
      await assert.rejects(new KmsClient({ endpoint: srv.url, retry: fast }).decrypt({ CiphertextBlob: new Uint8Array([1]) }));
      assert.equal(srv.requests.length, 1, type);
    }
  });

  test('5xx until the attempts run out → ERR_KMS', async () => {
    srv.script([{ status: 500, type: 'KMSInternalException' }]);
    const err = await rejectsCode(new KmsClient({ endpoint: srv.url, retry: fast }).decrypt({ CiphertextBlob: new Uint8Array([1]) }), 'ERR_KMS');
    assert.equal(srv.requests.length, 4);
    assert.equal(err.requestId, 'req-' + err.requestId!.slice(4));
  });

  test('a Retry-After beyond maxRetryAfterMs surfaces at once', async () => {
    srv.script([{ status: 503, headers: { 'retry-after': '3600' } }, ok]);
    const t0 = Date.now();
    await rejectsCode(new KmsClient({ endpoint: srv.url, retry: fast }).decrypt({ CiphertextBlob: new Uint8Array([1]) }), 'ERR_KMS');
    assert.equal(srv.requests.length, 1);
    assert.ok(Date.now() - t0 < 1000);
  });

  test('per-attempt timeout: a hanging server gives ERR_TIMEOUT after every attempt timed out', async () => {
    srv.script([{ status: 200, hang: true }]);
    const t0 = Date.now();
    const err = await rejectsCode(new KmsClient({ endpoint: srv.url, timeoutMs: 150, retry: { ...fast, maxAttempts: 2 } }).decrypt({ CiphertextBlob: new Uint8Array([1]) }), 'ERR_TIMEOUT');
    assert.equal(srv.requests.length, 2);
    assert.ok(Date.now() - t0 >= 280, `${Date.now() - t0} ms`);
    assert.match(err.message, /timed out/);
  });

  test('a hang then a success: the timeout is per attempt', async () => {
    srv.script([{ status: 200, hang: true }, ok]);
    await new KmsClient({ endpoint: srv.url, timeoutMs: 150, retry: fast }).decrypt({ CiphertextBlob: new Uint8Array([1]) });
    assert.equal(srv.requests.length, 2);
  });

  test('network errors are retried, then ERR_KMS', async () => {
    let attempts = 0;
    const counting: typeof fetch = (input, init) => {
      attempts++;
      return fetch(input, init);
    };
    const closed = await scriptedServer();
    const url = closed.url;
    await closed.close();
    await rejectsCode(new KmsClient({ endpoint: url, fetch: counting, retry: fast }).decrypt({ CiphertextBlob: new Uint8Array([1]) }), 'ERR_KMS');
    assert.equal(attempts, 4);
  });

  test('an abort signal stops the call and its backoff with ERR_ABORTED', async () => {
    srv.script([{ status: 503, headers: { 'retry-after': '5' } }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const t0 = Date.now();
    await rejectsCode(new KmsClient({ endpoint: srv.url }).decrypt({ CiphertextBlob: new Uint8Array([1]) }, { signal: controller.signal }), 'ERR_ABORTED');
    assert.ok(Date.now() - t0 < 2000);
  });

  test('the auth hook is called for every attempt and its headers are sent', async () => {
    srv.script([{ status: 503 }, ok]);
    let calls = 0;
    const client = new KmsClient({ endpoint: srv.url, retry: fast, auth: async () => ({ authorization: `Bearer token-${++calls}` }) });
    await client.describeKey({ KeyId: 'k' });
    assert.deepEqual(srv.requests.map((r) => r.headers.authorization), ['Bearer token-1', 'Bearer token-2']);
  });

  test('retry: false makes one attempt', async () => {
    srv.script([{ status: 503 }, ok]);
    await rejectsCode(new KmsClient({ endpoint: srv.url, retry: false }).decrypt({ CiphertextBlob: new Uint8Array([1]) }), 'ERR_KMS');
    assert.equal(srv.requests.length, 1);
  });
});
