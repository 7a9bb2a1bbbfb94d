/** The policy analyzer: each finding on a policy that has it, none on the demo's policies. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { analyzePolicy, atLeast, type AnalyzeOptions, type Finding } from '../../../src/edge/policy/analyze.js';
import { demoProxyPolicy } from '../../../src/node/devserver/policy.js';
import { demoSeed } from '../../../src/node/devserver/kms-setup.js';

const ROOT = 'arn:aws:iam::111122223333:root';
const PROXY: AnalyzeOptions = { kind: 'proxy', claims: ['sub', 'tenant', 'role'] };
const KMS: AnalyzeOptions = { kind: 'kms' };

const ids = (fs: Finding[]) => fs.map((f) => `${f.severity} ${f.id} ${f.sid}`);
const policy = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });

describe('the demo policies pass clean', () => {
  test('the proxy policy, with the claims the demo issuer sets', () => {
    assert.deepEqual(analyzePolicy(demoProxyPolicy(), { kind: 'proxy', claims: ['sub', 'name', 'tenant', 'role', 'iss', 'aud', 'iat', 'exp'] }), []);
  });
  test('every demo key policy (tenant keys checked as tenant keys)', () => {
    for (const key of demoSeed('111122223333').keys ?? []) {
      const tenant = (key.tags as Record<string, string> | undefined)?.tenant;
      const options: AnalyzeOptions = tenant === undefined ? KMS : { kind: 'kms', tenant };
      assert.deepEqual(analyzePolicy(key.policy ?? policy({ Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' }), options), [], String(key.aliases));
    }
  });
  test('the tenant Deny as it was (Encrypt, Decrypt, GenerateDataKey, …WithoutPlaintext) leaves ReEncrypt and key pairs open', () => {
    const old = policy(
      { Sid: 'AccountAdmin', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'OnlyThisTenantsContext',
        Effect: 'Deny',
        Principal: '*',
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
        Resource: '*',
        Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': 'tenant-a' } },
      },
    );
    const [f, ...rest] = analyzePolicy(old, { kind: 'kms', tenant: 'tenant-a' });
    assert.equal(rest.length, 0);
    assert.equal(f!.id, 'context-deny-gap');
    assert.equal(f!.sid, 'AccountAdmin');
    assert.match(f!.message, /kms:GenerateDataKeyPair, kms:GenerateDataKeyPairWithoutPlaintext, kms:ReEncryptFrom, kms:ReEncryptTo/);
  });
});

describe('findings', () => {
  test('wildcard principal with a decrypt-capable action: critical without a condition, high when the condition does not bind the caller', () => {
    const fs = analyzePolicy(
      policy(
        { Sid: 'Open', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' },
        { Sid: 'ContextOnly', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Generate*', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'a' } } },
        { Sid: 'Bound', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}' } } },
        { Sid: 'ByRole', Effect: 'Allow', Principal: '*', Action: 'kms:ReEncrypt*', Resource: '*', Condition: { StringEquals: { 'jwt:role': 'reader', 'kms:EncryptionContext:tenant': 'a' } } },
        { Sid: 'NoPlaintext', Effect: 'Allow', Principal: '*', Action: ['kms:GenerateDataKeyWithoutPlaintext', 'kms:Encrypt'], Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'a' } } },
        { Sid: 'AllJwtUsers', Effect: 'Allow', Principal: { AWS: 'jwt/*' }, Action: 'kms:GenerateDataKey', Resource: '*', Condition: { StringEqualsIfExists: { 'jwt:role': 'x' }, StringEquals: { 'kms:EncryptionContext:tenant': 'a' } } },
      ),
      PROXY,
    );
    assert.deepEqual(ids(fs), [
      'critical wildcard-principal-decrypt Open',
      'high wildcard-principal-decrypt ContextOnly',
      'high wildcard-principal-decrypt AllJwtUsers',
    ]);
    assert.match(fs[0]!.message, /kms:Decrypt \(Principal "\*", no condition\)/);
    assert.match(fs[1]!.message, /kms:GenerateDataKey, kms:GenerateDataKeyPair/);
  });

  test('kms:* to a non-admin; account root is an admin for key policies; --admin adds admins', () => {
    const p = policy(
      { Sid: 'Root', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
      { Sid: 'Ops', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::111122223333:role/ops', 'arn:aws:iam::111122223333:role/app'] }, Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:app': 'x' } } },
    );
    const fs = analyzePolicy(p, KMS);
    assert.deepEqual(ids(fs), ['high kms-star-non-admin Ops']);
    assert.match(fs[0]!.message, /granted to arn:aws:iam::111122223333:role\/ops, arn:aws:iam::111122223333:role\/app/);
    assert.deepEqual(analyzePolicy(p, { kind: 'kms', adminPrincipals: ['arn:aws:iam::111122223333:role/*'] }), []);
    // In a proxy policy a root ARN is no one's admin.
    assert.deepEqual(ids(analyzePolicy(policy({ Sid: 'Root', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:t': '${jwt:tenant}' } } }), PROXY)), ['high kms-star-non-admin Root']);
  });

  test('NotPrincipal and NotAction with Allow', () => {
    const fs = analyzePolicy(
      policy(
        { Sid: 'NotP', Effect: 'Allow', NotPrincipal: { AWS: 'jwt/mallory' }, Action: 'kms:DescribeKey', Resource: '*' },
        { Sid: 'NotA', Effect: 'Allow', Principal: { AWS: 'jwt/alice' }, NotAction: 'kms:ScheduleKeyDeletion', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:t': 'a' } } },
        { Sid: 'DenyNotA', Effect: 'Deny', Principal: '*', NotAction: 'kms:DescribeKey', Resource: '*', Condition: { Bool: { 'sealbox:AuthType': 'never' } } },
      ),
      PROXY,
    );
    assert.deepEqual(ids(fs), ['high not-principal-allow NotP', 'high not-action-allow NotA']);
    assert.match(fs[1]!.message, /including kms:Decrypt, kms:ReEncryptFrom/);
  });

  test('decrypt without an encryption-context condition, unless a Deny requires one', () => {
    const allow = { Sid: 'App', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:role/app' }, Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: '*' };
    assert.deepEqual(ids(analyzePolicy(policy(allow), KMS)), ['medium decrypt-without-context App']);
    const deny = { Sid: 'Ctx', Effect: 'Deny', Principal: '*', Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: '*', Condition: { Null: { 'kms:EncryptionContext:tenant': 'true' } } };
    assert.deepEqual(analyzePolicy(policy(allow, deny), KMS), []);
  });

  test('a tenant key whose policy never looks at the context', () => {
    const p = policy({ Sid: 'Root', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' });
    assert.deepEqual(analyzePolicy(p, KMS), []);
    const fs = analyzePolicy(p, { kind: 'kms', tenant: 'acme' });
    assert.deepEqual(ids(fs), ['high tenant-key-without-context (policy)']);
    assert.match(fs[0]!.fix, /"kms:EncryptionContext:tenant": "acme"/);
  });

  test('unknown condition keys: never holds, or always holds, by operator and effect; with a spelling hint', () => {
    const fs = analyzePolicy(
      policy(
        { Sid: 'A1', Effect: 'Allow', Principal: { AWS: 'jwt/a' }, Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContex:tenant': 'a' } } },
        { Sid: 'A2', Effect: 'Allow', Principal: { AWS: 'jwt/a' }, Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEqualsIfExists: { 'aws:SourceIp': '10.0.0.1' } } },
        { Sid: 'D1', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'sealbox:authtyp': 'jwt' } } },
        { Sid: 'D2', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEquals: { 'kms:CallerAccount': '111122223333' } } },
      ),
      PROXY,
    );
    assert.deepEqual(ids(fs), [
      'high condition-always-true A2',
      'high condition-never-matches D1',
      'medium condition-never-matches A1',
      'medium condition-always-true D2',
    ]);
    const byId = Object.fromEntries(fs.map((f) => [f.sid, f]));
    assert.equal(byId.A1!.fix, 'Spell the key "kms:EncryptionContext:tenant".');
    assert.equal(byId.D1!.fix, 'Spell the key "sealbox:AuthType".');
    // kms:CallerAccount is the local KMS's, not the proxy's: the same statement is fine in a key policy.
    assert.deepEqual(analyzePolicy(policy({ Sid: 'D2', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEquals: { 'kms:CallerAccount': '111122223333' } } }), KMS), []);
  });

  test('misspelled and unsupported operators: the policy would be refused; the rest is still analyzed', () => {
    const fs = analyzePolicy(
      policy(
        { Sid: 'Typo', Effect: 'Allow', Principal: { AWS: 'jwt/a' }, Action: 'kms:Encrypt', Resource: '*', Condition: { StringEqual: { 'kms:EncryptionContext:t': 'a' } } },
        { Sid: 'Aws', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } },
      ),
      PROXY,
    );
    assert.deepEqual(ids(fs), ['critical wildcard-principal-decrypt Aws', 'high condition-unknown-operator Typo', 'high condition-unknown-operator Aws']);
    assert.equal(fs[1]!.fix, 'Spell it "StringEquals".');
    assert.match(fs[2]!.message, /AWS's, but Sealbox's evaluator does not support it/);
  });

  test('claims the issuer does not set, as keys and as variables', () => {
    const fs = analyzePolicy(
      policy(
        { Sid: 'Key', Effect: 'Allow', Principal: '*', Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEquals: { 'jwt:department': 'x' } } },
        { Sid: 'Var', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:org}' } } },
        { Sid: 'Iso', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': '${jwt:org}' } } },
        { Sid: 'Res', Effect: 'Allow', Principal: '*', Action: 'kms:DescribeKey', Resource: 'arn:aws:kms:*:*:alias/${jwt:org}', Condition: { StringEquals: { 'jwt:role': 'w' } } },
      ),
      PROXY,
    );
    assert.deepEqual(ids(fs), ['medium claim-not-set Key', 'medium claim-not-set Var', 'medium claim-not-set Iso', 'medium claim-not-set Res']);
    assert.match(fs[1]!.message, /compares "kms:EncryptionContext:tenant" with \$\{jwt:org\}, a claim the JWT issuer does not set \(claims: sub, tenant, role\), so this condition never holds/);
    assert.match(fs[2]!.message, /always holds: the Deny applies to every request it names/);
    // Without --claims any claim is assumed set; jwt: in a key policy never is.
    assert.deepEqual(ids(analyzePolicy(policy({ Sid: 'K', Effect: 'Allow', Principal: { AWS: 'jwt/a' }, Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEquals: { 'jwt:department': 'x' } } }), { kind: 'proxy' })), []);
    const kms = analyzePolicy(policy({ Sid: 'K', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEquals: { 'jwt:department': 'x' } } }), KMS);
    assert.deepEqual(ids(kms), ['medium condition-never-matches K']);
    assert.match(kms[0]!.message, /the local KMS sets no jwt: keys/);
  });

  test('an Allow shadowed by an unconditional Deny; a conditional or narrower Deny shadows nothing', () => {
    const fs = analyzePolicy(
      policy(
        { Sid: 'Read', Effect: 'Allow', Principal: { AWS: 'jwt/alice' }, Action: ['kms:DescribeKey', 'kms:GetPublicKey'], Resource: 'arn:aws:kms:eu-west-1:111122223333:key/k1' },
        { Sid: 'Gen', Effect: 'Allow', Principal: { AWS: 'jwt/alice' }, Action: 'kms:GenerateDataKey*', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:t': '${jwt:tenant}' } } },
        { Sid: 'Desc', Effect: 'Allow', Principal: { AWS: 'jwt/bob' }, Action: 'kms:Describe*', Resource: '*' },
        { Sid: 'NoReads', Effect: 'Deny', Principal: { AWS: ['jwt/alice', 'jwt/carol'] }, Action: ['kms:Describe*', 'kms:Get*'], Resource: 'arn:aws:kms:eu-west-1:111122223333:key/*' },
        { Sid: 'NoGen', Effect: 'Deny', Principal: '*', Action: 'kms:Generate*', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:t': 'x' } } },
      ),
      PROXY,
    );
    assert.deepEqual(ids(fs), ['low shadowed-by-deny Read']);
    assert.match(fs[0]!.message, /^NoReads denies everything this statement allows/);
  });

  test('a document that does not parse is one critical finding; JSON text is accepted', () => {
    assert.deepEqual(ids(analyzePolicy('{', PROXY)), ['critical policy-invalid (policy)']);
    assert.deepEqual(ids(analyzePolicy({ Statement: [{ Effect: 'Allow', Action: 'kms:Decrypt' }] }, PROXY)), ['critical policy-invalid (policy)']);
    assert.deepEqual(analyzePolicy(JSON.stringify(demoProxyPolicy()), PROXY), []);
  });

  test('the order is by severity, then statement order, then id: the same input gives the same output', () => {
    const statements = [
      { Sid: 'B', Effect: 'Allow', Principal: { AWS: 'jwt/b' }, Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:t': 'a' } } },
      { Sid: 'A', Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
      { Effect: 'Allow', Principal: { AWS: 'jwt/c' }, Action: 'kms:Decrypt', Resource: '*' },
    ];
    const fs = analyzePolicy(policy(...statements), PROXY);
    assert.deepEqual(ids(fs), ['critical wildcard-principal-decrypt A', 'high kms-star-non-admin B', 'high kms-star-non-admin A', 'medium decrypt-without-context #2']);
    assert.deepEqual(analyzePolicy(policy(...statements), PROXY), fs);
    assert.ok(atLeast('critical', 'high') && atLeast('high', 'high') && !atLeast('medium', 'high'));
  });
});

test('never throws, whatever the document; the same input gives the same findings', () => {
  const word = fc.constantFrom('*', 'kms:*', 'kms:Decrypt', 'kms:Generate*', 'jwt/*', 'jwt/a', 'arn:aws:iam::111122223333:root', '${jwt:tenant}', '${jwt:x}', 'StringEquals', 'StringEqual', 'Null', 'kms:EncryptionContext:tenant', 'aws:SourceIp', 'Allow', 'Deny');
  const value = fc.oneof(word, fc.array(word, { maxLength: 3 }), fc.boolean(), fc.dictionary(word, fc.oneof(word, fc.dictionary(word, word, { maxKeys: 2 })), { maxKeys: 3 }));
  const statement = fc.dictionary(fc.constantFrom('Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'Condition', 'Bogus'), value, { maxKeys: 6 });
  const doc = fc.oneof(fc.anything(), fc.record({ Version: fc.constant('2012-10-17'), Statement: fc.array(statement, { maxLength: 4 }) }));
  fc.assert(
    fc.property(doc, fc.constantFrom<AnalyzeOptions>(PROXY, KMS, { kind: 'kms', tenant: 't' }), (d, options) => {
      const a = analyzePolicy(d, options);
      assert.deepEqual(analyzePolicy(structuredClone(d), options), a);
      for (const f of a) assert.ok(f.id && f.sid && f.message && f.fix);
    }),
    { numRuns: 400 },
  );
});
