// Regression tests for what the fuzz targets (test/fuzz/) found, and checks of the fuzzers' own helpers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AwsV4Signer } from 'aws4fetch';
import { PolicyError, evaluatePolicy, parsePolicy } from '../../src/edge/policy/index.js';
import { verifySigV4 } from '../../src/edge/aws/sigv4.js';
import { asSigV4Request, sign } from '../fuzz/sign.js';

// fuzz "policy parser" (seed 1): a Statement list with a hole passed validation, and every
// evaluation then threw a TypeError (the proxy answered 500 to every request).
test('parsePolicy rejects sparse lists (Statement, Action, Condition values) with a PolicyError', () => {
  const allow = { Effect: 'Allow', Principal: '*', Action: 'kms:*' };
  // eslint-disable-next-line no-sparse-arrays
  const holes: unknown[] = [
    { Statement: [, allow] }, // eslint-disable-line no-sparse-arrays
    { Statement: [allow, ,] }, // eslint-disable-line no-sparse-arrays
    { Statement: [{ ...allow, Action: ['kms:Decrypt', , 'kms:Encrypt'] }] }, // eslint-disable-line no-sparse-arrays
    { Statement: [{ ...allow, Condition: { StringEquals: { 'jwt:tenant': ['a', , 'b'] } } }] }, // eslint-disable-line no-sparse-arrays
    { Statement: [{ ...allow, Principal: { AWS: ['jwt/a', , 'jwt/b'] } }] }, // eslint-disable-line no-sparse-arrays
  ];
  for (const doc of holes) {
    assert.throws(() => parsePolicy(doc), PolicyError, JSON.stringify(doc));
  }
  // Dense versions still parse and evaluate.
  const ok = parsePolicy({ Statement: [{ ...allow, Condition: { StringEquals: { 'jwt:tenant': ['a', 'b'] } } }] });
  assert.equal(evaluatePolicy(ok, { principal: 'jwt/x', action: 'kms:Decrypt', conditionKeys: { 'jwt:tenant': 'b' } }).decision, 'Allow');
});

test('the fuzzers’ SigV4 signer agrees with aws4fetch and the verifier', async () => {
  const now = Date.now();
  const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const body = '{"KeyId":"alias/x","EncryptionContext":{"tenant":"a"}}';
  const url = 'https://kms.us-east-1.amazonaws.com/a%20b/c?b=2&a=1&a=0';
  // aws4fetch leaves content-type unsigned; the fuzz signer signs every header it is given.
  const headers = { 'x-amz-target': 'TrentService.Encrypt' };
  const mine = sign({ method: 'POST', url, headers, body, ...creds, region: 'us-east-1', service: 'kms', time: now });
  const theirs = await new AwsV4Signer({
    method: 'POST',
    url,
    headers,
    body,
    ...creds,
    region: 'us-east-1',
    service: 'kms',
    datetime: mine.headers['x-amz-date'],
  }).sign();
  const sig = (h: string) => /Signature=([0-9a-f]{64})/.exec(h)![1];
  assert.equal(sig(mine.headers.authorization!), sig(theirs.headers.get('authorization')!));
  const result = await verifySigV4(asSigV4Request(mine), mine.body, { lookupSecret: () => ({ secretAccessKey: creds.secretAccessKey }), now: () => now });
  assert.equal(result.accessKeyId, creds.accessKeyId);
});

// A context entry named "__proto__" (JSON.parse makes it an own property) was dropped by `out[k] = v`
// when the context was copied: the local KMS did not bind it to the ciphertext (it decrypted under
// any other value, or none), and envelopes silently left it out.
test('an encryption context key "__proto__" is bound like any other (local KMS and envelopes)', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createLocalKms } = await import('../../src/node/kms/index.js');
  const { RawAesKeyring, decrypt, encrypt } = await import('../../src/index.js');
  const creds = { accessKeyId: 'AKIAPROTOREGRESSION1', secretAccessKey: 'proto-regression-secret-0123456789abcd' };
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-proto-'));
  const kms = await createLocalKms({ dataDir: dir, rootKey: Buffer.alloc(32, 1).toString('base64'), env: {}, log: () => {}, credentials: [creds], audit: false });
  const call = async (op: string, body: string) => {
    const s = sign({ method: 'POST', url: 'http://kms.local/', headers: { 'x-amz-target': `TrentService.${op}` }, body, ...creds, region: 'us-east-1', service: 'kms', time: Date.now() });
    const r = await kms.fetch(new Request(s.url, { method: 'POST', headers: s.headers, body: s.body }));
    return { status: r.status, json: (await r.json()) as Record<string, any> };
  };
  try {
    const keyId = (await call('CreateKey', '{}')).json.KeyMetadata.KeyId;
    const e = await call('Encrypt', `{"KeyId":"${keyId}","Plaintext":"aGk=","EncryptionContext":{"__proto__":"tenant-a"}}`);
    assert.equal(e.status, 200);
    const blob = e.json.CiphertextBlob as string;
    assert.equal((await call('Decrypt', `{"CiphertextBlob":"${blob}"}`)).json.__type, 'InvalidCiphertextException');
    assert.equal((await call('Decrypt', `{"CiphertextBlob":"${blob}","EncryptionContext":{"__proto__":"other"}}`)).json.__type, 'InvalidCiphertextException');
    assert.equal((await call('Decrypt', `{"CiphertextBlob":"${blob}","EncryptionContext":{"__proto__":"tenant-a"}}`)).status, 200);
  } finally {
    await kms.close();
    await rm(dir, { recursive: true, force: true });
  }

  const keyring = new RawAesKeyring({ keyName: 'proto', key: new Uint8Array(32).fill(3) });
  const context = JSON.parse('{"__proto__":"tenant-a","app":"x"}') as Record<string, string>;
  const envelope = await encrypt(new Uint8Array([1, 2, 3]), { keyring, context });
  const result = await decrypt(envelope, { keyring });
  assert.ok(Object.prototype.hasOwnProperty.call(result.context, '__proto__'), 'the "__proto__" entry was dropped from the envelope');
  assert.equal(Object.getOwnPropertyDescriptor(result.context, '__proto__')?.value, 'tenant-a');
  assert.equal(result.context.app, 'x');
});

// fuzz "decryptRange" (seed 20261123, case 24198): splicing the other envelope in at a point where
// both agree rebuilds that envelope whole; it is valid and must decrypt (an oracle fix, kept here).
test('decryptRange / DecryptStream cases from the fuzzers', async () => {
  const { replayRangeCase, replayStreamCase } = await import('../fuzz/stream.js');
  await replayRangeCase([{ kind: 'splice', at: 11, from: 11 }], 0, 0, false);
  await replayRangeCase([{ kind: 'splice', at: 11, from: 11 }], 100, 20000, true);
  await replayStreamCase([{ kind: 'splice', at: 11, from: 11 }], [7, 100000]);
  // Tampering must still be caught: a flipped payload byte, and a truncation inside the last chunk.
  await replayRangeCase([{ kind: 'flip', at: 30000, bit: 3 }], 0, 40000, true);
  await replayStreamCase([{ kind: 'truncate', at: 60000 }], [5000]);
  await replayStreamCase([{ kind: 'length', value: 0xffffffff }], []);
});
