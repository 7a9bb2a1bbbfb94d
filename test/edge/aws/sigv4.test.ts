// SigV4 verification: the runtime-agnostic verifier directly (WebCrypto path, requests signed by
// aws4fetch), and the KMS's answers to bad signatures through the AWS SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AwsV4Signer } from 'aws4fetch';
import { CreateKeyCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { SigV4Error, signSigV4, verifySigV4, webCryptoSigV4 } from '../../../src/edge/aws/sigv4.js';
import { nodeSigV4Crypto } from '../../../src/node/kms/node-crypto.js';
import { rejectsWith, startHarness, type Harness } from '../../node/kms/helpers.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const lookupSecret = (id: string) => (id === 'AKIDEXAMPLE' ? { secretAccessKey: SECRET, principal: 'alice' } : undefined);

async function signed(opts: { body?: string; datetime?: string; secret?: string; accessKeyId?: string; url?: string; headers?: Record<string, string> } = {}) {
  const body = opts.body ?? '{"KeyId":"alias/x"}';
  const signer = new AwsV4Signer({
    method: 'POST',
    url: opts.url ?? 'https://kms.us-east-1.amazonaws.com/',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.DescribeKey', ...(opts.headers ?? {}) },
    body,
    accessKeyId: opts.accessKeyId ?? 'AKIDEXAMPLE',
    secretAccessKey: opts.secret ?? SECRET,
    service: 'kms',
    region: 'eu-west-3',
    ...(opts.datetime ? { datetime: opts.datetime } : {}),
  });
  const s = await signer.sign();
  const headers = new Headers(s.headers);
  headers.set('host', new URL(s.url).host);
  return { request: new Request(s.url, { method: 'POST', headers, body }), body: new TextEncoder().encode(body) };
}

function amz(t: number): string {
  return new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof SigV4Error && e.code === code);
}

describe('verifySigV4 (WebCrypto)', () => {
  test('accepts a valid request and returns scope and secret info', async () => {
    const { request, body } = await signed();
    const r = await verifySigV4(request, body, { lookupSecret, service: 'kms' });
    assert.equal(r.accessKeyId, 'AKIDEXAMPLE');
    assert.equal(r.region, 'eu-west-3');
    assert.equal(r.service, 'kms');
    assert.equal(r.secret.principal, 'alice');
    assert.ok(r.signedHeaders.includes('host'));
  });

  test('the signing-key cache gives the same answer', async () => {
    const cache = new Map<string, Uint8Array>();
    for (let i = 0; i < 3; i++) {
      const { request, body } = await signed({ body: `{"n":${i}}` });
      await verifySigV4(request, body, { lookupSecret, signingKeyCache: cache });
    }
    assert.equal(cache.size, 1);
    const { request, body } = await signed({ secret: 'wrong' });
    await expectCode(verifySigV4(request, body, { lookupSecret, signingKeyCache: cache }), 'InvalidSignature');
  });

  test('rejects a changed body, a changed signed header and a wrong secret', async () => {
    const a = await signed();
    await expectCode(verifySigV4(a.request, new TextEncoder().encode('{"KeyId":"alias/y"}'), { lookupSecret }), 'InvalidSignature');
    const b = await signed();
    const headers = new Headers(b.request.headers);
    headers.set('x-amz-target', 'TrentService.ScheduleKeyDeletion');
    await expectCode(verifySigV4(new Request(b.request.url, { method: 'POST', headers, body: b.body }), b.body, { lookupSecret }), 'InvalidSignature');
    const c = await signed({ secret: 'not the secret' });
    await expectCode(verifySigV4(c.request, c.body, { lookupSecret }), 'InvalidSignature');
  });

  test('rejects an unknown access key, a missing header and a malformed one', async () => {
    const a = await signed({ accessKeyId: 'AKIDUNKNOWN' });
    await expectCode(verifySigV4(a.request, a.body, { lookupSecret }), 'UnrecognizedClient');
    await expectCode(verifySigV4(new Request('https://x/', { method: 'POST' }), new Uint8Array(), { lookupSecret }), 'MissingAuthenticationToken');
    const bad = new Request('https://x/', { method: 'POST', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=abc' } });
    await expectCode(verifySigV4(bad, new Uint8Array(), { lookupSecret }), 'IncompleteSignature');
    const basic = new Request('https://x/', { method: 'POST', headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    await expectCode(verifySigV4(basic, new Uint8Array(), { lookupSecret }), 'IncompleteSignature');
  });

  test('one parse of the Authorization header: duplicate, unknown and malformed fields are refused, and the signature returned is the one verified', async () => {
    const { request, body } = await signed();
    const auth = request.headers.get('authorization')!;
    const real = auth.split('Signature=')[1]!;
    const decoy = 'f'.repeat(64);
    const withAuth = (value: string) => {
      const headers = new Headers(request.headers);
      headers.set('authorization', value);
      return new Request(request.url, { method: 'POST', headers, body });
    };
    const mangled = [
      auth.replace('Signature=', `Signature=${decoy}, Signature=`),
      auth.replace('Signature=', `XSignature=${decoy}, Signature=`),
      `${auth}, Signature=${decoy}`,
      `${auth}, Signature=${real}`,
      `${auth}, Foo=bar`,
      `${auth},`,
      auth.replace(', SignedHeaders=', ', Signature, SignedHeaders='),
      auth.replace('SignedHeaders=', `Credential=AKIDEXAMPLE/x/y/kms/aws4_request, SignedHeaders=`),
    ];
    for (const value of mangled) await expectCode(verifySigV4(withAuth(value), body, { lookupSecret }), 'IncompleteSignature');
    // The general (non-usual) spelling still parses when it is exactly the three fields.
    const spaced = auth.replace(', SignedHeaders=', ',  SignedHeaders=').replace(', Signature=', ' ,Signature=');
    const r = await verifySigV4(withAuth(spaced), body, { lookupSecret });
    assert.equal(r.signature, real);
  });

  test('rejects a signing time more than 5 minutes away, either side', async () => {
    const now = Date.now();
    for (const t of [now - 6 * 60_000, now + 6 * 60_000]) {
      const { request, body } = await signed({ datetime: amz(t) });
      await expectCode(verifySigV4(request, body, { lookupSecret }), 'SignatureExpired');
    }
    const ok = await signed({ datetime: amz(now - 4 * 60_000) });
    await verifySigV4(ok.request, ok.body, { lookupSecret });
    // The injected clock decides.
    const old = await signed({ datetime: '20200101T000000Z' });
    await verifySigV4(old.request, old.body, { lookupSecret, now: () => Date.UTC(2020, 0, 1, 0, 1) });
  });

  test('rejects a service other than the expected one', async () => {
    const { request, body } = await signed();
    await expectCode(verifySigV4(request, body, { lookupSecret, service: 's3' }), 'InvalidSignature');
  });

  test('checks x-amz-content-sha256 against the body', async () => {
    const { request, body } = await signed({ headers: { 'x-amz-content-sha256': '0'.repeat(64) } });
    await expectCode(verifySigV4(request, body, { lookupSecret }), 'InvalidSignature');
  });

  test('query strings are canonicalised (sorted, encoded)', async () => {
    const { request, body } = await signed({ url: 'https://kms.us-east-1.amazonaws.com/a%20b/?b=2&a=1&c=x%2Fy' });
    await verifySigV4(request, body, { lookupSecret });
  });
});

describe('verifySigV4: node:crypto shortcuts and Authorization layouts', () => {
  /** The same request with its Authorization header rewritten from its three fields. */
  function withAuthorization(request: Request, layout: (f: { credential: string; signedHeaders: string; signature: string }) => string): Request {
    const m = /^AWS4-HMAC-SHA256 Credential=(\S+), SignedHeaders=(\S+), Signature=(\S+)$/.exec(request.headers.get('authorization')!)!;
    const headers = new Headers(request.headers);
    headers.set('authorization', `AWS4-HMAC-SHA256 ${layout({ credential: m[1]!, signedHeaders: m[2]!, signature: m[3]! })}`);
    return new Request(request.url, { method: request.method, headers });
  }
  const layouts: Array<[string, Parameters<typeof withAuthorization>[1]]> = [
    ['as the SDKs send it', (f) => `Credential=${f.credential}, SignedHeaders=${f.signedHeaders}, Signature=${f.signature}`],
    ['no spaces', (f) => `Credential=${f.credential},SignedHeaders=${f.signedHeaders},Signature=${f.signature}`],
    ['other order, extra spaces', (f) => `Signature=${f.signature} ,  Credential=${f.credential},SignedHeaders=${f.signedHeaders} `],
  ];

  for (const [name, c] of [['WebCrypto', webCryptoSigV4], ['node:crypto', nodeSigV4Crypto]] as const) {
    test(`${name}: accepts every layout of a valid request, rejects a wrong signature, body or secret`, async () => {
      const { request, body } = await signed();
      for (const [, layout] of layouts) {
        const r = await verifySigV4(withAuthorization(request, layout), body, { lookupSecret, crypto: c, signingKeyCache: new Map() });
        assert.equal(r.accessKeyId, 'AKIDEXAMPLE');
        assert.ok(r.signedHeaders.includes('host') && r.signedHeaders.includes('x-amz-target'));
        const flipped = withAuthorization(request, (f) => layout({ ...f, signature: f.signature.replace(/^./, (x) => (x === '0' ? '1' : '0')) }));
        await expectCode(verifySigV4(flipped, body, { lookupSecret, crypto: c }), 'InvalidSignature');
      }
      await expectCode(verifySigV4(request, new TextEncoder().encode('{"KeyId":"alias/y"}'), { lookupSecret, crypto: c }), 'InvalidSignature');
      const wrong = await signed({ secret: 'not the secret' });
      await expectCode(verifySigV4(wrong.request, wrong.body, { lookupSecret, crypto: c }), 'InvalidSignature');
      const declared = await signed({ headers: { 'x-amz-content-sha256': '0'.repeat(64) } });
      await expectCode(verifySigV4(declared.request, declared.body, { lookupSecret, crypto: c }), 'InvalidSignature');
    });
  }

  test('signed header values are folded (runs of whitespace, tabs) before hashing, plain ones kept', async () => {
    for (const value of ['plain value', 'two  spaces', 'tab\there', 'mixed \t  run', 'a b c']) {
      const { request, body } = await signed({ headers: { 'x-amz-meta-note': value } });
      assert.ok(request.headers.get('authorization')!.includes('x-amz-meta-note'));
      for (const c of [webCryptoSigV4, nodeSigV4Crypto]) await verifySigV4(request, body, { lookupSecret, crypto: c });
      // The same request with the value changed beyond folding does not verify.
      const headers = new Headers(request.headers);
      headers.set('x-amz-meta-note', value.replace(/\s+/g, '_'));
      await expectCode(verifySigV4(new Request(request.url, { method: 'POST', headers }), body, { lookupSecret, crypto: nodeSigV4Crypto }), 'InvalidSignature');
    }
  });

  test('a field missing or doubled in any layout is still an incomplete signature', async () => {
    const { request, body } = await signed();
    for (const layout of [
      (f: { credential: string; signedHeaders: string; signature: string }) => `Credential=${f.credential}, SignedHeaders=${f.signedHeaders}`,
      (f: { credential: string; signedHeaders: string; signature: string }) => `Credential=${f.credential}, SignedHeaders=${f.signedHeaders}, Signature=${f.signature}x`,
      (f: { credential: string; signedHeaders: string; signature: string }) => `Credential=${f.credential}/extra, SignedHeaders=${f.signedHeaders}, Signature=${f.signature}`,
    ]) {
      await expectCode(verifySigV4(withAuthorization(request, layout), body, { lookupSecret, crypto: nodeSigV4Crypto }), 'IncompleteSignature');
    }
  });
});

describe('signSigV4: the signer the Node proxy forwards with', () => {
  const request = {
    method: 'POST',
    url: 'https://kms.eu-west-3.amazonaws.com/',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.DescribeKey' },
    body: '{"KeyId":"alias/x"}',
  };
  const when = Date.UTC(2026, 11, 3, 16, 30, 5);
  for (const [name, crypto] of [['WebCrypto', webCryptoSigV4], ['node:crypto', nodeSigV4Crypto]] as const) {
    test(`${name}: the same signature as aws4fetch, and verifySigV4 accepts it`, async () => {
      const headers = await signSigV4(request, { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, region: 'eu-west-3', service: 'kms', now: when, crypto });
      const reference = await new AwsV4Signer({
        ...request,
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: SECRET,
        service: 'kms',
        region: 'eu-west-3',
        datetime: '20261203T163005Z',
        allHeaders: true,
      }).sign();
      assert.equal(headers.authorization, reference.headers.get('authorization'));
      assert.equal(headers['x-amz-date'], '20261203T163005Z');
      const verified = await verifySigV4(new Request(request.url, { method: 'POST', headers, body: request.body }), new TextEncoder().encode(request.body), {
        lookupSecret,
        now: () => when,
        service: 'kms',
      });
      assert.equal(verified.accessKeyId, 'AKIDEXAMPLE');
      assert.equal(verified.region, 'eu-west-3');
    });
  }
  test('a session token is sent and signed; a changed body no longer verifies', async () => {
    const headers = await signSigV4(request, { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, sessionToken: 'token-1', region: 'eu-west-3', service: 'kms', now: when, crypto: nodeSigV4Crypto });
    assert.equal(headers['x-amz-security-token'], 'token-1');
    assert.match(headers.authorization!, /SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,/);
    const body = new TextEncoder().encode('{"KeyId":"alias/y"}');
    await expectCode(verifySigV4(new Request(request.url, { method: 'POST', headers, body }), body, { lookupSecret, now: () => when }), 'InvalidSignature');
  });
});

describe('KMS authentication through the AWS SDK', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test('a valid client works; region comes from the credential scope', async () => {
    const k = await h.client.send(new CreateKeyCommand({}));
    const other = h.clientFor({ region: 'eu-central-1' });
    const k2 = await other.send(new CreateKeyCommand({}));
    assert.ok(k2.KeyMetadata!.Arn!.startsWith('arn:aws:kms:eu-central-1:111122223333:key/'));
    const east = (await h.client.send(new ListKeysCommand({}))).Keys!.map((x) => x.KeyId);
    const central = (await other.send(new ListKeysCommand({}))).Keys!.map((x) => x.KeyId);
    assert.ok(east.includes(k.KeyMetadata!.KeyId) && !east.includes(k2.KeyMetadata!.KeyId));
    assert.ok(central.includes(k2.KeyMetadata!.KeyId) && !central.includes(k.KeyMetadata!.KeyId));
  });

  test('wrong secret → InvalidSignatureException; unknown key → UnrecognizedClientException', async () => {
    const e1 = await rejectsWith(h.clientFor({ secretAccessKey: 'wrong' }).send(new ListKeysCommand({})), 'InvalidSignatureException');
    assert.equal(e1.$metadata?.httpStatusCode, 400);
    await rejectsWith(h.clientFor({ accessKeyId: 'AKIANOTKNOWN0000000' }).send(new ListKeysCommand({})), 'UnrecognizedClientException');
  });

  test('clock skew beyond 5 minutes → InvalidSignatureException (server clock moved)', async () => {
    const skewed = await startHarness({ requestClock: () => Date.now() + 10 * 60_000 });
    try {
      const e = await rejectsWith(skewed.client.send(new ListKeysCommand({})), 'InvalidSignatureException');
      assert.match(e.message, /expired/i);
    } finally {
      await skewed.close();
    }
  });

  test('malformed requests never crash the server', async () => {
    const url = h.server.url;
    const cases: RequestInit[] = [
      { method: 'GET' },
      { method: 'POST', body: 'not json', headers: { 'x-amz-target': 'TrentService.ListKeys' } },
      { method: 'POST', headers: { authorization: 'AWS4-HMAC-SHA256 garbage', 'x-amz-target': 'TrentService.ListKeys' } },
      { method: 'POST', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=zz' } },
      { method: 'POST', body: new Uint8Array(2 * 1024 * 1024) },
    ];
    for (const init of cases) {
      const r = await fetch(url, init);
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
      const j = (await r.json()) as { __type: string };
      assert.equal(typeof j.__type, 'string');
      assert.equal(r.headers.get('content-type'), 'application/x-amz-json-1.1');
    }
    // Still serving.
    await h.client.send(new ListKeysCommand({}));
  });
});
