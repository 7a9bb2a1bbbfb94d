/**
 * Fuzzing of the proxy's request handling (fast-check, seeded): `createProxy(...).fetch` in
 * process, forwarding to a local KMS in process (`upstream.fetch` calls the KMS's fetch handler,
 * so the whole path — auth, rate limit, input checks, key resolution, policy, SigV4 forwarding,
 * post-checks, audit — runs without sockets).
 *
 * Inputs: methods, origins, content types, targets (forwarded, refused, unknown, garbage), auth
 * (valid JWTs for several tenants and roles, expired / wrongly signed / malformed tokens, valid
 * and broken SigV4 signatures, nothing), bodies (structured fields with wrong types and huge
 * numbers, real ciphertexts and contexts, SealboxEnvelope junk, raw junk, over-size bodies).
 *
 * Oracle: every answer is a KMS-style response — JSON with `__type` and `message` for errors,
 * `x-amzn-requestid`, `x-amzn-errortype` — never a 5xx; a 200 only for an authenticated caller,
 * and for a JWT caller only on keys and contexts of its own tenant (the policy's isolation); the
 * explicitly denied key never answers 200. Every non-OPTIONS request writes exactly one audit line,
 * and the chain verifies at the end.
 */
import { rm } from 'node:fs/promises';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { verifyAuditChain } from '../../src/edge/audit/chain.js';
import { nodeSha256 } from '../../src/node/kms/audit-file.js';
import { createLocalKms, type LocalKms, type SeedFile } from '../../src/node/kms/index.js';
import type { Policy } from '../../src/edge/policy/index.js';
import { createProxy } from '../../src/edge/proxy/index.js';
import { fuzzDir } from './kms.js';
import { describe } from './mutate.js';
import { sign } from './sign.js';
import type { FuzzTarget } from './envelope.js';

const JWT_SECRET = 'proxy-fuzz-secret-0123456789abcdef0123456789';
const ISSUER = 'https://idp.fuzz/';
const AUDIENCE = 'sealbox-fuzz';
const MACHINE = { accessKeyId: 'AKIAPROXYFUZZ0000001', secretAccessKey: 'machine-fuzz-secret-0123456789abcdefghij', principal: 'machine/batch' };
const KMS_CREDS = { accessKeyId: 'AKIAKMSFUZZ000000001', secretAccessKey: 'kms-fuzz-secret-0123456789abcdefghijklmn' };
const KEYS = {
  a: '0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a',
  b: '0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b',
  secret: '05050505-0505-4505-8505-050505050505',
  rsa: '0c0c0c0c-0c0c-4c0c-8c0c-0c0c0c0c0c0c',
};
const SEED: SeedFile = {
  keys: [
    { id: KEYS.a, aliases: ['alias/tenant-a'] },
    { id: KEYS.b, aliases: ['alias/tenant-b'] },
    { id: KEYS.secret, aliases: ['alias/secret'] },
    { id: KEYS.rsa, aliases: ['alias/rsa'], keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' },
  ],
};
const arn = (id: string) => `arn:aws:kms:us-east-1:111122223333:key/${id}`;

/** Tenant isolation: a JWT caller acts only on contexts of its own tenant; the secret key never. */
export const FUZZ_POLICY: Policy = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Readers',
      Effect: 'Allow',
      Principal: { AWS: 'jwt/*' },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}', 'jwt:role': ['reader', 'admin'] } },
    },
    {
      Sid: 'Uploaders',
      Effect: 'Allow',
      Principal: { AWS: 'jwt/*' },
      Action: ['kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Encrypt'],
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}', 'jwt:role': ['uploader', 'admin'] } },
    },
    { Sid: 'Public', Effect: 'Allow', Principal: '*', Action: ['kms:GetPublicKey', 'kms:DescribeKey'], Resource: '*' },
    { Sid: 'Machine', Effect: 'Allow', Principal: { AWS: 'machine/batch' }, Action: 'kms:*', Resource: '*' },
    { Sid: 'NeverSecret', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: 'alias/secret' },
  ],
};

async function jwt(claims: Record<string, unknown>, opts: { exp?: number; secret?: string; alg?: string; iss?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? 'HS256' })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(opts.exp ?? now + 24 * 3600)
    .sign(new TextEncoder().encode(opts.secret ?? JWT_SECRET));
}

interface Who {
  kind: 'jwt' | 'sigv4' | 'bad' | 'none';
  tenant?: string;
  header?: string;
}

const PROXY_OPS = ['GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'Encrypt', 'Decrypt', 'ReEncrypt', 'GetPublicKey', 'DescribeKey'];
const FIELDS = [
  'KeyId', 'EncryptionContext', 'NumberOfBytes', 'KeySpec', 'DryRun', 'Plaintext', 'EncryptionAlgorithm', 'CiphertextBlob', 'SealboxEnvelope',
  'SourceEncryptionContext', 'SourceKeyId', 'DestinationKeyId', 'DestinationEncryptionContext', 'SourceEncryptionAlgorithm',
  'DestinationEncryptionAlgorithm', 'GrantTokens', 'Bogus', '__proto__',
];

export interface ProxyFuzzEnv {
  kms: LocalKms;
  dir: string;
  proxy: { fetch(request: Request): Promise<Response> };
  audit: string[];
  callers: Who[];
  blobs: string[];
}

export async function proxyFuzzEnv(): Promise<ProxyFuzzEnv> {
  const dir = await fuzzDir('sealbox-fuzz-proxy-');
  const kms = await createLocalKms({ dataDir: dir, rootKey: Buffer.alloc(32, 3).toString('base64'), env: {}, log: () => {}, seed: SEED, audit: false, credentials: [KMS_CREDS] });
  const audit: string[] = [];
  const proxy = createProxy({
    upstream: {
      endpoint: 'http://kms.fuzz.local',
      region: 'us-east-1',
      credentials: KMS_CREDS,
      timeoutMs: 10_000,
      fetch: (input, init) => kms.fetch(new Request(input as Request, init)),
    },
    auth: { jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE }, sigv4: { keys: [MACHINE] } },
    policy: FUZZ_POLICY,
    cors: { origins: ['http://app.fuzz'] },
    rateLimit: { capacity: 1e9, refillPerSecond: 1e9 },
    audit: (line) => void audit.push(line),
  });
  const now = Math.floor(Date.now() / 1000);
  const callers: Who[] = [];
  for (const tenant of ['a', 'b']) {
    for (const role of ['reader', 'uploader', 'admin', 'none']) {
      callers.push({ kind: 'jwt', tenant, header: `Bearer ${await jwt({ sub: `${role}-${tenant}`, tenant, role })}` });
    }
  }
  // Odd but valid tokens: no tenant, a numeric tenant, a tenant with wildcards, an array role.
  callers.push({ kind: 'jwt', tenant: undefined, header: `Bearer ${await jwt({ sub: 'notenant', role: 'admin' })}` });
  callers.push({ kind: 'jwt', tenant: '7', header: `Bearer ${await jwt({ sub: 'num', tenant: 7, role: 'admin' })}` });
  callers.push({ kind: 'jwt', tenant: '*', header: `Bearer ${await jwt({ sub: 'star', tenant: '*', role: 'admin' })}` });
  callers.push({ kind: 'jwt', tenant: 'a', header: `Bearer ${await jwt({ sub: 'arr', tenant: 'a', role: ['admin'] })}` });
  // Invalid tokens.
  const bad = [
    `Bearer ${await jwt({ sub: 'x', tenant: 'a', role: 'admin' }, { exp: now - 10 })}`,
    `Bearer ${await jwt({ sub: 'x', tenant: 'a', role: 'admin' }, { secret: 'another-secret-0123456789abcdef0123456789' })}`,
    `Bearer ${await jwt({ sub: 'x', tenant: 'a', role: 'admin' }, { iss: 'https://evil/' })}`,
    `Bearer ${await jwt({ sub: 'x', tenant: 'a', role: 'admin' }, { alg: 'HS512' })}`,
    `Bearer ${await jwt({ tenant: 'a', role: 'admin' })}`,
    `Bearer ${await jwt({ sub: 'x', tenant: 'a', Tenant: 'b', role: 'admin' })}`,
    'Bearer ', 'Bearer x.y.z', 'bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'Basic dXNlcjpwYXNz', 'AWS4-HMAC-SHA256 Credential=x', 'AWS4-HMAC-SHA256 ',
    '',
  ];
  for (const header of bad) callers.push({ kind: 'bad', header });
  callers.push({ kind: 'none' });
  callers.push({ kind: 'sigv4' });

  // Real ciphertexts to decrypt: made directly at the KMS for each tenant's key and context.
  const blobs: string[] = [];
  const direct = async (op: string, body: unknown) => {
    const s = sign({ method: 'POST', url: 'http://kms.fuzz.local/', headers: { 'x-amz-target': `TrentService.${op}`, 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body), ...KMS_CREDS, region: 'us-east-1', service: 'kms', time: Date.now() });
    return (await (await kms.fetch(new Request(s.url, { method: 'POST', headers: s.headers, body: s.body }))).json()) as Record<string, string>;
  };
  for (const [key, ctx] of [[KEYS.a, { tenant: 'a' }], [KEYS.b, { tenant: 'b' }], [KEYS.a, { tenant: 'b' }], [KEYS.secret, { tenant: 'a' }], [KEYS.a, undefined]] as const) {
    blobs.push((await direct('Encrypt', { KeyId: key, Plaintext: 'c2VjcmV0', ...(ctx ? { EncryptionContext: ctx } : {}) })).CiphertextBlob!);
  }
  return { kms, dir, proxy, audit, callers, blobs };
}

function valueArb(env: ProxyFuzzEnv): fc.Arbitrary<unknown> {
  const ctx = fc.oneof(
    fc.constantFrom({ tenant: 'a' }, { tenant: 'b' }, { tenant: 'a', x: 'y' }, { Tenant: 'a' }, { tenant: '*' }, { tenant: 'A' }, {}, { tenant: 7 }, { '': 'a' }, JSON.parse('{"__proto__":"a","tenant":"a"}') as Record<string, string>),
    fc.dictionary(fc.constantFrom('tenant', 'x', '__proto__'), fc.oneof(fc.constantFrom('a', 'b', '7', '*'), fc.string({ maxLength: 4 })), { maxKeys: 3 }),
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(KEYS.a, KEYS.b, KEYS.secret, KEYS.rsa, arn(KEYS.a), arn(KEYS.secret), 'alias/tenant-a', 'alias/tenant-b', 'alias/secret', 'alias/rsa', 'alias/none', 'arn:aws:kms:us-east-1:111122223333:alias/secret', '00000000-0000-4000-8000-000000000000', '') },
    { weight: 4, arbitrary: ctx },
    { weight: 3, arbitrary: fc.constantFrom(...env.blobs) },
    { weight: 2, arbitrary: fc.constantFrom('AES_256', 'AES_128', 'SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256', 'c2VjcmV0', '!!', 'x'.repeat(3000)) },
    { weight: 2, arbitrary: fc.oneof(fc.integer({ min: -2, max: 2000 }), fc.constantFrom(32, 64, 1024, 1e21, -0, 0.5, 2 ** 53, Number.MAX_VALUE)) },
    { weight: 1, arbitrary: fc.oneof(fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 })) },
    { weight: 1, arbitrary: fc.record({ Protected: fc.oneof(fc.constant('oA=='), fc.base64String({ maxLength: 40 })), Salt: fc.base64String({ minLength: 32, maxLength: 32 }), Commitment: fc.base64String({ minLength: 44, maxLength: 44 }) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  );
}

const RAW = ['', 'null', '[]', '"x"', '{', '{"KeyId":1e999}', '{"EncryptionContext":{"__proto__":"a"},"KeyId":"alias/tenant-a"}', `{"a":${'['.repeat(3000)}${']'.repeat(3000)}}`];

export const proxyTargets: FuzzTarget[] = [
  {
    name: 'proxy: malformed bodies, bad tokens and signatures, wrong headers (KMS-style errors, never 5xx, tenant isolation, one audit line each)',
    async run(numRuns, seed) {
      const env = await proxyFuzzEnv();
      let requests = 0;
      try {
        const OP_FIELDS: Record<string, string[]> = {
          GenerateDataKey: ['KeyId', 'EncryptionContext', 'NumberOfBytes', 'KeySpec', 'DryRun'],
          GenerateDataKeyWithoutPlaintext: ['KeyId', 'EncryptionContext', 'NumberOfBytes', 'KeySpec'],
          Encrypt: ['KeyId', 'Plaintext', 'EncryptionContext', 'EncryptionAlgorithm'],
          Decrypt: ['CiphertextBlob', 'EncryptionContext', 'KeyId', 'EncryptionAlgorithm', 'SealboxEnvelope'],
          ReEncrypt: ['CiphertextBlob', 'SourceEncryptionContext', 'SourceKeyId', 'DestinationKeyId', 'DestinationEncryptionContext', 'DestinationEncryptionAlgorithm'],
          GetPublicKey: ['KeyId'],
          DescribeKey: ['KeyId'],
        };
        const keyRef = fc.constantFrom(KEYS.a, KEYS.b, KEYS.secret, KEYS.rsa, arn(KEYS.a), arn(KEYS.b), 'alias/tenant-a', 'alias/tenant-b', 'alias/secret', 'alias/rsa', 'alias/none');
        const ctxArb = fc.constantFrom<Record<string, string>>({ tenant: 'a' }, { tenant: 'b' }, { tenant: 'a', x: 'y' }, { tenant: '7' }, { Tenant: 'a' }, {});
        const typed: Record<string, fc.Arbitrary<unknown>> = {
          KeyId: keyRef,
          SourceKeyId: keyRef,
          DestinationKeyId: keyRef,
          EncryptionContext: ctxArb,
          SourceEncryptionContext: ctxArb,
          DestinationEncryptionContext: ctxArb,
          CiphertextBlob: fc.constantFrom(...env.blobs),
          NumberOfBytes: fc.constantFrom(16, 32, 64),
          KeySpec: fc.constantFrom('AES_256', 'AES_128'),
          Plaintext: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')),
          EncryptionAlgorithm: fc.constantFrom('SYMMETRIC_DEFAULT', 'SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256'),
          DestinationEncryptionAlgorithm: fc.constant('SYMMETRIC_DEFAULT'),
          DryRun: fc.boolean(),
        };
        const anyBody = fc.oneof(
          { weight: 3, arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), valueArb(env), { maxKeys: 5 }).map((f) => JSON.stringify(f)) },
          { weight: 1, arbitrary: fc.constantFrom(...RAW) },
          { weight: 1, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')), fc.constant('x'.repeat(70_000))) },
        );
        // Mostly a forwarded operation with that operation's own members (so requests get past the
        // input checks to key resolution, policy and the KMS); sometimes anything.
        const requestArb = fc.oneof(
          {
            weight: 6,
            arbitrary: fc.constantFrom(...PROXY_OPS).chain((op) =>
              fc.tuple(
                fc.constant<string | undefined>(`TrentService.${op}`),
                fc
                  .subarray(OP_FIELDS[op]!, { minLength: 1 })
                  .chain((names) => fc.tuple(...names.map((n) => fc.oneof({ weight: 6, arbitrary: typed[n] ?? valueArb(env) }, { weight: 1, arbitrary: valueArb(env) }).map((v) => [n, v] as const))))
                  .map((pairs) => JSON.stringify(Object.fromEntries(pairs))),
              ),
            ),
          },
          {
            weight: 4,
            arbitrary: fc.tuple(
              fc.oneof(
                { weight: 10, arbitrary: fc.constantFrom(...PROXY_OPS).map((op): string | undefined => `TrentService.${op}`) },
                { weight: 1, arbitrary: fc.constantFrom<string | undefined>('TrentService.CreateKey', 'TrentService.ScheduleKeyDeletion', 'TrentService.Nope', 'TrentService.constructor', 'Decrypt', '', 'TrentService.' + 'x'.repeat(300)) },
                { weight: 1, arbitrary: fc.constant(undefined) },
              ),
              anyBody,
            ),
          },
        );
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              { weight: 3, arbitrary: fc.constantFrom(...env.callers.map((c, i) => [c, i] as const).filter(([c]) => c.kind === 'jwt' || c.kind === 'sigv4').map(([, i]) => i)) },
              { weight: 1, arbitrary: fc.nat(env.callers.length - 1) },
            ),
            requestArb,
            fc.oneof({ weight: 15, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'OPTIONS') }),
            fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constant('http://app.fuzz') }, { weight: 1, arbitrary: fc.constantFrom('http://evil.fuzz', 'null', 'http://proxy.fuzz') }),
            fc.option(fc.constantFrom('application/x-amz-json-1.1', 'application/json', 'text/plain', 'multipart/form-data'), { nil: undefined }),
            fc.constantFrom('ok', 'ok', 'ok', 'body-changed', 'replay'),
            async (callerIndex, [target, body], method, origin, contentType, sigMode) => {
              const who = env.callers[callerIndex]!;
              const headers: Record<string, string> = {};
              if (target !== undefined) headers['x-amz-target'] = target;
              if (contentType !== undefined) headers['content-type'] = contentType;
              if (origin !== undefined) headers.origin = origin;
              let sendBody = method === 'GET' ? '' : body;
              if (who.header !== undefined) headers.authorization = who.header;
              let replay: Request | undefined;
              if (who.kind === 'sigv4') {
                const signed = sign({ method, url: 'http://proxy.fuzz/', headers, body: sendBody, ...MACHINE, region: 'us-east-1', service: 'kms', time: Date.now() });
                Object.assign(headers, signed.headers);
                if (sigMode === 'body-changed') sendBody = `${sendBody} `;
                if (sigMode === 'replay' && method === 'POST') replay = new Request('http://proxy.fuzz/', { method, headers, body: sendBody });
              }
              const what = describe({ who: who.kind, tenant: who.tenant, target, body: body.slice(0, 300), method, origin, contentType, sigMode });
              const send = async (request: Request) => {
                if (request.method !== 'OPTIONS') requests++;
                const response = await env.proxy.fetch(request);
                return { response, text: await response.text() };
              };
              const init: RequestInit = { method, headers, ...(method === 'GET' ? {} : { body: sendBody }) };
              const { response, text } = await send(new Request('http://proxy.fuzz/', init));
              if (method === 'OPTIONS') {
                if (response.status !== 204 && response.status !== 403) throw new Error(`${what}: preflight answered ${response.status}`);
                return;
              }
              if (response.status >= 500) throw new Error(`${what}: answered ${response.status} ${text.slice(0, 300)}`);
              if (response.headers.get('x-amzn-requestid') === null) throw new Error(`${what}: no x-amzn-requestid`);
              let json: Record<string, unknown>;
              try {
                json = JSON.parse(text);
              } catch {
                throw new Error(`${what}: answer is not JSON: ${text.slice(0, 200)}`);
              }
              if (response.status !== 200) {
                if (typeof json.__type !== 'string' || typeof json.message !== 'string' || response.headers.get('x-amzn-errortype') !== json.__type) {
                  throw new Error(`${what}: malformed error ${response.status} ${text.slice(0, 300)}`);
                }
              } else {
                // Who may get a 200, and for what.
                if (who.kind === 'bad' || who.kind === 'none') throw new Error(`${what}: an unauthenticated request was answered 200`);
                if (who.kind === 'sigv4' && sigMode === 'body-changed') throw new Error(`${what}: a request whose body changed after signing was answered 200`);
                const op = target!.slice('TrentService.'.length);
                const input = JSON.parse(body) as Record<string, unknown>;
                const keyAnswered = String(op === 'DescribeKey' ? (json.KeyMetadata as Record<string, unknown>)?.Arn : json.KeyId);
                if (keyAnswered.includes(KEYS.secret) || String(json.SourceKeyId).includes(KEYS.secret)) throw new Error(`${what}: the denied key answered 200`);
                if (who.kind === 'jwt' && op !== 'GetPublicKey' && op !== 'DescribeKey') {
                  const ctx = (input.EncryptionContext ?? input.DestinationEncryptionContext) as Record<string, unknown> | undefined;
                  // Condition keys are case-insensitive (as in AWS): some spelling of "tenant" must hold the caller's tenant.
                  const ok = who.tenant !== undefined && ctx !== undefined && Object.entries(ctx).some(([k, v]) => k.toLowerCase() === 'tenant' && v === who.tenant);
                  if (!ok) throw new Error(`${what}: tenant ${who.tenant} got 200 for context ${JSON.stringify(ctx)}`);
                }
              }
              if (replay) {
                const again = await send(replay);
                if (again.response.status === 200) throw new Error(`${what}: a replayed SigV4 request was answered 200`);
              }
            },
          ),
          { numRuns, seed },
        );
        const result = await verifyAuditChain(env.audit, nodeSha256);
        if (!result.ok) throw new Error(`proxy audit chain broken at line ${result.line}: ${result.reason}`);
        if (result.count !== requests) throw new Error(`proxy audit has ${result.count} lines for ${requests} requests`);
      } finally {
        await env.kms.close();
        await rm(env.dir, { recursive: true, force: true });
      }
    },
  },
];
