/**
 * Fuzz targets for the local KMS (fast-check, seeded): its JSON 1.1 handler, in process
 * (`createLocalKms(...).fetch`), and the SigV4 verifier (`src/edge/aws/sigv4.ts`).
 *
 * Handler oracle: every answer is a well-formed KMS response — JSON; a 200, or a 4xx with a string
 * `__type` and `message`, `x-amzn-errortype` equal to `__type` and an `x-amzn-requestid` — never a
 * 5xx (the handler answers 500 only for an internal error, which is a bug here). Every POST is
 * audited: at the end the audit file holds one line per POST and its hash chain verifies.
 *
 * SigV4 oracle: a correctly signed request verifies; the same request with one signed part changed
 * (method, path, query, a signed header, the body, the date, the scope, the signature, the signed
 * header list, the access key) is refused with a SigV4Error; adding an unsigned header changes
 * nothing; a garbled Authorization header is a SigV4Error. Anything else thrown is a bug.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { verifyAuditChain } from '../../src/edge/audit/chain.js';
import { nodeSha256 } from '../../src/node/kms/audit-file.js';
import { createLocalKms, type LocalKms } from '../../src/node/kms/index.js';
import { SigV4Error, verifySigV4 } from '../../src/edge/aws/sigv4.js';
import { describe, errorText } from './mutate.js';
import { asSigV4Request, sign, toRequest, type Signed } from './sign.js';
import type { FuzzTarget } from './envelope.js';

const ROOT_KEY = Buffer.alloc(32, 5).toString('base64');
const CREDS = { accessKeyId: 'AKIAFUZZ000000000001', secretAccessKey: 'fuzz-secret-0123456789abcdefghijklmnopq' };
const OTHER = { accessKeyId: 'AKIAFUZZ000000000002', secretAccessKey: 'fuzz-secret-other-0123456789abcdefghijk', account: '444455556666' };
const URL_ = 'http://kms.fuzz.local/';

/** A fast place for fuzzing stores: tmpfs when there is one. */
export async function fuzzDir(prefix: string): Promise<string> {
  let base = tmpdir();
  try {
    const { statfs } = await import('node:fs/promises');
    await statfs('/dev/shm');
    base = '/dev/shm';
  } catch {}
  return mkdtemp(join(base, prefix));
}

export const KMS_OPS = [
  'CreateKey', 'DescribeKey', 'ListKeys', 'UpdateKeyDescription', 'CreateAlias', 'UpdateAlias', 'DeleteAlias', 'ListAliases',
  'EnableKey', 'DisableKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'EnableKeyRotation', 'DisableKeyRotation',
  'GetKeyRotationStatus', 'RotateKeyOnDemand', 'ListKeyRotations', 'GetKeyPolicy', 'PutKeyPolicy', 'ListKeyPolicies',
  'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateRandom', 'Encrypt', 'Decrypt', 'ReEncrypt', 'GetPublicKey',
  'Sign', 'Verify', 'GenerateMac', 'VerifyMac', 'TagResource', 'UntagResource', 'ListResourceTags', 'GetParametersForImport',
  'ImportKeyMaterial',
];

const FIELDS = [
  'KeyId', 'Plaintext', 'CiphertextBlob', 'EncryptionContext', 'KeySpec', 'NumberOfBytes', 'EncryptionAlgorithm', 'AliasName',
  'TargetKeyId', 'Description', 'Policy', 'PolicyName', 'Tags', 'TagKeys', 'Limit', 'Marker', 'PendingWindowInDays', 'Message',
  'MessageType', 'SigningAlgorithm', 'Signature', 'MacAlgorithm', 'Mac', 'DestinationKeyId', 'SourceEncryptionContext',
  'DestinationEncryptionContext', 'SourceKeyId', 'KeyUsage', 'Origin', 'RotationPeriodInDays', 'WrappingAlgorithm',
  'WrappingKeySpec', 'ImportToken', 'EncryptedKeyMaterial', 'ExpirationModel', 'ValidTo', 'DryRun', 'MultiRegion',
  'BypassPolicyLockoutSafetyCheck', 'GrantTokens', 'IncludeKeyMaterial', '__proto__', 'constructor',
];

/** Key ids the fuzzer uses (filled in at start: real keys of several kinds, and aliases). */
interface Pool {
  keys: string[];
  blobs: string[];
}

const POLICY_TEXTS = [
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}',
  '{"Statement":{"Effect":"Deny","Principal":"*","Action":"kms:*"}}',
  '{"Statement":[]}',
  '{"Version":"1999-01-01","Statement":[]}',
  'not json',
  '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"Bogus":{"a":"b"}}}]}',
];

function valueArb(pool: Pool): fc.Arbitrary<unknown> {
  const keyRef = fc.oneof(
    fc.constantFrom(...pool.keys),
    fc.constantFrom(...pool.keys).map((k) => `arn:aws:kms:us-east-1:111122223333:key/${k}`),
    fc.constantFrom('alias/fuzz-a', 'alias/fuzz-rsa', 'alias/', 'alias/aws/x', 'arn:aws:kms:us-east-1:111122223333:alias/fuzz-a', 'arn:aws:kms:eu-west-1:444455556666:key/x'),
  );
  return fc.oneof(
    { weight: 4, arbitrary: keyRef },
    { weight: 2, arbitrary: fc.constantFrom(...pool.blobs) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '', 'SYMMETRIC_DEFAULT', 'AES_256', 'AES_128', 'RSA_2048', 'RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1', 'HMAC_256', 'HMAC_SHA_256',
        'ECC_NIST_P256', 'ECDSA_SHA_256', 'RSASSA_PSS_SHA_256', 'ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'RAW', 'DIGEST',
        'EXTERNAL', 'AWS_KMS', 'default', 'KEY_MATERIAL_EXPIRES', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256', '====', 'AA==', 'A',
        'x'.repeat(5000), '\u0000', '\ud800', '🔑',
      ),
    },
    { weight: 2, arbitrary: fc.constantFrom(...POLICY_TEXTS) },
    { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.integer({ min: -3, max: 5000 }),
        fc.constantFrom(0, 1, 7, 30, 365, 1024, 4096, 4097, -0, 0.5, 1e21, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
      ),
    },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.record({ TagKey: fc.string({ maxLength: 5 }), TagValue: fc.oneof(fc.string({ maxLength: 5 }), fc.integer()) })), { maxLength: 4 }) },
    {
      weight: 2,
      arbitrary: fc.dictionary(
        fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('tenant', '__proto__', 'aws:x', 'constructor')),
        fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('a', 'b'), fc.integer(), fc.constant(null)),
        { maxKeys: 4 },
      ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b).toString('base64')) },
    { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.getTime() / 1000) },
  );
}

/** Raw bodies: not JSON objects, huge numbers, deep nesting, invalid UTF-8, duplicate keys. */
const RAW_BODIES: Array<string | Uint8Array> = [
  '', ' ', 'null', '[]', '5', '"x"', 'true', '{', '{"KeyId":', '{"KeyId":1e999}', '{"NumberOfBytes":1e999}', '{"NumberOfBytes":-1e999}',
  '{"NumberOfBytes":123456789012345678901234567890}', '{"NumberOfBytes":32.0000000000000001}', '{"NumberOfBytes":-0}',
  '{"Limit":1e-400}', '{"KeyId":"a","KeyId":"b"}', '{"__proto__":{"KeyId":"x"}}', '{"EncryptionContext":{"__proto__":"x"}}',
  `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`, '\ufeff{}',
  Uint8Array.of(0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d), Uint8Array.of(0xc0, 0x80), new Uint8Array(70_000).fill(0x20),
];

async function signedFetch(kms: LocalKms, target: string | undefined, body: string | Uint8Array, opts: { contentType?: string; method?: string; creds?: typeof CREDS; region?: string; time?: number } = {}) {
  const headers: Record<string, string> = {};
  if (target !== undefined) headers['x-amz-target'] = target;
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  const creds = opts.creds ?? CREDS;
  const signed = sign({
    method: opts.method ?? 'POST',
    url: URL_,
    headers,
    body,
    ...creds,
    region: opts.region ?? 'us-east-1',
    service: 'kms',
    time: opts.time ?? Date.now(),
  });
  return kms.fetch(toRequest(signed));
}

async function checkAnswer(response: Response, what: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${what}: answer is not JSON (${response.status}): ${text.slice(0, 200)}`);
  }
  if (response.status >= 500) throw new Error(`${what}: answered ${response.status} ${text.slice(0, 300)}`);
  if (response.headers.get('x-amzn-requestid') === null) throw new Error(`${what}: no x-amzn-requestid`);
  if (response.status !== 200) {
    if (response.status < 400) throw new Error(`${what}: status ${response.status}`);
    if (typeof json.__type !== 'string' || typeof json.message !== 'string') throw new Error(`${what}: malformed error ${text.slice(0, 300)}`);
    if (response.headers.get('x-amzn-errortype') !== json.__type) throw new Error(`${what}: x-amzn-errortype differs from __type`);
  } else if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${what}: success body is not an object`);
  }
  return { status: response.status, json };
}

async function setupKms(): Promise<{ kms: LocalKms; dir: string; pool: Pool; posts: () => number; call: typeof signedFetch }> {
  const dir = await fuzzDir('sealbox-fuzz-kms-');
  const kms = await createLocalKms({ dataDir: dir, rootKey: ROOT_KEY, env: {}, log: () => {}, credentials: [CREDS, OTHER] });
  let posts = 0;
  const call: typeof signedFetch = (k, target, body, opts = {}) => {
    if ((opts.method ?? 'POST') === 'POST') posts++;
    return signedFetch(k, target, body, opts);
  };
  const create = async (body: Record<string, unknown>) => {
    const r = await checkAnswer(await call(kms, 'TrentService.CreateKey', JSON.stringify(body)), 'setup');
    return (r.json.KeyMetadata as { KeyId: string }).KeyId;
  };
  const sym = await create({});
  const sym2 = await create({ Description: 'second' });
  const rsa = await create({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
  const hmac = await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
  const ecc = await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
  await call(kms, 'TrentService.CreateAlias', JSON.stringify({ AliasName: 'alias/fuzz-a', TargetKeyId: sym }));
  await call(kms, 'TrentService.CreateAlias', JSON.stringify({ AliasName: 'alias/fuzz-rsa', TargetKeyId: rsa }));
  const blobs: string[] = [];
  for (const [keyId, ctx] of [[sym, { tenant: 'a' }], [sym, undefined], [sym2, { tenant: 'b' }]] as const) {
    const r = await checkAnswer(await call(kms, 'TrentService.Encrypt', JSON.stringify({ KeyId: keyId, Plaintext: 'aGVsbG8=', ...(ctx ? { EncryptionContext: ctx } : {}) })), 'setup');
    blobs.push(r.json.CiphertextBlob as string);
  }
  return { kms, dir, pool: { keys: [sym, sym2, rsa, hmac, ecc, '00000000-0000-4000-8000-000000000000', 'mrk-00000000000000000000000000000000'], blobs }, posts: () => posts, call };
}

export const kmsTargets: FuzzTarget[] = [
  {
    name: 'local KMS handler: random and mutated JSON bodies, targets, content types, methods (KMS errors, never 5xx; audit complete)',
    async run(numRuns, seed) {
      const { kms, dir, pool, posts, call } = await setupKms();
      try {
        const target = fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom(...KMS_OPS).map((op) => `TrentService.${op}`) },
          { weight: 1, arbitrary: fc.constantFrom('TrentService.', 'TrentService.NoSuchOp', 'trentservice.Encrypt', 'Encrypt', 'TrentService.constructor', 'TrentService.__proto__', 'TrentService.toString', 'TrentService.hasOwnProperty') },
          { weight: 1, arbitrary: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }) },
        );
        const fields = fc.dictionary(fc.constantFrom(...FIELDS), valueArb(pool), { maxKeys: 6 });
        const body = fc.oneof(
          { weight: 6, arbitrary: fields.map((f) => JSON.stringify(f)) },
          { weight: 1, arbitrary: fc.constantFrom(...RAW_BODIES) },
          { weight: 1, arbitrary: fc.tuple(fields, fc.nat(), fc.nat(255)).map(([f, at, b]) => {
            const bytes = new TextEncoder().encode(JSON.stringify(f));
            if (bytes.length > 0) bytes[at % bytes.length] = b;
            return bytes;
          }) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }) },
        );
        const contentType = fc.option(fc.constantFrom('application/x-amz-json-1.1', 'application/json', 'text/plain', '', 'application/x-amz-json-1.0; charset=utf-8'), { nil: undefined });
        const method = fc.oneof({ weight: 12, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH') });
        const signer = fc.oneof(
          { weight: 10, arbitrary: fc.constant({}) },
          { weight: 1, arbitrary: fc.constant({ creds: OTHER }) },
          { weight: 1, arbitrary: fc.constantFrom({ region: 'eu-west-1' }, { region: 'not_a_region' }, { time: Date.now() - 3_600_000 }, { creds: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' } }) },
        );
        let cases = 0;
        await fc.assert(
          fc.asyncProperty(target, body, contentType, method, signer, async (t, b, ct, m, s) => {
            cases++;
            const what = describe({ target: t, body: typeof b === 'string' ? b.slice(0, 400) : b.subarray(0, 100), contentType: ct, method: m, signer: s });
            const response = await call(kms, t, m === 'GET' ? '' : b, { ...s, method: m, ...(ct === undefined ? {} : { contentType: ct }) });
            await checkAnswer(response, what);
          }),
          { numRuns, seed },
        );
        // Still healthy, and every POST audited in one verifying chain.
        await checkAnswer(await call(kms, 'TrentService.ListKeys', '{}'), 'after the run');
        await kms.close();
        const lines = (await readFile(kms.auditPath!, 'utf8')).split('\n');
        const result = await verifyAuditChain(lines, nodeSha256);
        if (!result.ok) throw new Error(`audit chain broken at line ${result.line}: ${result.reason}`);
        if (result.count !== posts()) throw new Error(`audit has ${result.count} lines for ${posts()} POST requests (${cases} cases)`);
      } finally {
        await kms.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'SigV4 verifier: signed requests with one signed part changed are refused (typed errors only)',
    async run(numRuns, seed) {
      const secrets = new Map([[CREDS.accessKeyId, { secretAccessKey: CREDS.secretAccessKey }], [OTHER.accessKeyId, { secretAccessKey: OTHER.secretAccessKey }]]);
      const cache = new Map<string, Uint8Array>();
      const now = Date.now();
      const verify = (s: Signed, opts: { allowUnsignedPayload?: boolean } = {}) =>
        verifySigV4(asSigV4Request(s), s.body, { lookupSecret: (id) => secrets.get(id), now: () => now, service: 'kms', signingKeyCache: cache, ...opts });

      // Paths without "." / ".." / empty segments: SigV4 implementations differ on normalising those
      // (the AWS SDK drops empty segments, the verifier keeps them), and KMS clients always POST to "/".
      const requestArb = fc.record({
        path: fc.oneof(fc.constant('/'), fc.array(fc.oneof(fc.constantFrom('a', 'b c', '%20', 'ü', '~x', '.-.', '!'), fc.stringMatching(/^[A-Za-z0-9._-]{1,6}$/).filter((x) => x !== '.' && x !== '..')), { minLength: 1, maxLength: 3 }).map((s) => `/${s.map(encodeURIComponent).join('/')}`)),
        query: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z0-9]{1,5}$/), fc.string({ maxLength: 6 })), { maxLength: 3 }),
        extraHeaders: fc.dictionary(fc.stringMatching(/^x-[a-z]{1,6}$/), fc.stringMatching(/^[!-~]{1,10}$/), { maxKeys: 3 }),
        body: fc.uint8Array({ maxLength: 200 }),
        contentSha256: fc.boolean(),
        skew: fc.integer({ min: -240_000, max: 240_000 }),
        otherKey: fc.boolean(),
      });
      type Mut =
        | 'method' | 'path' | 'query-add' | 'query-value' | 'header-value' | 'header-drop' | 'body' | 'date' | 'region' | 'service'
        | 'scope-date' | 'signature' | 'signed-drop' | 'signed-add' | 'access-key' | 'unknown-key' | 'unsigned-header' | 'content-sha'
        | 'garble';
      const mutArb = fc.record({
        kind: fc.constantFrom<Mut>('method', 'path', 'query-add', 'query-value', 'header-value', 'header-drop', 'body', 'date', 'region', 'service', 'scope-date', 'signature', 'signed-drop', 'signed-add', 'access-key', 'unknown-key', 'unsigned-header', 'content-sha', 'garble'),
        n: fc.nat(),
        garble: fc.string({ maxLength: 120 }),
      });

      await fc.assert(
        fc.asyncProperty(requestArb, mutArb, async (r, mut) => {
          const url = new URL('http://kms.fuzz.local');
          url.pathname = r.path;
          for (const [k, v] of r.query) url.searchParams.append(k, v);
          const creds = r.otherKey ? OTHER : CREDS;
          const signed = sign({
            method: 'POST',
            url: url.href,
            headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Encrypt', ...r.extraHeaders },
            body: r.body,
            ...creds,
            region: 'us-east-1',
            service: 'kms',
            time: now + r.skew,
            contentSha256: r.contentSha256,
          });
          const what = describe({ r, mut });
          try {
            await verify(signed);
          } catch (e) {
            throw new Error(`${what}: a correctly signed request was refused: ${errorText(e)}`);
          }
          const m: Signed = { ...signed, headers: { ...signed.headers } };
          const auth = m.headers.authorization!;
          const signedNames = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
          let mustFail = true;
          switch (mut.kind) {
            case 'method':
              m.method = ['PUT', 'GET', 'DELETE', 'PATCH'][mut.n % 4]!;
              break;
            case 'path': {
              const u = new URL(m.url);
              u.pathname = `${u.pathname.replace(/\/$/, '')}/x${mut.n % 10}`;
              m.url = u.href;
              break;
            }
            case 'query-add': {
              const u = new URL(m.url);
              u.searchParams.append(`q${mut.n % 10}`, 'v');
              m.url = u.href;
              break;
            }
            case 'query-value': {
              const u = new URL(m.url);
              const keys = [...u.searchParams.keys()];
              if (keys.length === 0) u.searchParams.append('z', '');
              else u.searchParams.set(keys[mut.n % keys.length]!, `${u.searchParams.get(keys[mut.n % keys.length]!)}Z`);
              m.url = u.href;
              break;
            }
            case 'header-value': {
              const name = signedNames.filter((h) => h !== 'host')[mut.n % (signedNames.length - 1)]!;
              m.headers[name] = `${m.headers[name]}Z`;
              if (name === 'x-amz-content-sha256') m.headers[name] = '0'.repeat(64);
              break;
            }
            case 'header-drop': {
              const name = signedNames.filter((h) => h !== 'host')[mut.n % (signedNames.length - 1)]!;
              delete m.headers[name];
              break;
            }
            case 'body': {
              const b = m.body.length === 0 ? Uint8Array.of(0) : m.body.slice();
              if (m.body.length > 0) b[mut.n % b.length]! ^= 1 << (mut.n % 8);
              m.body = b;
              break;
            }
            case 'date': {
              const d = m.headers['x-amz-date']!;
              const t = Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15));
              m.headers['x-amz-date'] = new Date(t + (mut.n % 2 ? 1000 : -1000)).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
              break;
            }
            case 'region':
              m.headers.authorization = auth.replace('/us-east-1/', '/us-east-2/');
              break;
            case 'service':
              m.headers.authorization = auth.replace('/kms/', mut.n % 2 ? '/kmt/' : '/s3/');
              break;
            case 'scope-date':
              m.headers.authorization = auth.replace(/Credential=([^/]+)\/(\d{8})/, (_x, id: string, day: string) => `Credential=${id}/${String(Number(day) + 1)}`);
              break;
            case 'signature':
              m.headers.authorization = auth.replace(/Signature=([0-9a-f]{64})/, (_x, sig: string) => {
                const i = mut.n % 64;
                const c = sig[i] === '0' ? '1' : '0';
                return `Signature=${sig.slice(0, i)}${c}${sig.slice(i + 1)}`;
              });
              break;
            case 'signed-drop': {
              const drop = signedNames.filter((h) => h !== 'host' && h !== 'x-amz-date');
              if (drop.length === 0) {
                m.headers.authorization = auth.replace('SignedHeaders=', 'SignedHeaders=a-extra;');
                m.headers['a-extra'] = '1';
              } else {
                const name = drop[mut.n % drop.length]!;
                m.headers.authorization = auth.replace(/SignedHeaders=([^,]+)/, `SignedHeaders=${signedNames.filter((h) => h !== name).join(';')}`);
              }
              break;
            }
            case 'signed-add': {
              m.headers['x-unsigned'] = 'v';
              const names = [...signedNames, 'x-unsigned'].sort();
              m.headers.authorization = auth.replace(/SignedHeaders=([^,]+)/, `SignedHeaders=${names.join(';')}`);
              break;
            }
            case 'access-key':
              m.headers.authorization = auth.replace(`Credential=${creds.accessKeyId}`, `Credential=${creds === CREDS ? OTHER.accessKeyId : CREDS.accessKeyId}`);
              break;
            case 'unknown-key':
              m.headers.authorization = auth.replace(`Credential=${creds.accessKeyId}`, 'Credential=AKIANOBODY');
              break;
            case 'unsigned-header':
              // Not signed, so not covered: must still verify.
              m.headers[`x-zz-unsigned-${mut.n % 5}`] = 'anything';
              if (m.headers.authorization === auth) mustFail = false;
              break;
            case 'content-sha':
              m.headers['x-amz-content-sha256'] = mut.n % 2 ? 'UNSIGNED-PAYLOAD' : 'f'.repeat(64);
              break;
            case 'garble':
              m.headers.authorization = mut.n % 3 === 0 ? mut.garble : mut.n % 3 === 1 ? `AWS4-HMAC-SHA256 ${mut.garble}` : auth.slice(0, mut.n % auth.length) + mut.garble;
              break;
          }
          try {
            await verify(m);
          } catch (e) {
            if (!(e instanceof SigV4Error)) throw new Error(`${what}: threw ${errorText(e)}, not a SigV4Error`);
            if (!mustFail) throw new Error(`${what}: an unsigned header made a signed request fail: ${errorText(e)}`);
            return;
          }
          if (mustFail) throw new Error(`${what}: a request changed in a signed part verified`);
        }),
        { numRuns, seed },
      );
    },
  },
];
