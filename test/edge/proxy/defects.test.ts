// The three defects a hostile-client run found in the proxy (issue 14 §1), each pinned over real
// HTTP against a real local KMS: a SigV4 replay disguised by a decoy Authorization field, a deeply
// nested member that overflowed the stack (500), and an encryption context whose keys differ only
// in case, which made the policy decision depend on key order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AwsClient } from 'aws4fetch';
import { MACHINE, REGION, auditRecords, bearer, call, startEnv, token, type Env } from './helpers.js';

let env: Env;
let url: string;
const tok: Record<string, string> = {};

before(async () => {
  env = await startEnv();
  url = env.proxy.url;
  tok.uploaderA = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
  tok.readerB = await token({ sub: 'bob', tenant: 'b', role: 'reader' });
});
after(() => env.close());

const lastAudit = () => auditRecords(env.audit).at(-1)!;
const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0')).join('');

describe('SigV4: one parser for the signature that is verified and the one that keys the replay cache', () => {
  const aws = new AwsClient({ ...MACHINE, service: 'kms', region: REGION, retries: 0 });
  async function signedCall(op: string, body: string): Promise<Record<string, string>> {
    const signed = await aws.sign(url, { method: 'POST', headers: { 'x-amz-target': `TrentService.${op}`, 'content-type': 'application/x-amz-json-1.1' }, body });
    return Object.fromEntries(signed.headers);
  }
  const decoys: Array<[string, (auth: string) => string]> = [
    ['a decoy Signature before the real one', (a) => a.replace('Signature=', `Signature=${randomHex()}, Signature=`)],
    ['a decoy XSignature before the real one', (a) => a.replace('Signature=', `XSignature=${randomHex()}, Signature=`)],
    ['a decoy Signature after the real one', (a) => `${a}, Signature=${randomHex()}`],
    ['an unknown field', (a) => `${a}, Foo=bar`],
    ['a duplicate Credential', (a) => a.replace('SignedHeaders=', `Credential=${a.split('Credential=')[1]!.split(',')[0]}, SignedHeaders=`)],
    ['the real signature repeated', (a) => `${a}, Signature=${a.split('Signature=')[1]}`],
  ];
  for (const [name, mangle] of decoys) {
    test(`a captured request replayed with ${name} is refused`, async () => {
      // A body of its own per case: two identical requests signed in the same second are one signature.
      const body = JSON.stringify({ KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a', case: name } });
      const headers = await signedCall('GenerateDataKey', body);
      const first = await fetch(url, { method: 'POST', headers, body });
      assert.equal(first.status, 200);
      const replay = await fetch(url, { method: 'POST', headers: { ...headers, authorization: mangle(headers.authorization!) }, body });
      const answer = (await replay.json()) as { __type: string; Plaintext?: string };
      assert.equal(replay.status, 400);
      assert.equal(answer.Plaintext, undefined);
      assert.equal(answer.__type, 'IncompleteSignatureException');
      assert.equal(lastAudit().outcome, 'deny');
    });
  }
  test('the same mangled header is refused on a first use too (never accepted, never remembered)', async () => {
    const body = '{"KeyId":"alias/tenant-a"}';
    const headers = await signedCall('DescribeKey', body);
    const decoy = await fetch(url, { method: 'POST', headers: { ...headers, authorization: headers.authorization!.replace('Signature=', `XSignature=${randomHex()}, Signature=`) }, body });
    assert.equal(decoy.status, 400);
    // The genuine request was not consumed by the refused one.
    const genuine = await fetch(url, { method: 'POST', headers, body });
    assert.equal(genuine.status, 200);
  });
});

describe('request members are checked against the KMS API shape before anything else', () => {
  const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  // 10,000 levels of objects stay under the proxy's 64 KiB body cap.
  const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const cases: Array<[string, string, string]> = [
    ['Decrypt', `{"CiphertextBlob":${deep(20000)}}`, 'SerializationException'],
    ['Decrypt', `{"CiphertextBlob":"AAAA","EncryptionContext":${deepObject(10000)}}`, 'SerializationException'],
    ['GenerateDataKey', `{"KeyId":"alias/tenant-a","NumberOfBytes":${deep(20000)}}`, 'SerializationException'],
    ['GenerateDataKey', `{"KeyId":"alias/tenant-a","DryRun":${deepObject(10000)}}`, 'SerializationException'],
    ['GenerateDataKey', `{"KeyId":${deep(20000)}}`, 'SerializationException'],
    ['Decrypt', `{"CiphertextBlob":"AAAA","SealboxEnvelope":${deepObject(10000)}}`, 'ValidationException'],
    ['GenerateDataKey', '{"KeyId":"alias/tenant-a","NumberOfBytes":"32"}', 'SerializationException'],
    ['GenerateDataKey', '{"KeyId":"alias/tenant-a","NumberOfBytes":2.5}', 'SerializationException'],
    ['GenerateDataKey', '{"KeyId":"alias/tenant-a","NumberOfBytes":0}', 'ValidationException'],
    ['GenerateDataKey', '{"KeyId":"alias/tenant-a","NumberOfBytes":1025}', 'ValidationException'],
    ['GenerateDataKey', '{"KeyId":"alias/tenant-a","KeySpec":"AES_512"}', 'ValidationException'],
    ['GenerateDataKey', '{"KeyId":"alias/tenant-a","KeySpec":1}', 'SerializationException'],
    ['GenerateDataKey', '{"KeyId":"alias/tenant-a","DryRun":"yes"}', 'SerializationException'],
    ['GenerateDataKey', '{"KeyId":""}', 'ValidationException'],
    ['Encrypt', '{"KeyId":"alias/tenant-a","Plaintext":"not base64!"}', 'SerializationException'],
    ['Encrypt', `{"KeyId":"alias/tenant-a","Plaintext":"${'A'.repeat(5464)}"}`, 'ValidationException'],
    ['Encrypt', '{"KeyId":"alias/tenant-a","Plaintext":"QQ==","EncryptionAlgorithm":"ROT13"}', 'ValidationException'],
    ['Decrypt', '{"CiphertextBlob":12}', 'SerializationException'],
    ['Decrypt', '{"CiphertextBlob":""}', 'ValidationException'],
    ['Decrypt', '{"CiphertextBlob":"AAAA","EncryptionContext":{"tenant":1}}', 'SerializationException'],
    ['Decrypt', '{"CiphertextBlob":"AAAA","EncryptionContext":[]}', 'SerializationException'],
  ];
  for (const [op, body, type] of cases) {
    test(`${op} ${body.length > 80 ? body.slice(0, 60) + '…' : body} → 400 ${type}`, async () => {
      const answer = await call(url, op, body, bearer(tok.uploaderA!));
      assert.equal(answer.status, 400, JSON.stringify(answer.body).slice(0, 300));
      assert.equal(answer.body.__type, type);
      assert.equal(lastAudit().status, 400);
    });
  }
});

describe('an encryption context with two keys equal ignoring case is refused (the decision never depends on key order)', () => {
  const contexts = [
    { TENANT: 'a', Tenant: 'b' },
    { Tenant: 'b', TENANT: 'a' },
    { tenant: 'a', TENANT: 'b' },
    { TENANT: 'b', tenant: 'a' },
  ];
  for (const context of contexts) {
    test(`GenerateDataKey with ${JSON.stringify(context)} → 400 ValidationException, audited`, async () => {
      const answer = await call(url, 'GenerateDataKey', { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: context }, bearer(tok.uploaderA!));
      assert.equal(answer.status, 400);
      assert.equal(answer.body.__type, 'ValidationException');
      assert.equal(answer.body.Plaintext, undefined);
      const record = lastAudit();
      assert.equal(record.outcome, 'deny');
      assert.equal(record.errorType, 'ValidationException');
      assert.equal(record.principal, 'jwt/alice');
    });
  }
  test('the reader of the other tenant cannot decrypt by reordering (Decrypt and ReEncrypt contexts too)', async () => {
    const gen = await call(url, 'GenerateDataKey', { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }, bearer(tok.uploaderA!));
    assert.equal(gen.status, 200);
    for (const context of contexts) {
      const dec = await call(url, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob, EncryptionContext: context }, bearer(tok.readerB!));
      assert.equal(dec.status, 400);
      assert.equal(dec.body.__type, 'ValidationException');
      assert.equal(dec.body.Plaintext, undefined);
      const re = await call(url, 'ReEncrypt', { CiphertextBlob: gen.body.CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: 'alias/tenant-b' }, bearer(tok.readerB!));
      assert.equal(re.body.__type, 'ValidationException');
    }
  });
});
