// Malformed input never crashes the proxy: random operations, members and values (fast-check)
// always get a KMS-style JSON answer (`__type`, `message`, request id) and an audit line each.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { bearer, startEnv, token, type Env } from './helpers.js';

let env: Env;
before(async () => {
  env = await startEnv();
});
after(() => env.close());

const OPS = ['GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'Encrypt', 'Decrypt', 'ReEncrypt', 'GetPublicKey', 'DescribeKey', 'CreateKey', 'Bogus'];
const MEMBERS = ['KeyId', 'EncryptionContext', 'KeySpec', 'NumberOfBytes', 'Plaintext', 'CiphertextBlob', 'EncryptionAlgorithm', 'SealboxEnvelope', 'DestinationKeyId', 'SourceKeyId', 'SourceEncryptionContext', 'DestinationEncryptionContext', 'DryRun', '__proto__', 'constructor'];
const value = fc.oneof(
  fc.constantFrom('alias/tenant-a', 'alias/secret', 'alias/none', 'RSAES_OAEP_SHA_256', 'SYMMETRIC_DEFAULT', 'AES_256', 'AAAA', '', 'arn:aws:kms:us-east-1:111122223333:key/x'),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.dictionary(fc.constantFrom('tenant', 'Protected', 'Salt', 'Commitment', 'x'), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant('AAAA'))),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
);
const body = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(fc.constantFrom(...MEMBERS), value, { maxKeys: 5 }).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }) },
);

test('random requests get KMS-style errors, never a crash or an internal error', async () => {
  const jwt = await token({ sub: 'fuzzer', tenant: 'a', role: 'admin' });
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...OPS), body, fc.boolean(), async (op, payload, withAuth) => {
      const before = env.audit.length;
      const res = await fetch(env.proxy.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}`, ...(withAuth ? bearer(jwt) : {}) },
        body: payload,
      });
      sent++;
      const text = await res.text();
      const parsed = JSON.parse(text) as Record<string, unknown>;
      assert.ok(res.headers.get('x-amzn-requestid'));
      assert.ok(res.status < 500, `${op} ${payload} → ${res.status} ${text}`);
      if (res.status !== 200) {
        assert.equal(typeof parsed.__type, 'string', text);
        assert.equal(typeof parsed.message, 'string', text);
      }
      assert.equal(env.audit.length, before + 1);
    }),
    { numRuns: 150, seed: 20261123 },
  );
  assert.equal(sent, 150);
});
