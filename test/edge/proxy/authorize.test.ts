// The proxy's multi-name authorization (a key = its ARN, id, alias names and alias ARNs) on top of
// src/edge/policy: no name can dodge a Deny or borrow an Allow, NotResource included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Authorizer } from '../../../src/edge/proxy/authorize.js';
import { resourceNames } from '../../../src/edge/proxy/keys.js';
import type { PolicyStatement } from '../../../src/edge/policy/index.js';

const key = {
  arn: 'arn:aws:kms:us-east-1:111122223333:key/k1',
  keyId: 'k1',
  aliases: ['alias/public', 'alias/team'],
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
};
const other = { ...key, arn: 'arn:aws:kms:us-east-1:111122223333:key/k2', keyId: 'k2', aliases: ['alias/secret'] };

function decide(statements: PolicyStatement[], k = key, principal = 'jwt/alice'): string {
  return new Authorizer({ Statement: statements }).authorize({
    principal,
    action: 'kms:Decrypt',
    resources: resourceNames(k),
    conditionKeys: {},
    variables: {},
  }).decision;
}

const allow = (s: Partial<PolicyStatement>): PolicyStatement => ({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', ...s });
const deny = (s: Partial<PolicyStatement>): PolicyStatement => ({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', ...s });

test('resource names of a key', () => {
  assert.deepEqual(resourceNames(key), [
    key.arn,
    'k1',
    'alias/public',
    'arn:aws:kms:us-east-1:111122223333:alias/public',
    'alias/team',
    'arn:aws:kms:us-east-1:111122223333:alias/team',
  ]);
});

test('Resource: any name matches (allow by alias name, alias ARN, key ARN or id)', () => {
  for (const r of ['alias/team', 'arn:aws:kms:*:*:alias/team', key.arn, 'k1', 'arn:aws:kms:us-east-1:111122223333:key/*']) {
    assert.equal(decide([allow({ Resource: r })]), 'Allow', r);
    if (!r.endsWith('*')) assert.equal(decide([allow({ Resource: r })], other), 'ImplicitDeny', r);
    assert.equal(decide([allow({ Resource: '*' }), deny({ Resource: r })]), 'Deny', r);
  }
});

test('NotResource: applies only when it excludes none of the names', () => {
  // "Allow everything but alias/team": the key called alias/team is not allowed under any name.
  assert.equal(decide([allow({ NotResource: 'alias/team' })]), 'ImplicitDeny');
  assert.equal(decide([allow({ NotResource: 'alias/team' })], other), 'Allow');
  // "Deny everything but alias/public": the key called alias/public is not denied under any name.
  assert.equal(decide([allow({ Resource: '*' }), deny({ NotResource: 'alias/public' })]), 'Allow');
  assert.equal(decide([allow({ Resource: '*' }), deny({ NotResource: 'alias/public' })], other), 'Deny');
});

test('deny by default, explicit deny wins, statement ids reported', () => {
  const a = new Authorizer({ Statement: [{ Sid: 'A', ...allow({ Resource: '*' }) }, { Sid: 'D', ...deny({ Resource: 'alias/secret' }) }] });
  const req = (k: typeof key) => ({ principal: 'p', action: 'kms:Decrypt', resources: resourceNames(k), conditionKeys: {}, variables: {} });
  assert.deepEqual(a.authorize(req(key)), { decision: 'Allow', statement: 'A' });
  assert.deepEqual(a.authorize(req(other)), { decision: 'Deny', statement: 'D' });
  assert.deepEqual(new Authorizer({ Statement: [allow({ Resource: 'alias/x' })] }).authorize(req(key)), { decision: 'ImplicitDeny' });
});
