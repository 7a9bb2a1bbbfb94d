/**
 * Key-policy evaluation in the shape of AWS key policies (runtime-agnostic: no Node imports).
 * Shared by the local KMS and the proxy.
 *
 * Supported: `Version`, `Id`, `Statement` (one or a list) with `Sid`, `Effect` (Allow | Deny),
 * `Principal` / `NotPrincipal` (`"*"`, `{ "AWS": arn | account id | [..] }`), `Action` / `NotAction`
 * (`kms:Decrypt`, `kms:*`, `kms:Generate*`, case-insensitive), `Resource` / `NotResource`
 * (`*`, ARNs with `*`/`?` wildcards), and `Condition` with the operators
 * StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike,
 * StringNotLike (each with an optional `IfExists` suffix and `ForAllValues:` / `ForAnyValue:` prefix),
 * Null and Bool.
 *
 * Semantics follow AWS: a request is denied unless a statement allows it; a matching `Deny`
 * statement always wins. Condition keys (`kms:EncryptionContext:tenant`, `kms:CallerAccount`,
 * `aws:PrincipalArn`, …) and policy variables (`${jwt:tenant}`, `${aws:username}`) come from the
 * request context; key names are compared case-insensitively, values case-sensitively. A variable
 * with no value makes the statement element that uses it not match (AWS does the same), except for
 * `${*}`, `${?}` and `${$}` which stand for a literal `*`, `?` and `$`.
 *
 * Principals: `arn:aws:iam::111122223333:root` (or just `111122223333`) matches every principal of
 * that account, as in AWS where it delegates to the account's IAM policies (the local KMS has no IAM
 * and treats that delegation as granted).
 */

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

function parseOperator(op: string): { base: string; ifExists: boolean; set?: 'all' | 'any' } {
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

// ── matching ──────────────────────────────────────────────────────────────────────────────────────

/** Glob with `*` (any run) and `?` (one character); `ignoreCase` for actions. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  if (!p.includes('*') && !p.includes('?')) return p === v;
  // Iterative wildcard matching with backtracking on the last star: O(|p|·|v|) worst case.
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (star !== -1) {
      pi = star + 1;
      vi = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

const LITERAL_PLACEHOLDER = { '*': '\u0000STAR\u0000', '?': '\u0000QMARK\u0000' } as const;

/**
 * Substitutes `${name}` policy variables. Returns undefined when a variable has no value. With
 * `forGlob`, a substituted value's own `*`/`?` are kept literal (the caller matches with
 * `globMatchLiteral`), so a claim value cannot widen a pattern.
 */
/** A condition key that two entries of the request context spell alike but for case. */
const AMBIGUOUS = Symbol('ambiguous condition key');

/**
 * Condition key names are matched ignoring case (as in AWS). When two entries match one name (an
 * encryption context with `TENANT` and `Tenant`), which one is meant would depend on the order of
 * the request's keys: the lookup says so instead of picking one.
 */
function lookupCaseInsensitive<T>(map: Record<string, T> | undefined, key: string): T | undefined | typeof AMBIGUOUS {
  if (!map) return undefined;
  const lower = key.toLowerCase();
  let found: T | undefined;
  let matches = 0;
  for (const k of Object.keys(map)) {
    if (k.toLowerCase() !== lower) continue;
    if (++matches > 1) return AMBIGUOUS;
    found = map[k];
  }
  return found;
}

function substitute(
  text: string,
  variables: Record<string, string | undefined>,
  forGlob: boolean,
): string | undefined {
  if (!text.includes('${')) return text;
  let missing = false;
  const out = text.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    if (name === '*') return forGlob ? LITERAL_PLACEHOLDER['*'] : '*';
    if (name === '?') return forGlob ? LITERAL_PLACEHOLDER['?'] : '?';
    if (name === '$') return '$';
    const v = lookupCaseInsensitive(variables, name);
    // A variable spelled twice ignoring case has no one value: as if it had none.
    if (v === undefined || v === AMBIGUOUS) {
      missing = true;
      return '';
    }
    if (!forGlob) return v;
    return v.replace(/\*/g, LITERAL_PLACEHOLDER['*']).replace(/\?/g, LITERAL_PLACEHOLDER['?']);
  });
  return missing ? undefined : out;
}

/** Glob where the placeholders produced by `substitute(…, true)` match only themselves literally. */
function globMatchLiteral(pattern: string, value: string, ignoreCase = false): boolean {
  if (!pattern.includes('\u0000')) return globMatch(pattern, value, ignoreCase);
  // Escape-aware matcher: tokenise the pattern into literal chars and wildcards.
  const tokens: Array<{ lit: string } | { star: true } | { any: true }> = [];
  for (let i = 0; i < pattern.length; ) {
    if (pattern.startsWith(LITERAL_PLACEHOLDER['*'], i)) {
      tokens.push({ lit: '*' });
      i += LITERAL_PLACEHOLDER['*'].length;
    } else if (pattern.startsWith(LITERAL_PLACEHOLDER['?'], i)) {
      tokens.push({ lit: '?' });
      i += LITERAL_PLACEHOLDER['?'].length;
    } else {
      const c = pattern[i]!;
      tokens.push(c === '*' ? { star: true } : c === '?' ? { any: true } : { lit: c });
      i++;
    }
  }
  const v = ignoreCase ? value.toLowerCase() : value;
  const eq = (a: string, b: string) => (ignoreCase ? a.toLowerCase() === b : a === b);
  let ti = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    const t = tokens[ti];
    if (t && (('any' in t) || ('lit' in t && eq(t.lit, v[vi]!)))) {
      ti++;
      vi++;
    } else if (t && 'star' in t) {
      star = ti++;
      mark = vi;
    } else if (star !== -1) {
      ti = star + 1;
      vi = ++mark;
    } else return false;
  }
  while (ti < tokens.length && 'star' in tokens[ti]!) ti++;
  return ti === tokens.length;
}

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

const ACCOUNT_ID = /^\d{12}$/;

function accountOf(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts.length >= 6 && parts[0] === 'arn' ? parts[4] : undefined;
}

function principalMatches(p: PolicyStatement['Principal'], principal: string, vars: Record<string, string | undefined>): boolean {
  if (p === undefined) return false;
  if (p === '*') return true;
  const entries = list(p.AWS as string | string[] | undefined);
  for (const raw of entries) {
    const e = substitute(raw, vars, true);
    if (e === undefined) continue;
    if (e === '*') return true;
    if (ACCOUNT_ID.test(e)) {
      if (accountOf(principal) === e) return true;
      continue;
    }
    const m = /^arn:[^:]+:iam::(\d{12}):root$/.exec(e);
    if (m) {
      if (accountOf(principal) === m[1]) return true;
      continue;
    }
    if (globMatchLiteral(e, principal)) return true;
  }
  return false;
}

function actionMatches(patterns: string | string[] | undefined, action: string): boolean {
  return list(patterns).some((p) => p === '*' || globMatch(p, action, true));
}

function resourceMatches(patterns: string | string[] | undefined, resource: string | undefined, vars: Record<string, string | undefined>): boolean {
  for (const raw of list(patterns)) {
    if (raw === '*') return true;
    if (resource === undefined) continue;
    const p = substitute(raw, vars, true);
    if (p !== undefined && globMatchLiteral(p, resource)) return true;
  }
  return false;
}

type Ctx = Record<string, string | string[] | boolean | undefined>;

function contextValues(ctx: Ctx | undefined, key: string): string[] | undefined | typeof AMBIGUOUS {
  const v = lookupCaseInsensitive(ctx, key);
  if (v === undefined || v === AMBIGUOUS) return v;
  if (Array.isArray(v)) return v;
  return [typeof v === 'boolean' ? String(v) : v];
}

function stringCompare(base: string, policyValue: string, actual: string): boolean {
  switch (base) {
    case 'StringEquals':
    case 'StringNotEquals':
      return policyValue === actual;
    case 'StringEqualsIgnoreCase':
    case 'StringNotEqualsIgnoreCase':
      return policyValue.toLowerCase() === actual.toLowerCase();
    case 'StringLike':
    case 'StringNotLike':
      return globMatchLiteral(policyValue, actual);
    default:
      return false;
  }
}

/**
 * Whether a statement's conditions hold: true, false, or AMBIGUOUS when a condition reads a key the
 * request spells twice ignoring case (the statement's effect then decides: see `statementMatches`).
 */
function conditionMatches(
  condition: PolicyStatement['Condition'],
  ctx: Ctx | undefined,
  vars: Record<string, string | undefined>,
): boolean | typeof AMBIGUOUS {
  if (!condition) return true;
  for (const [op, block] of Object.entries(condition)) {
    const { base, ifExists, set } = parseOperator(op);
    for (const [key, raw] of Object.entries(block)) {
      const policyValues = (Array.isArray(raw) ? raw : [raw]).map((v) => String(v));
      const actual = contextValues(ctx, key);
      if (actual === AMBIGUOUS) return AMBIGUOUS;
      if (base === 'Null') {
        // "Null": true → the key must be absent; false → present.
        const wantAbsent = policyValues.some((v) => v.toLowerCase() === 'true');
        const absent = actual === undefined || actual.length === 0;
        if (wantAbsent !== absent) return false;
        continue;
      }
      const negated = base.startsWith('StringNot');
      if (actual === undefined || (set !== undefined && actual.length === 0)) {
        if (set === 'all') continue; // ForAllValues over an empty set is true.
        if (ifExists) continue;
        if (set === 'any') return false;
        // A missing key fails positive operators; negated operators match (AWS semantics).
        if (negated) continue;
        return false;
      }
      // Substitute variables in policy values; an unresolvable value matches nothing.
      const values: string[] = [];
      for (const pv of policyValues) {
        const s = substitute(pv, vars, base.endsWith('Like'));
        if (s !== undefined) values.push(s);
      }
      if (base === 'Bool') {
        const ok = actual.some((a) => values.some((v) => v.toLowerCase() === a.toLowerCase()));
        if (!ok) return false;
        continue;
      }
      const matchOne = (a: string) => values.some((v) => stringCompare(base, v, a));
      let ok: boolean;
      if (set === 'all') ok = negated ? actual.every((a) => !matchOne(a)) : actual.every(matchOne);
      else if (set === 'any') ok = negated ? actual.some((a) => !matchOne(a)) : actual.some(matchOne);
      else ok = negated ? !actual.some(matchOne) : actual.some(matchOne);
      if (!ok) return false;
    }
  }
  return true;
}

function statementMatches(s: PolicyStatement, req: PolicyRequest, vars: Record<string, string | undefined>): boolean {
  if (s.Principal !== undefined ? !principalMatches(s.Principal, req.principal, vars) : principalMatches(s.NotPrincipal, req.principal, vars)) {
    return false;
  }
  if (s.Action !== undefined ? !actionMatches(s.Action, req.action) : actionMatches(s.NotAction, req.action)) return false;
  if (s.Resource !== undefined && !resourceMatches(s.Resource, req.resource, vars)) return false;
  if (s.NotResource !== undefined && resourceMatches(s.NotResource, req.resource, vars)) return false;
  const conditions = conditionMatches(s.Condition, req.conditionKeys, vars);
  // A condition on an ambiguous key never grants: an Allow does not match, and a Deny applies, so
  // the decision cannot depend on which spelling the request listed first.
  return conditions === AMBIGUOUS ? s.Effect === 'Deny' : conditions;
}

/**
 * Evaluates `policy` (parsed, or a JSON string which is parsed first) for one request.
 * Explicit Deny wins over Allow; no matching Allow is `ImplicitDeny`.
 */
export function evaluatePolicy(policy: Policy | string, req: PolicyRequest): PolicyResult {
  const p = typeof policy === 'string' ? parsePolicy(policy) : policy;
  const vars = req.variables ?? {};
  let allow: string | undefined;
  for (let i = 0; i < p.Statement.length; i++) {
    const s = p.Statement[i]!;
    if (!statementMatches(s, req, vars)) continue;
    const id = s.Sid !== undefined && s.Sid !== '' ? s.Sid : `#${i}`;
    if (s.Effect === 'Deny') return { decision: 'Deny', statement: id };
    allow ??= id;
  }
  return allow !== undefined ? { decision: 'Allow', statement: allow } : { decision: 'ImplicitDeny' };
}

/** Condition keys for an encryption context: `kms:EncryptionContext:<k>` and `kms:EncryptionContextKeys`. */
export function encryptionContextKeys(context: Record<string, string> | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!context) return out;
  const keys = Object.keys(context);
  for (const k of keys) out[`kms:EncryptionContext:${k}`] = context[k]!;
  if (keys.length > 0) out['kms:EncryptionContextKeys'] = keys;
  return out;
}
