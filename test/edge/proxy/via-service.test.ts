// upstream.viaService: the proxy tells the local KMS, in a signed header, that a call came through
// it, and a key policy can require that (kms:ViaService) — so a key is usable only via the proxy.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { startLocalKmsServer, type LocalKmsServer } from '../../../src/node/kms/index.js';
import { createProxy } from '../../../src/edge/proxy/index.js';

const JWT = { secret: 'via-service-test-secret-0123456789abcdef01', issuer: 'https://idp.via/', audience: 'via' };
const OWNER = { accessKeyId: 'AKIAVIAOWNER00000001', secretAccessKey: 'via-owner-secret-0123456789abcdefghijkl' };
const PROXY = {
  accessKeyId: 'AKIAVIAPROXY00000001',
  secretAccessKey: 'via-proxy-secret-0123456789abcdefghijkl',
  account: '444455556666',
  principalArn: 'arn:aws:iam::444455556666:role/sealbox-proxy',
  trustedForViaService: true,
};
const KEY = '0d0d0d0d-0d0d-4d0d-8d0d-0d0d0d0d0d0d';
const SERVICE = 'proxy.sealbox.local';

let dir: string;
let kms: LocalKmsServer;
let token: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-via-service-'));
  kms = await startLocalKmsServer({
    dataDir: join(dir, 'kms'),
    port: 0,
    rootKey: Buffer.alloc(32, 6).toString('base64'),
    env: {},
    log: () => {},
    credentials: [OWNER, PROXY],
    audit: false,
    seed: {
      keys: [
        {
          id: KEY,
          aliases: ['alias/via'],
          policy: {
            Version: '2012-10-17',
            Statement: [
              { Sid: 'owner', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
              {
                Sid: 'data keys for the proxy account, only through the proxy',
                Effect: 'Allow',
                Principal: { AWS: 'arn:aws:iam::444455556666:root' },
                Action: ['kms:GenerateDataKey', 'kms:DescribeKey'],
                Resource: '*',
                Condition: { StringEquals: { 'kms:ViaService': SERVICE } },
              },
            ],
          },
        },
      ],
    },
  });
  token = await new SignJWT({ sub: 'alice' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(JWT.issuer)
    .setAudience(JWT.audience)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT.secret));
});

after(async () => {
  await kms.close();
  await rm(dir, { recursive: true, force: true });
});

function proxyWith(viaService?: string) {
  return createProxy({
    upstream: { endpoint: kms.url, region: 'us-east-1', credentials: PROXY, ...(viaService === undefined ? {} : { viaService }) },
    auth: { jwt: JWT },
    policy: { Statement: [{ Effect: 'Allow', Principal: { AWS: 'jwt/*' }, Action: 'kms:GenerateDataKey', Resource: '*' }] },
    rateLimit: false,
    audit: 'none',
  });
}

async function generateDataKey(proxy: ReturnType<typeof createProxy>) {
  const response = await proxy.fetch(
    new Request('http://proxy.test/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.GenerateDataKey', authorization: `Bearer ${token}` },
      body: JSON.stringify({ KeyId: `arn:aws:kms:us-east-1:111122223333:key/${KEY}`, KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }),
    }),
  );
  return { status: response.status, body: (await response.json()) as { Plaintext?: string; __type?: string } };
}

test('a proxy with upstream.viaService meets a key policy that requires kms:ViaService', async () => {
  const { status, body } = await generateDataKey(proxyWith(SERVICE));
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(Buffer.from(body.Plaintext!, 'base64').length, 32);
});

test('without it, or naming another service, the same credential is refused', async () => {
  for (const proxy of [proxyWith(), proxyWith('other.service')]) {
    const { status, body } = await generateDataKey(proxy);
    assert.equal(status, 400);
    assert.match(body.__type ?? '', /AccessDeniedException/);
  }
});

test('upstream.viaService must be a non-empty string', () => {
  assert.throws(() => proxyWith(''), /upstream\.viaService/);
});
