// The same KMS through its WHATWG fetch handler (here behind @hono/node-server), as the dev server
// mounts it, and called in-process without any HTTP server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AwsClient } from 'aws4fetch';
import { CreateKeyCommand, DecryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { createLocalKms } from '../../../src/node/kms/index.js';
import { ROOT_KEY, rejectsWith, startHarness, tempDir } from './helpers.js';
import { rm } from 'node:fs/promises';

test('adapter: hono (fetch handler) works with the AWS SDK', async () => {
  const h = await startHarness({ adapter: 'hono' });
  try {
    const id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const g = await h.client.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: { a: 'b' } }));
    const d = await h.client.send(new DecryptCommand({ CiphertextBlob: g.CiphertextBlob, EncryptionContext: { a: 'b' } }));
    assert.deepEqual(Buffer.from(d.Plaintext!), Buffer.from(g.Plaintext!));
    await rejectsWith(h.clientFor({ secretAccessKey: 'nope' }).send(new CreateKeyCommand({})), 'InvalidSignatureException');
  } finally {
    await h.close();
  }
});

test('in-process fetch with aws4fetch-signed Requests', async () => {
  const dir = await tempDir();
  const kms = await createLocalKms({ dataDir: dir, rootKey: ROOT_KEY, env: {}, log: () => {} });
  try {
    const aws = new AwsClient({ ...kms.credentials, service: 'kms', region: kms.region, retries: 0 });
    const call = async (op: string, body: unknown) => {
      const req = await aws.sign('https://kms.us-east-1.amazonaws.com/', {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
        body: JSON.stringify(body),
      });
      const res = await kms.fetch(req);
      assert.equal(res.headers.get('content-type'), 'application/x-amz-json-1.1');
      assert.ok(res.headers.get('x-amzn-requestid'));
      return { status: res.status, json: (await res.json()) as Record<string, any> };
    };
    const created = await call('CreateKey', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    assert.equal(created.status, 200);
    const mac = await call('GenerateMac', { KeyId: created.json.KeyMetadata.KeyId, Message: 'aGVsbG8=', MacAlgorithm: 'HMAC_SHA_256' });
    assert.equal(mac.status, 200);
    const bad = await call('GenerateMac', { KeyId: created.json.KeyMetadata.KeyId, Message: 'aGVsbG8=', MacAlgorithm: 'HMAC_SHA_512' });
    assert.deepEqual([bad.status, bad.json.__type], [400, 'InvalidKeyUsageException']);
    const unknown = await call('Frobnicate', {});
    assert.deepEqual([unknown.status, unknown.json.__type], [400, 'UnknownOperationException']);
  } finally {
    await kms.close();
    await rm(dir, { recursive: true, force: true });
  }
});
