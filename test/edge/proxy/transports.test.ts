// The proxy's two upstream paths give the same answers: the Web path (aws4fetch + fetch, what
// Workers, Deno and Bun run) and the Node fast path (node:crypto SigV4 + a keep-alive node:http
// pool, what startProxyServer uses). The same calls go through one proxy of each kind, in front of
// one real local KMS, and their answers are compared member by member (values that differ by
// nature, such as fresh ciphertexts and request ids, by shape).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createProxy } from '../../../src/edge/proxy/index.js';
import { AUDIENCE, ISSUER, JWT_SECRET, POLICY, REGION, bearer, call, serve, startEnv, token, type Env } from './helpers.js';

let env: Env;
let web: { url: string; close(): Promise<void> };
const tok: Record<string, string> = {};

before(async () => {
  env = await startEnv();
  // The Web path: createProxy's own defaults, served by a plain node:http wrapper.
  const proxy = createProxy({
    upstream: { endpoint: env.kms.url, region: REGION, credentials: env.kms.credentials, timeoutMs: 5000 },
    auth: { jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE } },
    policy: POLICY,
    rateLimit: false,
    audit: 'none',
  });
  web = await serve((request) => proxy.fetch(request));
  tok.uploaderA = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
  tok.readerA = await token({ sub: 'ann', tenant: 'a', role: 'reader' });
  tok.readerB = await token({ sub: 'bob', tenant: 'b', role: 'reader' });
});
after(async () => {
  await web.close();
  await env.close();
});

/** The answer with the members that differ between two correct calls replaced by their kind. */
function comparable(answer: { status: number; body: Record<string, unknown> }) {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(answer.body)) body[k] = k === 'CiphertextBlob' || k === 'Plaintext' ? `<${typeof v}>` : v;
  return { status: answer.status, body };
}

test('the Web path and the Node fast path answer every call alike', async () => {
  const node = env.proxy.url;
  const generated = await call(node, 'GenerateDataKey', { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }, bearer(tok.uploaderA!));
  assert.equal(generated.status, 200);
  const calls: Array<[string, string, unknown]> = [
    ['uploader', 'GenerateDataKey', { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }],
    ['uploader', 'GenerateDataKeyWithoutPlaintext', { KeyId: 'alias/tenant-a', NumberOfBytes: 16, EncryptionContext: { tenant: 'a' } }],
    ['uploader', 'Encrypt', { KeyId: 'alias/tenant-a', Plaintext: 'aGVsbG8=', EncryptionContext: { tenant: 'a' } }],
    ['readerA', 'Decrypt', { CiphertextBlob: generated.body.CiphertextBlob, EncryptionContext: { tenant: 'a' } }],
    ['readerA', 'Decrypt', { CiphertextBlob: generated.body.CiphertextBlob, EncryptionContext: { tenant: 'b' } }],
    ['readerB', 'Decrypt', { CiphertextBlob: generated.body.CiphertextBlob, EncryptionContext: { tenant: 'a' } }],
    ['readerA', 'DescribeKey', { KeyId: 'alias/tenant-b' }],
    ['readerA', 'DescribeKey', { KeyId: 'alias/no-such-key' }],
    ['readerA', 'GetPublicKey', { KeyId: 'alias/rsa-shared' }],
    ['uploader', 'GenerateDataKey', { KeyId: 'alias/secret', EncryptionContext: { tenant: 'a' } }],
    ['uploader', 'Decrypt', { CiphertextBlob: 'AAAA' }],
  ];
  const who: Record<string, string> = { uploader: tok.uploaderA!, readerA: tok.readerA!, readerB: tok.readerB! };
  for (const [caller, op, body] of calls) {
    const viaNode = await call(node, op, body, bearer(who[caller]!));
    const viaWeb = await call(web.url, op, body, bearer(who[caller]!));
    assert.deepEqual(comparable(viaNode), comparable(viaWeb), `${caller} ${op} ${JSON.stringify(body).slice(0, 80)}`);
  }
});
