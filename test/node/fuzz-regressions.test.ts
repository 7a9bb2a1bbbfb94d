// Regression tests for what the fuzz targets (test/fuzz/) found, and checks of the fuzzers' own helpers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AwsV4Signer } from 'aws4fetch';
import { PolicyError, evaluatePolicy, parsePolicy } from '../../src/policy/index.js';
import { verifySigV4 } from '../../src/kms/sigv4.js';
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
