/** Evaluation of a parsed key policy for one request: principal, action, resource, conditions; Deny wins. */
import { list, parseOperator, parsePolicy, type Policy, type PolicyRequest, type PolicyResult, type PolicyStatement } from './parse.js';
import { globMatch, AMBIGUOUS, lookupCaseInsensitive, substitute, globMatchLiteral } from './match.js';

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
