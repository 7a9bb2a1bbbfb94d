/**
 * Fuzzing of the key-policy evaluator (`src/edge/policy`, fast-check, seeded).
 *
 * Oracle: `parsePolicy` on anything — random documents close to valid ones, arbitrary JSON values,
 * mutated policy text — returns a policy or throws `PolicyError`, nothing else. On a parsed policy,
 * `evaluatePolicy` never throws, and its decision is the combination of each statement's own
 * decision (Deny if any statement alone denies, else Allow if any allows, else ImplicitDeny), so an
 * explicit deny always wins; the order of statements does not matter; and adding a catch-all Deny
 * makes every request Deny.
 */
import fc from 'fast-check';
import { PolicyError, evaluatePolicy, parsePolicy, type Policy, type PolicyRequest } from '../../src/edge/policy/index.js';
import { describe, errorText } from './mutate.js';
import type { FuzzTarget } from './envelope.js';

const PRINCIPALS = [
  'jwt/alice', 'jwt/bob', 'jwt/a*b', 'machine/batch', 'arn:aws:iam::111122223333:user/alice', 'arn:aws:iam::444455556666:role/x', '*', '',
  'arn:aws:iam::111122223333:root',
];
const ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:DescribeKey', 'KMS:DECRYPT', 'kms:*', 's3:GetObject', ''];
const RESOURCES = [
  'arn:aws:kms:us-east-1:111122223333:key/0a0a', 'arn:aws:kms:eu-west-1:111122223333:key/0b0b', 'alias/tenant-a', 'alias/secret',
  'arn:aws:kms:us-east-1:111122223333:alias/tenant-a', '0a0a', '*', '?',
];
const COND_KEYS = ['kms:EncryptionContext:tenant', 'kms:EncryptionContext:Tenant', 'kms:EncryptionContextKeys', 'jwt:role', 'jwt:tenant', 'aws:PrincipalArn', 'kms:CallerAccount', 'kms:ResourceAliases', 'sealbox:AuthType', 'kms:EncryptionAlgorithm'];
const VALUES = ['a', 'b', 'A', 'reader', 'admin', 'jwt/*', '*', '?', 'tenant', '${jwt:tenant}', '${aws:username}', '${*}', '${?}', '${$}', '${nope}', 'alias/tenant-*', 'true', 'false', 'SYMMETRIC_DEFAULT', ''];
const VAR_NAMES = ['jwt:tenant', 'aws:username', 'JWT:TENANT', 'jwt:role', 'aws:PrincipalArn'];

const strOrList = (items: string[]) => fc.oneof(fc.constantFrom(...items), fc.array(fc.constantFrom(...items), { minLength: 1, maxLength: 3 }));

const principalArb = fc.oneof(
  fc.constant('*' as const),
  fc.record({ AWS: strOrList(['jwt/*', 'jwt/alice', 'machine/?atch', '111122223333', 'arn:aws:iam::111122223333:root', 'arn:aws:iam::111122223333:user/al*', 'jwt/${aws:username}', '*', '${jwt:tenant}']) }),
  fc.record({ Service: fc.constant('kms.amazonaws.com') }),
);

const operatorArb = fc
  .tuple(
    fc.constantFrom('', 'ForAllValues:', 'ForAnyValue:'),
    fc.constantFrom('StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike', 'Null', 'Bool'),
    fc.constantFrom('', 'IfExists'),
  )
  .map(([a, b, c]) => `${a}${b}${c}`);

const conditionArb = fc.dictionary(
  operatorArb,
  fc.dictionary(fc.constantFrom(...COND_KEYS), fc.oneof(fc.constantFrom<string | boolean | number>(...VALUES, true, false, 7), fc.array(fc.constantFrom<string | boolean | number>(...VALUES, true), { minLength: 1, maxLength: 3 })), { minKeys: 1, maxKeys: 2 }),
  { minKeys: 1, maxKeys: 2 },
);

const statementArb = fc
  .record(
    {
      Sid: fc.string({ maxLength: 4 }),
      Effect: fc.constantFrom('Allow' as const, 'Deny' as const),
      which: fc.boolean(),
      principal: principalArb,
      notAction: fc.boolean(),
      action: strOrList(['kms:*', '*', 'kms:Decrypt', 'kms:Generate*', 'kms:?ncrypt', 'KMS:DESCRIBEKEY', 'kms:Re*', 's3:*']),
      resource: fc.option(fc.tuple(fc.boolean(), strOrList(['*', 'arn:aws:kms:*:111122223333:key/*', 'alias/tenant-?', 'alias/secret', 'arn:aws:kms:us-east-1:*:alias/${jwt:tenant}', '0a0a'])), { nil: undefined }),
      Condition: fc.option(conditionArb, { nil: undefined }),
    },
    { requiredKeys: ['Effect', 'which', 'principal', 'notAction', 'action'] },
  )
  .map((r) => {
    const s: Record<string, unknown> = { Effect: r.Effect };
    if (r.Sid !== undefined) s.Sid = r.Sid;
    s[r.which ? 'Principal' : 'NotPrincipal'] = r.principal;
    s[r.notAction ? 'NotAction' : 'Action'] = r.action;
    if (r.resource) s[r.resource[0] ? 'Resource' : 'NotResource'] = r.resource[1];
    if (r.Condition) s.Condition = r.Condition;
    return s;
  });

const policyArb = fc.record({ Version: fc.constantFrom('2012-10-17', undefined), Statement: fc.array(statementArb, { minLength: 1, maxLength: 5 }) }).map((p) => {
  // Sids must be unique: number the non-empty ones.
  p.Statement.forEach((s, i) => {
    if (typeof s.Sid === 'string' && s.Sid !== '') s.Sid = `${s.Sid}${i}`;
  });
  return p.Version === undefined ? { Statement: p.Statement } : p;
});

const requestArb: fc.Arbitrary<PolicyRequest> = fc.record(
  {
    principal: fc.constantFrom(...PRINCIPALS),
    action: fc.constantFrom(...ACTIONS),
    resource: fc.constantFrom(...RESOURCES),
    conditionKeys: fc.dictionary(fc.constantFrom(...COND_KEYS), fc.oneof(fc.constantFrom(...VALUES), fc.array(fc.constantFrom(...VALUES), { maxLength: 3 }), fc.boolean(), fc.constant(undefined))),
    variables: fc.dictionary(fc.constantFrom(...VAR_NAMES), fc.oneof(fc.constantFrom('a', 'b', '*', '?', 'alice', '${x}'), fc.constant(undefined))),
  },
  { requiredKeys: ['principal', 'action'] },
);

/** Mutations of a policy document that may or may not keep it valid. */
const garbleArb = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.array(fc.nat(5), { minLength: 1, maxLength: 4 }), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('rename' as const), path: fc.array(fc.nat(5), { minLength: 1, maxLength: 4 }), name: fc.constantFrom('Effect', 'Principal', 'Action', 'Resource', 'Condition', 'Sid', 'Bogus', '__proto__', 'Statement', 'Version', 'Id', 'NotPrincipal') }),
  fc.record({ kind: fc.constant('text' as const), at: fc.nat(), byte: fc.constantFrom('"', '{', '}', '[', ']', ',', ':', '\\', 'x', '1', ' ') }),
);

function garble(doc: unknown, g: { kind: string; [k: string]: unknown }): unknown {
  if (g.kind === 'text') {
    const text = JSON.stringify(doc);
    const at = (g.at as number) % (text.length + 1);
    return `${text.slice(0, at)}${g.byte as string}${text.slice(at + 1)}`;
  }
  const copy = JSON.parse(JSON.stringify(doc)) as unknown;
  let node: unknown = copy;
  const path = g.path as number[];
  for (let i = 0; i < path.length - 1; i++) {
    if (typeof node !== 'object' || node === null) return copy;
    const keys = Object.keys(node);
    if (keys.length === 0) return copy;
    node = (node as Record<string, unknown>)[keys[path[i]! % keys.length]!];
  }
  if (typeof node !== 'object' || node === null) return copy;
  const keys = Object.keys(node);
  if (keys.length === 0) return copy;
  const k = keys[path[path.length - 1]! % keys.length]!;
  const obj = node as Record<string, unknown>;
  if (g.kind === 'set') obj[k] = g.value;
  else {
    const v = obj[k];
    delete obj[k];
    Object.defineProperty(obj, g.name as string, { value: v, enumerable: true, configurable: true, writable: true });
  }
  return copy;
}

function parseOrPolicyError(input: unknown, what: string): Policy | undefined {
  try {
    return parsePolicy(input);
  } catch (e) {
    if (e instanceof PolicyError) return undefined;
    throw new Error(`${what}: parsePolicy threw ${errorText(e)}, not a PolicyError`);
  }
}

function checkEvaluation(policy: Policy, req: PolicyRequest, order: number[], what: string): void {
  let result;
  try {
    result = evaluatePolicy(policy, req);
  } catch (e) {
    throw new Error(`${what}: evaluatePolicy threw ${errorText(e)} on a valid policy`);
  }
  const single = policy.Statement.map((s) => evaluatePolicy({ Statement: [s] }, req).decision);
  const expected = single.includes('Deny') ? 'Deny' : single.includes('Allow') ? 'Allow' : 'ImplicitDeny';
  if (result.decision !== expected) throw new Error(`${what}: decision ${result.decision}, statements alone say ${single.join(',')}`);
  // Order independence.
  const shuffled: Policy = { Statement: order.map((i) => policy.Statement[i % policy.Statement.length]!).filter((s, i, a) => a.indexOf(s) === i) };
  for (const s of policy.Statement) if (!shuffled.Statement.includes(s)) shuffled.Statement.push(s);
  const again = evaluatePolicy(shuffled, req).decision;
  if (again !== result.decision) throw new Error(`${what}: reordering the statements changed ${result.decision} to ${again}`);
  // A catch-all explicit deny wins over everything.
  const denied = evaluatePolicy({ Statement: [...policy.Statement, { Effect: 'Deny', Principal: '*', Action: '*' }] }, req).decision;
  if (denied !== 'Deny') throw new Error(`${what}: a catch-all Deny gave ${denied}`);
}

export const policyTargets: FuzzTarget[] = [
  {
    name: 'policy evaluator: random valid policies and requests (never throws, explicit deny wins, order-independent)',
    async run(numRuns, seed) {
      fc.assert(
        fc.property(policyArb, requestArb, fc.array(fc.nat(9), { maxLength: 6 }), fc.boolean(), (doc, req, order, asText) => {
          const what = describe({ doc, req });
          const policy = parseOrPolicyError(asText ? JSON.stringify(doc) : doc, what);
          if (!policy) {
            // The generator only builds valid documents.
            let why = '';
            try {
              parsePolicy(doc);
            } catch (e) {
              why = errorText(e);
            }
            throw new Error(`${what}: a valid policy was rejected: ${why}`);
          }
          checkEvaluation(policy, req, order, what);
          // The string form evaluates the same.
          const fromText = evaluatePolicy(JSON.stringify(doc), req).decision;
          if (fromText !== evaluatePolicy(policy, req).decision) throw new Error(`${what}: the JSON text evaluates differently`);
        }),
        { numRuns, seed },
      );
    },
  },
  {
    name: 'policy parser: mutated and arbitrary documents (a policy or a PolicyError, then evaluation never throws)',
    async run(numRuns, seed) {
      fc.assert(
        fc.property(
          fc.oneof(
            { weight: 6, arbitrary: fc.tuple(policyArb, fc.array(garbleArb, { minLength: 1, maxLength: 3 })).map(([doc, gs]) => gs.reduce<unknown>((d, g) => (typeof d === 'string' ? d : garble(d, g)), doc)) },
            { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
            { weight: 1, arbitrary: fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true, withSparseArray: true }) },
            { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
          ),
          requestArb,
          (input, req) => {
            const what = describe({ input: typeof input === 'string' ? input.slice(0, 400) : input, req });
            const policy = parseOrPolicyError(input, what);
            if (policy) checkEvaluation(policy, req, [2, 0, 1], what);
          },
        ),
        { numRuns, seed },
      );
    },
  },
];
