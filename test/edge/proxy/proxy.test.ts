// The proxy over real HTTP in front of a real local KMS: authentication (JWT, JWKS, SigV4 with
// replay), policy (tenant isolation, separation of duties, alias = key), RSA envelope commitment,
// limits (rate, body, upstream timeout), CORS, refusals, and the audit trail.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AwsClient } from 'aws4fetch';
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { RsaOaepKeyring } from '../../../src/sdk/keyring/rsa-oaep.js';
import type { Keyring } from '../../../src/sdk/keyring/types.js';
import { parseEnvelopeHeader } from '../../../src/sdk/format/header.js';
import { DEFAULT_LIMITS } from '../../../src/sdk/format/constants.js';
import {
  ACCOUNT,
  AUDIENCE,
  ISSUER,
  KEY_IDS,
  MACHINE,
  REGION,
  arn,
  auditRecords,
  b64,
  bearer,
  call,
  serve,
  startEnv,
  token,
  type Env,
} from './helpers.js';

let env: Env;
let url: string;
const tok: Record<string, string> = {};

before(async () => {
  env = await startEnv();
  url = env.proxy.url;
  tok.uploaderA = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
  tok.readerA = await token({ sub: 'ann', tenant: 'a', role: 'reader' });
  tok.readerB = await token({ sub: 'bob', tenant: 'b', role: 'reader' });
  tok.uploaderB = await token({ sub: 'bea', tenant: 'b', role: 'uploader' });
  tok.adminA = await token({ sub: 'root-a', tenant: 'a', role: 'admin' });
  tok.ops = await token({ sub: 'ops' });
});
after(() => env.close());

const lastAudit = () => auditRecords(env.audit).at(-1)!;

async function dataKey(jwt: string, keyId: string, tenant: string) {
  return call(url, 'GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { tenant } }, bearer(jwt));
}

describe('JWT callers (HS256 shared secret)', () => {
  test('an uploader gets a data key for its tenant; a reader of that tenant decrypts it', async () => {
    const gen = await dataKey(tok.uploaderA!, 'alias/tenant-a', 'a');
    assert.equal(gen.status, 200, JSON.stringify(gen.body));
    assert.equal(gen.body.KeyId, arn(KEY_IDS.tenantA));
    assert.equal(Buffer.from(gen.body.Plaintext, 'base64').length, 32);
    assert.ok(gen.headers.get('x-amzn-requestid'));
    const rec = lastAudit();
    assert.equal(rec.outcome, 'allow');
    assert.equal(rec.principal, 'jwt/alice');
    assert.equal(rec.op, 'GenerateDataKey');
    assert.equal(rec.keyId, arn(KEY_IDS.tenantA));
    assert.equal(rec.requestedKeyId, 'alias/tenant-a');
    assert.deepEqual(rec.context, { tenant: 'a' });

    const dec = await call(url, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob, KeyId: 'alias/tenant-a', EncryptionContext: { tenant: 'a' } }, bearer(tok.readerA!));
    assert.equal(dec.status, 200, JSON.stringify(dec.body));
    assert.equal(dec.body.Plaintext, gen.body.Plaintext);
    // Decrypt without KeyId: authorized against the key that answered.
    const dec2 = await call(url, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob, EncryptionContext: { tenant: 'a' } }, bearer(tok.readerA!));
    assert.equal(dec2.status, 200, JSON.stringify(dec2.body));
    assert.equal(dec2.body.KeyId, arn(KEY_IDS.tenantA));
  });

  test('separation of duties: an uploader cannot decrypt, a reader cannot generate', async () => {
    const gen = await dataKey(tok.uploaderA!, 'alias/tenant-a', 'a');
    const dec = await call(url, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob, KeyId: 'alias/tenant-a', EncryptionContext: { tenant: 'a' } }, bearer(tok.uploaderA!));
    assert.equal(dec.status, 400);
    assert.equal(dec.body.__type, 'AccessDeniedException');
    assert.equal(dec.body.Plaintext, undefined);
    assert.equal(lastAudit().outcome, 'deny');
    assert.equal(lastAudit().principal, 'jwt/alice');
    const gen2 = await dataKey(tok.readerA!, 'alias/tenant-a', 'a');
    assert.equal(gen2.body.__type, 'AccessDeniedException');
  });

  test('tenant B cannot decrypt tenant A\'s data key (symmetric): policy or KMS refuses, and it is audited', async () => {
    const gen = await dataKey(tok.uploaderA!, 'alias/tenant-a', 'a');
    // Truthful context: the policy wants tenant == the token's tenant.
    const truthful = await call(url, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob, EncryptionContext: { tenant: 'a' } }, bearer(tok.readerB!));
    assert.equal(truthful.body.__type, 'AccessDeniedException');
    assert.equal(truthful.body.Plaintext, undefined);
    const rec = lastAudit();
    assert.equal(rec.outcome, 'deny');
    assert.equal(rec.principal, 'jwt/bob');
    assert.equal(rec.op, 'Decrypt');
    assert.equal(rec.keyId, arn(KEY_IDS.tenantA));
    assert.deepEqual(rec.context, { tenant: 'a' });
    assert.match(rec.reason, /policy/);
    // Lying about the context: the policy allows it, but the KMS binds the real context.
    const lying = await call(url, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob, EncryptionContext: { tenant: 'b' } }, bearer(tok.readerB!));
    assert.equal(lying.body.__type, 'InvalidCiphertextException');
    assert.equal(lying.body.Plaintext, undefined);
    assert.equal(lastAudit().outcome, 'deny');
    // Tenant B cannot make keys for tenant A either.
    const other = await dataKey(tok.uploaderB!, 'alias/tenant-a', 'a');
    assert.equal(other.body.__type, 'AccessDeniedException');
  });

  test('bad tokens are refused with KMS-style errors', async () => {
    const gen = { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } };
    const cases: Array<[string, Record<string, string>, string]> = [
      ['missing', {}, 'MissingAuthenticationTokenException'],
      ['expired', bearer(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }, { expiresIn: '-1m' })), 'ExpiredTokenException'],
      ['wrong issuer', bearer(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }, { issuer: 'https://evil/' })), 'UnrecognizedClientException'],
      ['wrong audience', bearer(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }, { audience: 'other' })), 'UnrecognizedClientException'],
      ['wrong secret', bearer(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }, { secret: 'x'.repeat(40) })), 'UnrecognizedClientException'],
      ['garbage', bearer('not.a.jwt'), 'UnrecognizedClientException'],
      ['unsigned', bearer(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'alice', tenant: 'a', role: 'uploader', iss: ISSUER, aud: AUDIENCE, exp: 9e9 })).toString('base64url')}.`), 'UnrecognizedClientException'],
      ['basic auth', { authorization: 'Basic YTpi' }, 'IncompleteSignatureException'],
    ];
    for (const [name, headers, type] of cases) {
      const r = await call(url, 'GenerateDataKey', gen, headers);
      assert.equal(r.body.__type, type, name);
      assert.ok(r.status === 400 || r.status === 403, name);
      assert.equal(lastAudit().outcome, 'deny', name);
    }
    // No exp claim: refused.
    const noExp = await new SignJWT({ sub: 'alice', tenant: 'a', role: 'uploader' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(new TextEncoder().encode('proxy-test-secret-0123456789abcdef0123456789'));
    assert.equal((await call(url, 'GenerateDataKey', gen, bearer(noExp))).body.__type, 'UnrecognizedClientException');
  });
});

describe('JWT callers (JWKS)', () => {
  test('RS256 tokens from the JWKS are accepted; other keys and algorithms are not', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    let jwksHits = 0;
    const jwks = await serve(() => {
      jwksHits++;
      return Response.json({ keys: [jwk] });
    });
    try {
      const proxy = await env.extraProxy({ auth: { jwt: { jwksUrl: `${jwks.url}/jwks.json`, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] } } });
      const sign = (key: CryptoKey | Uint8Array, alg: string, kid = 'k1') =>
        new SignJWT({ sub: 'alice', tenant: 'a', role: 'uploader' })
          .setProtectedHeader({ alg, kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('2m')
          .sign(key);
      const body = { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } };
      const ok = await call(proxy.url, 'GenerateDataKey', body, bearer(await sign(privateKey, 'RS256')));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.ok(jwksHits >= 1);
      const other = await generateKeyPair('RS256');
      assert.equal((await call(proxy.url, 'GenerateDataKey', body, bearer(await sign(other.privateKey, 'RS256')))).body.__type, 'UnrecognizedClientException');
      // HS256 signed with the public key's bytes (algorithm confusion) is refused.
      const hs = await sign(new TextEncoder().encode(JSON.stringify(jwk)), 'HS256');
      assert.equal((await call(proxy.url, 'GenerateDataKey', body, bearer(hs))).body.__type, 'UnrecognizedClientException');
      // SigV4 is not configured on this proxy.
      const aws = new AwsClient({ ...MACHINE, service: 'kms', region: REGION, retries: 0 });
      const signed = await aws.sign(proxy.url, { method: 'POST', headers: { 'x-amz-target': 'TrentService.DescribeKey', 'content-type': 'application/x-amz-json-1.1' }, body: '{"KeyId":"alias/tenant-a"}' });
      assert.equal(((await (await fetch(signed)).json()) as { __type: string }).__type, 'IncompleteSignatureException');
    } finally {
      await jwks.close();
    }
  });
});

describe('SigV4 machine callers', () => {
  test('the AWS SDK pointed at the proxy works (GenerateDataKey, Encrypt, Decrypt)', async () => {
    const client = new KMSClient({ endpoint: url, region: REGION, credentials: { accessKeyId: MACHINE.accessKeyId, secretAccessKey: MACHINE.secretAccessKey }, maxAttempts: 1 });
    try {
      const gen = await client.send(new GenerateDataKeyCommand({ KeyId: 'alias/tenant-b', KeySpec: 'AES_256', EncryptionContext: { tenant: 'b' } }));
      assert.equal(gen.KeyId, arn(KEY_IDS.tenantB));
      const dec = await client.send(new DecryptCommand({ CiphertextBlob: gen.CiphertextBlob, EncryptionContext: { tenant: 'b' } }));
      assert.deepEqual(dec.Plaintext, gen.Plaintext);
      const enc = await client.send(new EncryptCommand({ KeyId: 'alias/tenant-a', Plaintext: new TextEncoder().encode('hello') }));
      assert.equal(enc.KeyId, arn(KEY_IDS.tenantA));
      assert.equal(lastAudit().principal, 'machine/batch');
      assert.equal(lastAudit().authType, 'sigv4');
      // The explicit deny applies to machines too.
      await assert.rejects(client.send(new EncryptCommand({ KeyId: 'alias/secret', Plaintext: new Uint8Array(1) })), { name: 'AccessDeniedException' });
      const wrong = new KMSClient({ endpoint: url, region: REGION, credentials: { accessKeyId: MACHINE.accessKeyId, secretAccessKey: 'wrong' }, maxAttempts: 1 });
      await assert.rejects(wrong.send(new EncryptCommand({ KeyId: 'alias/tenant-a', Plaintext: new Uint8Array(1) })), { name: 'InvalidSignatureException' });
      wrong.destroy();
    } finally {
      client.destroy();
    }
  });

  test('a replayed signed request is refused', async () => {
    const aws = new AwsClient({ ...MACHINE, service: 'kms', region: REGION, retries: 0 });
    const body = JSON.stringify({ KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } });
    const signed = await aws.sign(url, { method: 'POST', headers: { 'x-amz-target': 'TrentService.GenerateDataKey', 'content-type': 'application/x-amz-json-1.1' }, body });
    const headers = Object.fromEntries(signed.headers);
    const first = await fetch(url, { method: 'POST', headers, body });
    assert.equal(first.status, 200);
    const replay = await fetch(url, { method: 'POST', headers, body });
    assert.equal(replay.status, 400);
    const err = (await replay.json()) as { __type: string; message: string };
    assert.equal(err.__type, 'InvalidSignatureException');
    assert.match(err.message, /replay/);
    assert.equal(lastAudit().reason, 'sigv4 replay');
    // An old signature (outside the window) is refused as expired.
    const old = await aws.sign(url, { method: 'POST', headers: { 'x-amz-target': 'TrentService.DescribeKey', 'content-type': 'application/x-amz-json-1.1' }, body: '{"KeyId":"alias/tenant-a"}', aws: { datetime: '20200101T000000Z' } });
    const expired = await fetch(url, { method: 'POST', headers: Object.fromEntries(old.headers), body: '{"KeyId":"alias/tenant-a"}' });
    assert.equal(((await expired.json()) as { __type: string }).__type, 'InvalidSignatureException');
  });
});

describe('ReEncrypt', () => {
  test('a machine allowed kms:* moves a data key between tenant keys; a reader may not; the secret key stays out of reach', async () => {
    const gen = await dataKey(tok.uploaderA!, 'alias/tenant-a', 'a');
    const machine = new AwsClient({ ...MACHINE, service: 'kms', region: REGION, retries: 0 });
    const reEncrypt = async (body: unknown) => {
      const res = await machine.fetch(url, { method: 'POST', headers: { 'x-amz-target': 'TrentService.ReEncrypt', 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const moved = await reEncrypt({ CiphertextBlob: gen.body.CiphertextBlob, SourceEncryptionContext: { tenant: 'a' }, DestinationKeyId: 'alias/tenant-b', DestinationEncryptionContext: { tenant: 'a' } });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.SourceKeyId, arn(KEY_IDS.tenantA));
    assert.equal(moved.body.KeyId, arn(KEY_IDS.tenantB));
    assert.equal(lastAudit().op, 'ReEncrypt');
    assert.equal(lastAudit().outcome, 'allow');
    const toSecret = await reEncrypt({ CiphertextBlob: gen.body.CiphertextBlob, SourceEncryptionContext: { tenant: 'a' }, DestinationKeyId: arn(KEY_IDS.secret), DestinationEncryptionContext: { tenant: 'a' } });
    assert.equal(toSecret.body.__type, 'AccessDeniedException');
    assert.equal(toSecret.body.CiphertextBlob, undefined);
    const byReader = await call(url, 'ReEncrypt', { CiphertextBlob: gen.body.CiphertextBlob, SourceEncryptionContext: { tenant: 'a' }, DestinationKeyId: 'alias/tenant-a', DestinationEncryptionContext: { tenant: 'a' } }, bearer(tok.readerA!));
    assert.equal(byReader.body.__type, 'AccessDeniedException');
  });
});

describe('an alias and its key are one resource', () => {
  test('a Deny on an alias covers the key by ARN, id, alias ARN and its other aliases', async () => {
    const names = [
      'alias/secret',
      'alias/secret-too',
      arn(KEY_IDS.secret),
      KEY_IDS.secret,
      `arn:aws:kms:${REGION}:${ACCOUNT}:alias/secret`,
      `arn:aws:kms:${REGION}:${ACCOUNT}:alias/secret-too`,
    ];
    for (const keyId of names) {
      const r = await dataKey(tok.adminA!, keyId, 'a');
      assert.equal(r.body.__type, 'AccessDeniedException', keyId);
      assert.equal(lastAudit().keyId, arn(KEY_IDS.secret), keyId);
      assert.equal(lastAudit().statement, 'NeverTheSecretKey', keyId);
    }
    // The same admin may use its tenant's key.
    assert.equal((await dataKey(tok.adminA!, KEY_IDS.tenantA, 'a')).status, 200);
  });

  test('a ciphertext of the denied key cannot be decrypted without naming it', async () => {
    // Made directly at the KMS (the proxy would refuse).
    const direct = new KMSClient({ endpoint: env.kms.url, region: REGION, credentials: env.kms.credentials, maxAttempts: 1 });
    const enc = await direct.send(new EncryptCommand({ KeyId: 'alias/secret', Plaintext: new Uint8Array(32).fill(1), EncryptionContext: { tenant: 'a' } }));
    direct.destroy();
    const r = await call(url, 'Decrypt', { CiphertextBlob: b64(enc.CiphertextBlob!), EncryptionContext: { tenant: 'a' } }, bearer(tok.readerA!));
    assert.equal(r.body.__type, 'AccessDeniedException');
    assert.equal(r.body.Plaintext, undefined);
    assert.equal(lastAudit().keyId, arn(KEY_IDS.secret));
    // Naming another key does not help either: the KMS refuses the mismatch.
    const r2 = await call(url, 'Decrypt', { CiphertextBlob: b64(enc.CiphertextBlob!), KeyId: 'alias/tenant-a', EncryptionContext: { tenant: 'a' } }, bearer(tok.readerA!));
    assert.notEqual(r2.status, 200);
    assert.equal(r2.body.Plaintext, undefined);
  });

  test('an Allow on an alias ARN also allows the key by ARN, but not another key', async () => {
    const body = (keyId: string) => ({ KeyId: keyId, KeySpec: 'AES_256' });
    assert.equal((await call(url, 'GenerateDataKey', body('alias/tenant-a'), bearer(tok.ops!))).status, 200);
    assert.equal((await call(url, 'GenerateDataKey', body(arn(KEY_IDS.tenantA)), bearer(tok.ops!))).status, 200);
    assert.equal((await call(url, 'GenerateDataKey', body('alias/tenant-b'), bearer(tok.ops!))).body.__type, 'AccessDeniedException');
    assert.equal((await call(url, 'GenerateDataKey', body('alias/nope'), bearer(tok.ops!))).body.__type, 'AccessDeniedException');
  });
});

/** An RSA envelope for `tenant`, and its parts as the client sends them. */
async function rsaEnvelope(spki: Uint8Array, tenant: string) {
  const keyring = new RsaOaepKeyring({ publicKey: spki, keyId: arn(KEY_IDS.rsa) });
  const envelope = await encrypt(new TextEncoder().encode(`secret of ${tenant}`), { keyring, context: { tenant } });
  const parsed = parseEnvelopeHeader(envelope, DEFAULT_LIMITS);
  const at = parsed.headerLength;
  return {
    envelope,
    wrappedKey: parsed.recipients[0]!.wrappedKey,
    sealbox: { Protected: b64(parsed.protectedBytes), Salt: b64(envelope.subarray(at, at + 24)), Commitment: b64(envelope.subarray(at + 24, at + 56)) },
  };
}

describe('RSA keys: the proxy checks the envelope commitment', () => {
  test('own envelope decrypts; another tenant\'s is denied whether truthful or lying; missing envelope is denied', async () => {
    const pub = await call(url, 'GetPublicKey', { KeyId: 'alias/rsa-shared' }, bearer(tok.readerA!));
    assert.equal(pub.status, 200);
    const spki = new Uint8Array(Buffer.from(pub.body.PublicKey, 'base64'));
    const a = await rsaEnvelope(spki, 'a');
    const b = await rsaEnvelope(spki, 'b');
    const decryptReq = (wrapped: Uint8Array, sealbox: unknown) => ({
      CiphertextBlob: b64(wrapped),
      KeyId: 'alias/rsa-shared',
      EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      ...(sealbox === undefined ? {} : { SealboxEnvelope: sealbox }),
    });

    const own = await call(url, 'Decrypt', decryptReq(a.wrappedKey, a.sealbox), bearer(tok.readerA!));
    assert.equal(own.status, 200, JSON.stringify(own.body));
    const dek = new Uint8Array(Buffer.from(own.body.Plaintext, 'base64'));
    const fixed: Keyring = { wrapDataKey: () => Promise.reject(new Error('no')), unwrapDataKey: async () => dek.slice() };
    const opened = await decrypt(a.envelope, { keyring: fixed });
    assert.equal(new TextDecoder().decode(opened.plaintext), 'secret of a');
    assert.deepEqual(lastAudit().context, { tenant: 'a' });

    // B's envelope, truthfully described: the policy refuses tenant b to tenant a's reader.
    const truthful = await call(url, 'Decrypt', decryptReq(b.wrappedKey, b.sealbox), bearer(tok.readerA!));
    assert.equal(truthful.body.__type, 'AccessDeniedException');
    assert.equal(truthful.body.Plaintext, undefined);
    assert.deepEqual(lastAudit().context, { tenant: 'b' });
    assert.equal(lastAudit().outcome, 'deny');

    // B's wrapped key with A's protected header, salt and commitment: the commitment fails.
    const lying = await call(url, 'Decrypt', decryptReq(b.wrappedKey, a.sealbox), bearer(tok.readerA!));
    assert.equal(lying.body.__type, 'AccessDeniedException');
    assert.equal(lying.body.Plaintext, undefined);
    assert.equal(lastAudit().reason, 'envelope commitment mismatch');
    assert.equal(lastAudit().principal, 'jwt/ann');
    // A's header with B's salt and commitment: fails too.
    const mixed = await call(url, 'Decrypt', decryptReq(b.wrappedKey, { ...a.sealbox, Salt: b.sealbox.Salt, Commitment: b.sealbox.Commitment }), bearer(tok.readerA!));
    assert.equal(mixed.body.__type, 'AccessDeniedException');
    assert.equal(lastAudit().reason, 'envelope commitment mismatch');

    // No envelope, or a broken one: refused before the KMS is asked.
    const none = await call(url, 'Decrypt', decryptReq(b.wrappedKey, undefined), bearer(tok.readerA!));
    assert.equal(none.body.__type, 'AccessDeniedException');
    assert.equal(lastAudit().reason, 'rsa decrypt without SealboxEnvelope');
    const broken = await call(url, 'Decrypt', decryptReq(b.wrappedKey, { Protected: 'AAAA', Salt: 'x', Commitment: 'y' }), bearer(tok.readerA!));
    assert.equal(broken.body.__type, 'ValidationException');
    // Omitting EncryptionAlgorithm does not skip the check (the KMS needs it for RSA anyway).
    const noAlg = await call(url, 'Decrypt', { CiphertextBlob: b64(b.wrappedKey), KeyId: 'alias/rsa-shared', EncryptionContext: { tenant: 'a' } }, bearer(tok.readerA!));
    assert.notEqual(noAlg.status, 200);
    assert.equal(noAlg.body.Plaintext, undefined);
    // ReEncrypt from the RSA key is refused.
    const re = await call(url, 'ReEncrypt', { CiphertextBlob: b64(b.wrappedKey), SourceKeyId: 'alias/rsa-shared', SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: 'alias/tenant-a', DestinationEncryptionContext: { tenant: 'a' } }, bearer(tok.adminA!));
    assert.equal(re.body.__type, 'AccessDeniedException');
  });
});

describe('limits', () => {
  test('rate limit per principal: ThrottlingException with Retry-After, other principals unaffected', async () => {
    const proxy = await env.extraProxy({ rateLimit: { capacity: 2, refillPerSecond: 0.5 } });
    const body = { KeyId: 'alias/tenant-a' };
    assert.equal((await call(proxy.url, 'DescribeKey', body, bearer(tok.readerA!))).status, 200);
    assert.equal((await call(proxy.url, 'DescribeKey', body, bearer(tok.readerA!))).status, 200);
    const third = await call(proxy.url, 'DescribeKey', body, bearer(tok.readerA!));
    assert.equal(third.status, 400);
    assert.equal(third.body.__type, 'ThrottlingException');
    assert.equal(third.headers.get('retry-after'), '2');
    assert.equal(lastAudit().outcome, 'deny');
    assert.match(lastAudit().reason, /rate limit/);
    assert.equal((await call(proxy.url, 'DescribeKey', body, bearer(tok.readerB!))).status, 200);
  });

  test('body cap: 413 for a declared or streamed oversized body', async () => {
    const proxy = await env.extraProxy({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ KeyId: 'alias/tenant-a', Plaintext: 'A'.repeat(4000) });
    const declared = await call(proxy.url, 'Encrypt', big, bearer(tok.uploaderA!));
    assert.equal(declared.status, 413);
    assert.equal(declared.body.__type, 'ValidationException');
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(new Uint8Array(512).fill(0x41));
        c.close();
      },
    });
    const res = await fetch(proxy.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt', ...bearer(tok.uploaderA!) },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
  });

  test('a slow upstream times out with DependencyTimeoutException (503)', async () => {
    const slow = await serve(async (req) => {
      if (req.headers.get('x-amz-target') === 'TrentService.Decrypt') await new Promise((r) => setTimeout(r, 3000));
      return env.kms.kms.fetch(req);
    });
    try {
      const proxy = await env.extraProxy({ upstream: { endpoint: slow.url, region: REGION, credentials: env.kms.credentials, timeoutMs: 300 } });
      const gen = await dataKey(tok.uploaderA!, 'alias/tenant-a', 'a');
      const t0 = Date.now();
      const r = await call(proxy.url, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob, KeyId: 'alias/tenant-a', EncryptionContext: { tenant: 'a' } }, bearer(tok.readerA!));
      assert.ok(Date.now() - t0 < 2500);
      assert.equal(r.status, 503);
      assert.equal(r.body.__type, 'DependencyTimeoutException');
      assert.equal(lastAudit().outcome, 'error');
    } finally {
      await slow.close();
    }
  });
});

describe('protocol', () => {
  test('other operations are refused; malformed requests get KMS-style errors', async () => {
    const h = bearer(tok.adminA!);
    const refuse = async (op: string, body: unknown, type: string, status = 400) => {
      const r = await call(url, op, body, h);
      assert.equal(r.body.__type, type, `${op} ${JSON.stringify(body).slice(0, 40)}`);
      assert.equal(r.status, status);
      assert.ok(r.headers.get('x-amzn-requestid'));
    };
    await refuse('CreateKey', {}, 'UnsupportedOperationException');
    await refuse('ScheduleKeyDeletion', { KeyId: 'alias/tenant-a' }, 'UnsupportedOperationException');
    await refuse('PutKeyPolicy', {}, 'UnsupportedOperationException');
    await refuse('Frobnicate', {}, 'UnknownOperationException');
    await refuse('GenerateDataKey', '{not json', 'SerializationException');
    await refuse('GenerateDataKey', '[1,2]', 'SerializationException');
    await refuse('GenerateDataKey', { KeySpec: 'AES_256' }, 'ValidationException');
    // A member of the wrong JSON type is AWS's SerializationException ("NUMBER_VALUE cannot be
    // converted to String"), as it is for the encryption context below.
    await refuse('GenerateDataKey', { KeyId: 7 }, 'SerializationException');
    await refuse('GenerateDataKey', { KeyId: 'alias/tenant-a', EncryptionContext: 'tenant=a' }, 'SerializationException');
    await refuse('GenerateDataKey', { KeyId: 'alias/tenant-a', EncryptionContext: { tenant: 'a' }, GrantTokens: ['x'] }, 'ValidationException');
    await refuse('Decrypt', { CiphertextBlob: 'AAAA', Recipient: {} }, 'ValidationException');
    const noTarget = await fetch(url, { method: 'POST', headers: h, body: '{}' });
    assert.equal(((await noTarget.json()) as { __type: string }).__type, 'UnknownOperationException');
    const get = await fetch(url, { headers: h });
    assert.equal(get.status, 405);
    assert.equal(((await get.json()) as { __type: string }).__type, 'UnknownOperationException');
    // Audited as refusals.
    assert.equal(lastAudit().outcome, 'deny');
    // Still serving.
    assert.equal((await dataKey(tok.uploaderA!, 'alias/tenant-a', 'a')).status, 200);
  });

  test('wrong upstream credentials are the proxy\'s fault (500), not the caller\'s', async () => {
    const proxy = await env.extraProxy({ upstream: { endpoint: env.kms.url, region: REGION, credentials: { accessKeyId: env.kms.credentials.accessKeyId, secretAccessKey: 'wrong' } } });
    const r = await call(proxy.url, 'DescribeKey', { KeyId: 'alias/tenant-a' }, bearer(tok.readerA!));
    assert.equal(r.status, 500);
    assert.equal(r.body.__type, 'KMSInternalException');
    assert.equal(lastAudit().outcome, 'error');
    assert.match(lastAudit().reason, /refused the proxy's credentials/);
  });

  test('a context key named "__proto__" is seen by the policy like any other', async () => {
    const proxy = await env.extraProxy({
      policy: {
        Statement: [
          { Effect: 'Allow', Principal: '*', Action: 'kms:GenerateDataKey', Resource: '*', Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } } },
        ],
      },
    });
    const ok = await call(proxy.url, 'GenerateDataKey', { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }, bearer(tok.readerA!));
    assert.equal(ok.status, 200);
    const sneaky = await call(proxy.url, 'GenerateDataKey', '{"KeyId":"alias/tenant-a","KeySpec":"AES_256","EncryptionContext":{"tenant":"a","__proto__":"x"}}', bearer(tok.readerA!));
    assert.equal(sneaky.body.__type, 'AccessDeniedException');
    assert.deepEqual(Object.keys(lastAudit().context), ['tenant', '__proto__']);
  });

  test('CORS: preflight for configured origins, response headers, other origins refused', async () => {
    const pre = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-amz-target, amz-sdk-request' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://app.test');
    assert.match(pre.headers.get('access-control-allow-methods')!, /POST/);
    const allowed = pre.headers.get('access-control-allow-headers')!.split(/,\s*/);
    for (const h of ['authorization', 'content-type', 'x-amz-target', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token', 'amz-sdk-request']) assert.ok(allowed.includes(h), h);
    const bad = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://evil.test', 'access-control-request-method': 'POST' } });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers.get('access-control-allow-origin'), null);

    const ok = await call(url, 'DescribeKey', { KeyId: 'alias/tenant-a' }, { ...bearer(tok.readerA!), origin: 'http://app.test' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://app.test');
    assert.match(ok.headers.get('access-control-expose-headers')!, /x-amzn-requestid/);
    const denied = await call(url, 'DescribeKey', { KeyId: 'alias/tenant-a' }, { ...bearer(tok.readerA!), origin: 'http://evil.test' });
    assert.equal(denied.body.__type, 'AccessDeniedException');
    assert.equal(denied.headers.get('access-control-allow-origin'), null);
    assert.equal(lastAudit().origin, 'http://evil.test');
  });
});
