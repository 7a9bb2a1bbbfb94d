import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  PolicyError,
  defaultKeyPolicy,
  encryptionContextKeys,
  evaluatePolicy,
  globMatch,
  parsePolicy,
  type Policy,
  type PolicyRequest,
  type PolicyStatement,
} from '../../../src/edge/policy/index.js';

const ALICE = 'arn:aws:iam::111122223333:user/alice';
const BOB = 'arn:aws:iam::111122223333:role/bob';
const MALLORY = 'arn:aws:iam::444455556666:user/mallory';
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const policy = (...Statement: PolicyStatement[]): Policy => parsePolicy({ Version: '2012-10-17', Statement });
const req = (over: Partial<PolicyRequest> = {}): PolicyRequest => ({ principal: ALICE, action: 'kms:Decrypt', resource: KEY, ...over });

describe('parsePolicy', () => {
  const bad: Array<[string, unknown]> = [
    ['not JSON', '{'],
    ['not an object', '[]'],
    ['no statement', { Version: '2012-10-17' }],
    ['unknown top-level element', { Statement: [], Foo: 1 }],
    ['bad version', { Version: '2020-01-01', Statement: [{ Effect: 'Allow', Principal: '*', Action: '*' }] }],
    ['bad effect', { Statement: [{ Effect: 'Maybe', Principal: '*', Action: '*' }] }],
    ['no principal', { Statement: [{ Effect: 'Allow', Action: '*' }] }],
    ['no action', { Statement: [{ Effect: 'Allow', Principal: '*' }] }],
    ['both Action and NotAction', { Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', NotAction: 'kms:Decrypt' }] }],
    ['bad principal type', { Statement: [{ Effect: 'Allow', Principal: { Robot: 'x' }, Action: '*' }] }],
    ['principal not string', { Statement: [{ Effect: 'Allow', Principal: { AWS: 5 }, Action: '*' }] }],
    ['empty action list', { Statement: [{ Effect: 'Allow', Principal: '*', Action: [] }] }],
    ['unknown statement element', { Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Extra: 1 }] }],
    ['unsupported operator', { Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Condition: { NumericLessThan: { 'x:y': '1' } } }] }],
    ['condition value object', { Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Condition: { StringEquals: { 'x:y': { a: 1 } } } }] }],
    ['duplicate Sid', { Statement: [{ Sid: 'a', Effect: 'Allow', Principal: '*', Action: '*' }, { Sid: 'a', Effect: 'Deny', Principal: '*', Action: '*' }] }],
  ];
  for (const [name, doc] of bad) {
    test(`rejects: ${name}`, () => {
      assert.throws(() => parsePolicy(typeof doc === 'string' ? doc : JSON.stringify(doc)), PolicyError);
    });
  }
  test('accepts a single statement object and the default key policy', () => {
    const p = parsePolicy('{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}');
    assert.equal(p.Statement.length, 1);
    assert.doesNotThrow(() => parsePolicy(JSON.stringify(defaultKeyPolicy('111122223333'))));
  });
  test('rejects a policy over 32 KB', () => {
    const big = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Sid: 'x'.repeat(33 * 1024) }] });
    assert.throws(() => parsePolicy(big), PolicyError);
  });
});

describe('evaluatePolicy', () => {
  const rows: Array<{ name: string; policy: Policy; req: PolicyRequest; want: string }> = [
    { name: 'empty match is an implicit deny', policy: policy({ Effect: 'Allow', Principal: { AWS: BOB }, Action: 'kms:Decrypt' }), req: req(), want: 'ImplicitDeny' },
    { name: 'default policy allows the account', policy: defaultKeyPolicy('111122223333'), req: req(), want: 'Allow' },
    { name: 'default policy: another account is denied', policy: defaultKeyPolicy('111122223333'), req: req({ principal: MALLORY }), want: 'ImplicitDeny' },
    { name: 'account id as principal', policy: policy({ Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 'kms:*' }), req: req(), want: 'Allow' },
    { name: 'principal list', policy: policy({ Effect: 'Allow', Principal: { AWS: [BOB, ALICE] }, Action: 'kms:Decrypt' }), req: req(), want: 'Allow' },
    { name: 'principal *', policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt' }), req: req({ principal: MALLORY }), want: 'Allow' },
    { name: 'principal {AWS:*}', policy: policy({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Decrypt' }), req: req({ principal: MALLORY }), want: 'Allow' },
    { name: 'action wildcard kms:Generate*', policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Generate*' }), req: req({ action: 'kms:GenerateDataKeyWithoutPlaintext' }), want: 'Allow' },
    { name: 'action is case-insensitive', policy: policy({ Effect: 'Allow', Principal: '*', Action: 'KMS:decrypt' }), req: req(), want: 'Allow' },
    { name: 'action mismatch', policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Encrypt' }), req: req(), want: 'ImplicitDeny' },
    { name: 'NotAction', policy: policy({ Effect: 'Allow', Principal: '*', NotAction: 'kms:ScheduleKeyDeletion' }), req: req(), want: 'Allow' },
    { name: 'NotAction excludes', policy: policy({ Effect: 'Allow', Principal: '*', NotAction: 'kms:Decrypt' }), req: req(), want: 'ImplicitDeny' },
    { name: 'resource ARN match', policy: policy({ Effect: 'Allow', Principal: '*', Action: '*', Resource: KEY }), req: req(), want: 'Allow' },
    { name: 'resource wildcard', policy: policy({ Effect: 'Allow', Principal: '*', Action: '*', Resource: 'arn:aws:kms:us-east-1:111122223333:key/*' }), req: req(), want: 'Allow' },
    { name: 'resource mismatch', policy: policy({ Effect: 'Allow', Principal: '*', Action: '*', Resource: 'arn:aws:kms:eu-west-1:*' }), req: req(), want: 'ImplicitDeny' },
    {
      name: 'explicit deny wins over allow',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:*' }, { Sid: 'no', Effect: 'Deny', Principal: { AWS: ALICE }, Action: 'kms:Decrypt' }),
      req: req(),
      want: 'Deny',
    },
    {
      name: 'NotPrincipal deny spares the named principal',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:*' }, { Effect: 'Deny', NotPrincipal: { AWS: ALICE }, Action: 'kms:*' }),
      req: req(),
      want: 'Allow',
    },
    {
      name: 'StringEquals on encryption context',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } } }),
      req: req({ conditionKeys: encryptionContextKeys({ tenant: 'acme' }) }),
      want: 'Allow',
    },
    {
      name: 'StringEquals fails on another value',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } } }),
      req: req({ conditionKeys: encryptionContextKeys({ tenant: 'evil' }) }),
      want: 'ImplicitDeny',
    },
    {
      name: 'StringEquals fails on a missing key',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } } }),
      req: req(),
      want: 'ImplicitDeny',
    },
    {
      name: 'StringEqualsIfExists passes on a missing key',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEqualsIfExists: { 'kms:EncryptionContext:tenant': 'acme' } } }),
      req: req(),
      want: 'Allow',
    },
    {
      name: 'condition key names are case-insensitive',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'KMS:CallerAccount': '111122223333' } } }),
      req: req({ conditionKeys: { 'kms:CallerAccount': '111122223333' } }),
      want: 'Allow',
    },
    {
      name: 'StringNotEquals matches a missing key (AWS semantics)',
      policy: policy({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': 'acme' } } }),
      req: req(),
      want: 'Deny',
    },
    {
      name: 'StringLike with wildcard',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/*' } } }),
      req: req({ conditionKeys: { 'aws:PrincipalArn': ALICE } }),
      want: 'Allow',
    },
    {
      name: 'StringNotLike',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringNotLike: { 'aws:PrincipalArn': '*:role/*' } } }),
      req: req({ conditionKeys: { 'aws:PrincipalArn': BOB } }),
      want: 'ImplicitDeny',
    },
    {
      name: 'policy variable ${jwt:tenant} substituted',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}' } } }),
      req: req({ conditionKeys: { 'kms:EncryptionContext:tenant': 'acme' }, variables: { 'jwt:tenant': 'acme' } }),
      want: 'Allow',
    },
    {
      name: 'policy variable with another value',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}' } } }),
      req: req({ conditionKeys: { 'kms:EncryptionContext:tenant': 'acme' }, variables: { 'jwt:tenant': 'other' } }),
      want: 'ImplicitDeny',
    },
    {
      name: 'missing policy variable never matches',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringLike: { 'kms:EncryptionContext:tenant': '${jwt:tenant}' } } }),
      req: req({ conditionKeys: { 'kms:EncryptionContext:tenant': '' } }),
      want: 'ImplicitDeny',
    },
    {
      name: 'a claim value containing * does not widen StringLike',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringLike: { 'kms:EncryptionContext:tenant': '${jwt:tenant}-*' } } }),
      req: req({ conditionKeys: { 'kms:EncryptionContext:tenant': 'acme-1' }, variables: { 'jwt:tenant': '*' } }),
      want: 'ImplicitDeny',
    },
    {
      name: '${aws:username} in a resource pattern',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: '*', Resource: 'arn:aws:kms:*:*:key/${aws:username}-*' }),
      req: req({ resource: 'arn:aws:kms:us-east-1:111122223333:key/alice-1', variables: { 'aws:username': 'alice' } }),
      want: 'Allow',
    },
    {
      name: 'ForAllValues: context keys all in the allowed set',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'purpose'] } } }),
      req: req({ conditionKeys: encryptionContextKeys({ tenant: 'a', purpose: 'b' }) }),
      want: 'Allow',
    },
    {
      name: 'ForAllValues: an extra context key fails',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } } }),
      req: req({ conditionKeys: encryptionContextKeys({ tenant: 'a', extra: 'b' }) }),
      want: 'ImplicitDeny',
    },
    {
      name: 'ForAllValues over no values is true',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } } }),
      req: req(),
      want: 'Allow',
    },
    {
      name: 'ForAnyValue: one key matches',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'tenant' } } }),
      req: req({ conditionKeys: encryptionContextKeys({ x: '1', tenant: '2' }) }),
      want: 'Allow',
    },
    {
      name: 'ForAnyValue over no values is false',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'tenant' } } }),
      req: req(),
      want: 'ImplicitDeny',
    },
    {
      name: 'Null: true requires the key to be absent',
      policy: policy({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Condition: { Null: { 'kms:EncryptionContext:tenant': 'true' } } }),
      req: req(),
      want: 'Deny',
    },
    {
      name: 'Null: true with the key present does not match',
      policy: policy({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Condition: { Null: { 'kms:EncryptionContext:tenant': true } } }),
      req: req({ conditionKeys: { 'kms:EncryptionContext:tenant': 'x' } }),
      want: 'ImplicitDeny',
    },
    {
      name: 'Bool',
      policy: policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } }),
      req: req({ conditionKeys: { 'kms:GrantIsForAWSResource': true } }),
      want: 'Allow',
    },
    {
      name: 'several conditions are ANDed',
      policy: policy({
        Effect: 'Allow',
        Principal: '*',
        Action: 'kms:Decrypt',
        Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'a', 'kms:CallerAccount': '111122223333' }, StringLike: { 'kms:ViaService': 'proxy.*' } },
      }),
      req: req({ conditionKeys: { 'kms:EncryptionContext:tenant': 'a', 'kms:CallerAccount': '111122223333' } }),
      want: 'ImplicitDeny',
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(evaluatePolicy(row.policy, row.req).decision, row.want);
    });
  }

  test('reports the deciding statement', () => {
    const p = policy({ Sid: 'A', Effect: 'Allow', Principal: '*', Action: '*' }, { Effect: 'Deny', Principal: '*', Action: 'kms:Encrypt' });
    assert.deepEqual(evaluatePolicy(p, req()), { decision: 'Allow', statement: 'A' });
    assert.deepEqual(evaluatePolicy(p, req({ action: 'kms:Encrypt' })), { decision: 'Deny', statement: '#1' });
  });

  test('accepts policy JSON text', () => {
    assert.equal(evaluatePolicy(JSON.stringify(defaultKeyPolicy('111122223333')), req()).decision, 'Allow');
  });
});

describe('properties', () => {
  const actions = fc.constantFrom('kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:Sign', 'kms:DescribeKey');
  const principals = fc.constantFrom(ALICE, BOB, MALLORY);
  const statement: fc.Arbitrary<PolicyStatement> = fc.record({
    Effect: fc.constantFrom('Allow' as const, 'Deny' as const),
    Principal: fc.oneof(fc.constant('*' as const), principals.map((p) => ({ AWS: p }))),
    Action: fc.oneof(actions, fc.constant('kms:*'), fc.constant('kms:Gen*')),
  });

  test('an explicit Deny always wins: adding a matching Deny statement makes the result Deny', () => {
    fc.assert(
      fc.property(fc.array(statement, { minLength: 0, maxLength: 6 }), principals, actions, fc.nat(7), (stmts, principal, action, pos) => {
        const deny: PolicyStatement = { Effect: 'Deny', Principal: { AWS: principal }, Action: action };
        const all = [...stmts];
        all.splice(pos % (all.length + 1), 0, deny);
        assert.equal(evaluatePolicy({ Statement: all }, { principal, action, resource: KEY }).decision, 'Deny');
      }),
    );
  });

  test('without any Allow statement the result is never Allow; statement order does not matter', () => {
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 6 }), principals, actions, (stmts, principal, action) => {
        const r = { principal, action, resource: KEY };
        const denies = stmts.filter((s) => s.Effect === 'Deny');
        assert.notEqual(evaluatePolicy({ Statement: denies.length ? denies : [{ Effect: 'Deny', Principal: '*', Action: 'x:y' }] }, r).decision, 'Allow');
        const reversed = [...stmts].reverse();
        if (stmts.length > 0) assert.equal(evaluatePolicy({ Statement: stmts }, r).decision, evaluatePolicy({ Statement: reversed }, r).decision);
      }),
    );
  });

  test('a condition key the request spells twice ignoring case never grants, whatever the order of the keys', () => {
    const allowTenant = policy({ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'a' } } });
    const denyOthers = policy(
      { Sid: 'A', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt' },
      { Sid: 'D', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': 'a' } } },
    );
    const nullCheck = policy({ Sid: 'N', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { Null: { 'kms:EncryptionContext:tenant': 'false' } } });
    for (const context of [{ TENANT: 'a', Tenant: 'b' }, { Tenant: 'b', TENANT: 'a' }, { tenant: 'a', TENANT: 'b' }, { TENANT: 'a', tenant: 'a' }] as Array<Record<string, string>>) {
      const r = req({ conditionKeys: encryptionContextKeys(context) });
      assert.equal(evaluatePolicy(allowTenant, r).decision, 'ImplicitDeny', JSON.stringify(context));
      assert.deepEqual(evaluatePolicy(denyOthers, r), { decision: 'Deny', statement: 'D' });
      assert.equal(evaluatePolicy(nullCheck, r).decision, 'ImplicitDeny');
    }
    // A key spelled once, in any case, still matches.
    assert.equal(evaluatePolicy(allowTenant, req({ conditionKeys: encryptionContextKeys({ TENANT: 'a' }) })).decision, 'Allow');
    // Statements that do not read the ambiguous key are unaffected.
    assert.equal(evaluatePolicy(policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt' }), req({ conditionKeys: encryptionContextKeys({ X: '1', x: '2' }) })).decision, 'Allow');
  });

  test('the decision does not depend on the order of the context keys', () => {
    const p = policy(
      { Sid: 'A', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'a' } } },
      { Sid: 'D', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:role': 'x' } } },
    );
    const key = fc.constantFrom('tenant', 'TENANT', 'Tenant', 'role', 'ROLE', 'other');
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.constantFrom('a', 'b', 'x')), { maxLength: 5 }), (pairs) => {
        const forward = Object.fromEntries(pairs);
        const backward = Object.fromEntries(Object.entries(forward).reverse());
        assert.deepEqual(evaluatePolicy(p, req({ conditionKeys: encryptionContextKeys(forward) })), evaluatePolicy(p, req({ conditionKeys: encryptionContextKeys(backward) })));
      }),
    );
  });

  test('globMatch agrees with a regular-expression reference', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*?]{0,8}$/), fc.stringMatching(/^[ab]{0,8}$/), (pattern, value) => {
        const re = new RegExp(`^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
        assert.equal(globMatch(pattern, value), re.test(value));
      }),
    );
  });
});
