/** Key policies: their types, and parsing and validation (`parsePolicy`). See `./index.ts` for what is supported. */
export type Decision = 'Allow' | 'Deny' | 'ImplicitDeny';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: '*' | { AWS?: string | string[]; [k: string]: unknown };
  NotPrincipal?: { AWS?: string | string[]; [k: string]: unknown };
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | boolean | number | Array<string | boolean | number>>>;
}

export interface Policy {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement[];
}

export interface PolicyRequest {
  /** Caller's principal ARN, e.g. `arn:aws:iam::111122223333:user/alice`; or `*` for anonymous. */
  principal: string;
  /** e.g. `kms:Decrypt`. */
  action: string;
  /** The key ARN; statements without Resource match any resource. */
  resource?: string;
  /** Condition keys and their values (a string, or a list for multi-valued keys). */
  conditionKeys?: Record<string, string | string[] | boolean | undefined>;
  /** Values for `${…}` policy variables, e.g. `{ 'jwt:tenant': 'acme', 'aws:username': 'alice' }`. */
  variables?: Record<string, string | undefined>;
}

export interface PolicyResult {
  decision: Decision;
  /** Sid (or `#index` when there is none) of the statement that decided an Allow or Deny. */
  statement?: string;
}

export class PolicyError extends Error {
  readonly code = 'MalformedPolicyDocument';
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

export const POLICY_VERSION = '2012-10-17';

/** AWS's default key policy: the account's root principal may do anything with the key. */
export function defaultKeyPolicy(account: string, partition = 'aws'): Policy {
  return {
    Version: POLICY_VERSION,
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:${partition}:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

const STRING_OPS = new Set([
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
]);

const MAX_POLICY_BYTES = 32 * 1024;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringOrList(v: unknown, what: string): void {
  if (typeof v === 'string') return;
  // Array.from: a hole (sparse array) is undefined, not skipped.
  if (Array.isArray(v) && v.length > 0 && Array.from(v).every((x) => typeof x === 'string')) return;
  throw new PolicyError(`${what} must be a string or a non-empty list of strings`);
}

function checkPrincipal(p: unknown, what: string): void {
  if (p === '*') return;
  if (!isRecord(p) || Object.keys(p).length === 0) throw new PolicyError(`${what} must be "*" or an object such as {"AWS": "arn"}`);
  for (const [k, v] of Object.entries(p)) {
    if (!['AWS', 'Service', 'Federated', 'CanonicalUser'].includes(k)) throw new PolicyError(`${what} has an unknown type "${k}"`);
    stringOrList(v, `${what}.${k}`);
  }
}

export function parseOperator(op: string): { base: string; ifExists: boolean; set?: 'all' | 'any' } {
  let rest = op;
  let set: 'all' | 'any' | undefined;
  if (rest.startsWith('ForAllValues:')) {
    set = 'all';
    rest = rest.slice('ForAllValues:'.length);
  } else if (rest.startsWith('ForAnyValue:')) {
    set = 'any';
    rest = rest.slice('ForAnyValue:'.length);
  }
  let ifExists = false;
  if (rest.endsWith('IfExists')) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  return set === undefined ? { base: rest, ifExists } : { base: rest, ifExists, set };
}

/**
 * Validates a policy (a JSON string or an object) and returns it with `Statement` always a list.
 * Throws `PolicyError` on anything malformed or unsupported.
 */
export function parsePolicy(input: string | unknown): Policy {
  let doc: unknown = input;
  if (typeof input === 'string') {
    if (new TextEncoder().encode(input).length > MAX_POLICY_BYTES) throw new PolicyError('policy is larger than 32 KB');
    try {
      doc = JSON.parse(input);
    } catch {
      throw new PolicyError('policy is not valid JSON');
    }
  }
  if (!isRecord(doc)) throw new PolicyError('policy must be a JSON object');
  for (const k of Object.keys(doc)) {
    if (!['Version', 'Id', 'Statement'].includes(k)) throw new PolicyError(`unknown policy element "${k}"`);
  }
  if (doc.Version !== undefined && doc.Version !== POLICY_VERSION && doc.Version !== '2008-10-17') {
    throw new PolicyError(`unsupported policy Version "${String(doc.Version)}"`);
  }
  if (doc.Id !== undefined && typeof doc.Id !== 'string') throw new PolicyError('Id must be a string');
  const raw = doc.Statement;
  const list = Array.isArray(raw) ? Array.from(raw) : raw === undefined ? [] : [raw];
  if (list.length === 0) throw new PolicyError('policy has no Statement');
  const sids = new Set<string>();
  const statements = list.map((s, i): PolicyStatement => {
    const where = `Statement[${i}]`;
    if (!isRecord(s)) throw new PolicyError(`${where} must be an object`);
    for (const k of Object.keys(s)) {
      if (!['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'].includes(k)) {
        throw new PolicyError(`${where} has an unknown element "${k}"`);
      }
    }
    if (s.Sid !== undefined) {
      if (typeof s.Sid !== 'string') throw new PolicyError(`${where}.Sid must be a string`);
      if (s.Sid !== '' && sids.has(s.Sid)) throw new PolicyError(`duplicate Sid "${s.Sid}"`);
      sids.add(s.Sid);
    }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyError(`${where}.Effect must be "Allow" or "Deny"`);
    if ((s.Principal === undefined) === (s.NotPrincipal === undefined)) {
      throw new PolicyError(`${where} needs exactly one of Principal and NotPrincipal`);
    }
    if (s.Principal !== undefined) checkPrincipal(s.Principal, `${where}.Principal`);
    if (s.NotPrincipal !== undefined) checkPrincipal(s.NotPrincipal, `${where}.NotPrincipal`);
    if ((s.Action === undefined) === (s.NotAction === undefined)) throw new PolicyError(`${where} needs exactly one of Action and NotAction`);
    if (s.Action !== undefined) stringOrList(s.Action, `${where}.Action`);
    if (s.NotAction !== undefined) stringOrList(s.NotAction, `${where}.NotAction`);
    if (s.Resource !== undefined && s.NotResource !== undefined) throw new PolicyError(`${where} has both Resource and NotResource`);
    if (s.Resource !== undefined) stringOrList(s.Resource, `${where}.Resource`);
    if (s.NotResource !== undefined) stringOrList(s.NotResource, `${where}.NotResource`);
    if (s.Condition !== undefined) {
      if (!isRecord(s.Condition)) throw new PolicyError(`${where}.Condition must be an object`);
      for (const [op, block] of Object.entries(s.Condition)) {
        const { base } = parseOperator(op);
        if (!STRING_OPS.has(base) && base !== 'Null' && base !== 'Bool') {
          throw new PolicyError(`${where}.Condition uses unsupported operator "${op}"`);
        }
        if (!isRecord(block) || Object.keys(block).length === 0) throw new PolicyError(`${where}.Condition.${op} must be a non-empty object`);
        for (const [key, value] of Object.entries(block)) {
          const values = Array.isArray(value) ? Array.from(value) : [value];
          if (values.length === 0 || !values.every((v) => ['string', 'boolean', 'number'].includes(typeof v))) {
            throw new PolicyError(`${where}.Condition.${op}.${key} must be a string, boolean or list of them`);
          }
        }
      }
    }
    return s as unknown as PolicyStatement;
  });
  const out: Policy = { Statement: statements };
  if (typeof doc.Version === 'string') out.Version = doc.Version;
  if (typeof doc.Id === 'string') out.Id = doc.Id;
  return out;
}

/** A string-or-list policy element as a list. */
export function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
