/**
 * Policy analyzer (runtime-agnostic: no Node imports): what IAM Access Analyzer does for key
 * policies, for Sealbox's two policy kinds: the proxy's policy (`kind: 'proxy'`) and a local KMS key
 * policy (`kind: 'kms'`). It reads a policy and returns findings, each with a severity, the
 * statement's Sid (or `#index`), a message and a fix. It uses only the policy module's exported
 * functions (`parsePolicy`, `globMatch`), so it does not depend on how evaluation is built.
 *
 * Findings (ids are stable; docs/OPERATIONS.md lists them with examples):
 *
 * | id | severity | when |
 * | --- | --- | --- |
 * | `policy-invalid` | critical | the policy does not parse: it would be refused as a whole |
 * | `condition-unknown-operator` | high | an operator Sealbox does not know (misspelled, or an AWS one Sealbox does not support) |
 * | `wildcard-principal-decrypt` | critical / high | Allow to `*` (or `jwt/*`) of a decrypt-capable action, with no condition (critical) or no condition that binds the caller (high) |
 * | `not-principal-allow` | high | Allow with NotPrincipal: everyone but a list |
 * | `not-action-allow` | high | Allow with NotAction: every action but a list, present and future |
 * | `kms-star-non-admin` | high | Allow of `kms:*` (or `*`) to a principal that is not an admin |
 * | `condition-never-matches` | medium (Allow) / high (Deny) | a condition reads a key that is never set (or a variable with no value), so the statement never applies |
 * | `condition-always-true` | high (Allow) / medium (Deny) | a condition reads a key that is never set with an operator that then always holds (`…IfExists`, `StringNot…`, `Null: true`, `ForAllValues:`), so it restricts nothing |
 * | `claim-not-set` | as above | a `jwt:<claim>` key or `${jwt:<claim>}` variable names a claim the issuer does not set (`claims` option) |
 * | `context-deny-gap` | medium | a Deny enforces an encryption context, but an Allow grants context-taking actions the Deny does not name |
 * | `decrypt-without-context` | medium | a non-admin Allow of a decrypt-capable action with no encryption-context condition, and no Deny requires one |
 * | `tenant-key-without-context` | high | a tenant's key (`tenant` option) whose policy never conditions on the encryption context |
 * | `shadowed-by-deny` | low | an Allow that an unconditional Deny covers entirely: it never takes effect |
 *
 * Admin principals (`adminPrincipals`, globs): exempt from `kms-star-non-admin` and
 * `decrypt-without-context`. For `kind: 'kms'` an account's root (`arn:aws:iam::<account>:root` or
 * the 12-digit id) is an admin by default, as in AWS's default key policy.
 */
import { globMatch, parsePolicy, PolicyError, type Policy, type PolicyStatement } from './index.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

export interface Finding {
  id: string;
  severity: Severity;
  /** The statement's Sid, `#<index>` when it has none, or `(policy)` for the document as a whole. */
  sid: string;
  message: string;
  fix: string;
}

export interface AnalyzeOptions {
  kind: 'proxy' | 'kms';
  /** Claim names the JWT issuer sets (proxy). Unset: any `jwt:<claim>` is assumed set. */
  claims?: string[];
  /** Principals (globs) trusted with everything, exempt from the kms:* and context checks. */
  adminPrincipals?: string[];
  /** The key is this tenant's (kms): its policy must condition on the encryption context. */
  tenant?: string;
}

/** Actions that can return plaintext key material, directly or by rewrapping it. */
export const DECRYPT_CAPABLE = ['kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair'] as const;

/** Actions that take an encryption context (so a policy can condition on it). */
export const CONTEXT_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
] as const;

/** Condition keys the proxy sets (src/edge/proxy/auth.ts and index.ts), besides `jwt:<claim>` and the context keys. */
export const PROXY_CONDITION_KEYS = [
  'aws:CurrentTime',
  'aws:PrincipalArn',
  'kms:DataKeyPairSpec',
  'kms:EncryptionAlgorithm',
  'kms:RequestAlias',
  'kms:ResourceAliases',
  'sealbox:AccessKeyId',
  'sealbox:AuthType',
] as const;

/** Condition keys the local KMS sets (src/node/kms/core.ts and the operations), besides the context keys. */
export const KMS_CONDITION_KEYS = [
  'aws:PrincipalAccount',
  'aws:PrincipalArn',
  'aws:RequestedRegion',
  'kms:CallerAccount',
  'kms:EncryptionAlgorithm',
  'kms:GrantConstraintType',
  'kms:GranteePrincipal',
  'kms:GrantIsForAWSResource',
  'kms:GrantOperations',
  'kms:MacAlgorithm',
  'kms:MessageType',
  'kms:PrimaryRegion',
  'kms:ReplicaRegion',
  'kms:RetiringPrincipal',
  'kms:SigningAlgorithm',
  'kms:ViaService',
] as const;

const PROXY_VARIABLES = ['aws:PrincipalArn', 'aws:username'];
const KMS_VARIABLES = ['aws:PrincipalAccount', 'aws:PrincipalArn', 'aws:username'];

/** Keys that name the caller: a positive condition on one of them narrows who a statement is for. */
const IDENTITY_KEYS = new Set(['aws:principalarn', 'aws:principalaccount', 'kms:calleraccount', 'kms:viaservice', 'sealbox:accesskeyid']);

const STRING_OPERATORS = ['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike'];
const OPERATORS = [...STRING_OPERATORS, 'Null', 'Bool'];
/** AWS operators Sealbox's evaluator does not implement (a policy using one is refused). */
const AWS_ONLY_OPERATORS = ['NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals', 'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals', 'BinaryEquals', 'IpAddress', 'NotIpAddress', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'];

const RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

/** True when `severity` is `threshold` or worse. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return RANK[severity] <= RANK[threshold];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

function splitOperator(op: string): { base: string; ifExists: boolean; set: 'all' | 'any' | undefined } {
  let rest = op;
  let set: 'all' | 'any' | undefined;
  if (rest.startsWith('ForAllValues:')) (set = 'all'), (rest = rest.slice(13));
  else if (rest.startsWith('ForAnyValue:')) (set = 'any'), (rest = rest.slice(12));
  const ifExists = rest.endsWith('IfExists');
  if (ifExists) rest = rest.slice(0, -8);
  return { base: rest, ifExists, set };
}

function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length]!;
}

/** The closest name in `names` (case-insensitive edit distance at most 3), for "did you mean". */
function closest(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 4;
  for (const n of names) {
    const d = distance(name, n);
    if (d < bestD) (best = n), (bestD = d);
  }
  return best;
}

const sidOf = (s: { Sid?: unknown }, i: number) => (typeof s.Sid === 'string' && s.Sid !== '' ? s.Sid : `#${i}`);

/** Finds operators the evaluator does not know, in the raw document, and drops them so the rest can be analyzed. */
function unknownOperators(doc: unknown, findings: Finding[]): unknown {
  if (!isRecord(doc)) return doc;
  const raw = doc.Statement;
  const statements = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const cleaned = statements.map((s, i) => {
    if (!isRecord(s) || !isRecord(s.Condition)) return s;
    const condition: Record<string, unknown> = {};
    for (const [op, block] of Object.entries(s.Condition)) {
      const { base } = splitOperator(op);
      if (OPERATORS.includes(base)) {
        condition[op] = block;
        continue;
      }
      const awsOnly = AWS_ONLY_OPERATORS.includes(base);
      const guess = awsOnly ? undefined : closest(base, OPERATORS);
      findings.push({
        id: 'condition-unknown-operator',
        severity: 'high',
        sid: sidOf(s, i),
        message: awsOnly
          ? `Condition operator "${op}" is AWS's, but Sealbox's evaluator does not support it: the whole policy is refused when loaded.`
          : `Condition operator "${op}" is not an operator${guess ? ` (did you mean "${op.replace(base, guess)}"?)` : ''}: the whole policy is refused when loaded.`,
        fix: awsOnly
          ? `Express the condition with ${OPERATORS.join(', ')} (each with optional IfExists, ForAllValues:/ForAnyValue:).`
          : guess
            ? `Spell it "${op.replace(base, guess)}".`
            : `Use one of ${OPERATORS.join(', ')}.`,
      });
    }
    const out: Record<string, unknown> = { ...s };
    if (Object.keys(condition).length > 0) out.Condition = condition;
    else delete out.Condition;
    return out;
  });
  return { ...doc, Statement: Array.isArray(raw) || raw === undefined ? cleaned : cleaned[0] };
}

interface Context {
  options: AnalyzeOptions;
  claims: Set<string> | undefined;
  admins: string[];
}

function isAdmin(entry: string, ctx: Context): boolean {
  if (ctx.admins.some((a) => a === entry || globMatch(a, entry))) return true;
  if (ctx.options.kind === 'kms' && (/^\d{12}$/.test(entry) || /^arn:[^:]+:iam::\d{12}:root$/.test(entry))) return true;
  return false;
}

/** `*`, or a pattern for every principal of one authentication type (`jwt/*`). */
const isWildcardEntry = (e: string) => e === '*' || /^[A-Za-z0-9_-]+\/\*$/.test(e);

function principalEntries(s: PolicyStatement): string[] {
  const p = s.Principal;
  if (p === undefined) return [];
  if (p === '*') return ['*'];
  return Object.values(p).flatMap((v) => list(v));
}

/** The actions of `names` that the statement's Action / NotAction grants. */
function grantedOf(s: PolicyStatement, names: readonly string[]): string[] {
  if (s.Action !== undefined) {
    const patterns = list(s.Action);
    return names.filter((n) => patterns.some((p) => p === '*' || globMatch(p, n, true)));
  }
  const not = list(s.NotAction);
  return names.filter((n) => !not.some((p) => p === '*' || globMatch(p, n, true)));
}

/** Whether pattern `outer` matches everything `inner` matches (sound, not complete). */
function covers(outer: string, inner: string, ignoreCase: boolean): boolean {
  if (outer === '*') return true;
  const o = ignoreCase ? outer.toLowerCase() : outer;
  const n = ignoreCase ? inner.toLowerCase() : inner;
  if (!/[*?]/.test(n)) return globMatch(o, n);
  // A prefix pattern (`kms:Generate*`) covers every pattern that starts with its prefix.
  if (o.endsWith('*') && !/[*?]/.test(o.slice(0, -1))) return n.startsWith(o.slice(0, -1));
  return o === n;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const isContextKey = (key: string) => /^kms:encryptioncontext(:|keys$)/i.test(key);

/** Positive operators: the condition holds only when the key is present and matches. */
const isPositive = (op: string) => {
  const { base, ifExists, set } = splitOperator(op);
  return !ifExists && set !== 'all' && !base.startsWith('StringNot') && base !== 'Null';
};

function conditionEntries(s: PolicyStatement): Array<{ op: string; key: string; values: string[] }> {
  const out: Array<{ op: string; key: string; values: string[] }> = [];
  for (const [op, block] of Object.entries(s.Condition ?? {})) {
    for (const [key, value] of Object.entries(block)) out.push({ op, key, values: list(value) });
  }
  return out;
}

/** A condition that narrows the statement to particular callers (not just to what the caller sends). */
function bindsCaller(s: PolicyStatement): boolean {
  return conditionEntries(s).some(({ op, key, values }) => {
    if (!isPositive(op)) return false;
    const k = key.toLowerCase();
    if (IDENTITY_KEYS.has(k) || k.startsWith('jwt:')) return true;
    // The context compared with the caller's own claims or name (`${jwt:tenant}`): bound to the caller.
    return values.some((v) => /\$\{(jwt:[^}]+|aws:username|aws:principalarn|aws:principalaccount)\}/i.test(v));
  });
}

function conditionKeyKnown(key: string, ctx: Context): { known: boolean; claim?: string } {
  const k = key.toLowerCase();
  if (isContextKey(key)) return { known: true };
  if (k.startsWith('jwt:')) {
    if (ctx.options.kind !== 'proxy') return { known: false };
    const claim = key.slice(4);
    if (ctx.claims && !ctx.claims.has(claim.toLowerCase())) return { known: false, claim };
    return { known: true };
  }
  const known = ctx.options.kind === 'proxy' ? PROXY_CONDITION_KEYS : KMS_CONDITION_KEYS;
  return { known: known.some((n) => n.toLowerCase() === k) };
}

/** Variables in `text` that have no value for this kind of policy (and the claim, for jwt:). */
function missingVariables(text: string, ctx: Context): Array<{ name: string; claim?: string }> {
  const out: Array<{ name: string; claim?: string }> = [];
  for (const m of text.matchAll(/\$\{([^}]*)\}/g)) {
    const name = m[1]!;
    if (name === '*' || name === '?' || name === '$') continue;
    const lower = name.toLowerCase();
    if (lower.startsWith('jwt:') && ctx.options.kind === 'proxy') {
      if (ctx.claims && !ctx.claims.has(lower.slice(4))) out.push({ name, claim: name.slice(4) });
      continue;
    }
    const vars = ctx.options.kind === 'proxy' ? PROXY_VARIABLES : KMS_VARIABLES;
    if (!vars.some((v) => v.toLowerCase() === lower)) out.push({ name });
  }
  return out;
}

function pushNeverOrAlways(findings: Finding[], s: PolicyStatement, sid: string, always: boolean, id: string, what: string, fix: string): void {
  const allow = s.Effect === 'Allow';
  if (always) {
    findings.push({
      id: id === 'claim-not-set' ? id : 'condition-always-true',
      severity: allow ? 'high' : 'medium',
      sid,
      message: `${what}, so this condition always holds: ${allow ? 'the Allow is not restricted by it' : 'the Deny applies to every request it names'}.`,
      fix,
    });
  } else {
    findings.push({
      id: id === 'claim-not-set' ? id : 'condition-never-matches',
      severity: allow ? 'medium' : 'high',
      sid,
      message: `${what}, so this condition never holds: ${allow ? 'the statement never grants anything' : 'the Deny never applies'}.`,
      fix,
    });
  }
}

function checkConditions(s: PolicyStatement, sid: string, ctx: Context, findings: Finding[]): void {
  for (const { op, key, values } of conditionEntries(s)) {
    const { base, ifExists, set } = splitOperator(op);
    const known = conditionKeyKnown(key, ctx);
    if (!known.known) {
      // A key never set: absent, so Null:true, …IfExists, StringNot… and ForAllValues: hold; the rest fail.
      const always = base === 'Null' ? values.some((v) => v.toLowerCase() === 'true') : ifExists || set === 'all' || (set === undefined && base.startsWith('StringNot'));
      const names = ctx.options.kind === 'proxy' ? [...PROXY_CONDITION_KEYS] : [...KMS_CONDITION_KEYS];
      const colon = key.lastIndexOf(':');
      const contextGuess = colon > 0 && distance(key.slice(0, colon), 'kms:EncryptionContext') <= 3 ? `kms:EncryptionContext:${key.slice(colon + 1)}` : undefined;
      const guess = known.claim === undefined ? (contextGuess ?? closest(key, names)) : undefined;
      if (known.claim !== undefined) {
        pushNeverOrAlways(findings, s, sid, always, 'claim-not-set', `"${op}" reads "${key}", a claim the JWT issuer does not set (claims: ${[...ctx.claims!].join(', ')})`, `Use a claim the issuer sets, or add "${known.claim}" to the issuer's tokens (and to --claims).`);
      } else {
        const why = key.toLowerCase().startsWith('jwt:') ? `"${op}" reads "${key}", but the local KMS sets no jwt: keys (only the proxy does)` : `"${op}" reads "${key}", which the ${ctx.options.kind === 'proxy' ? 'proxy' : 'local KMS'} never sets${guess ? ` (did you mean "${guess}"?)` : ''}`;
        pushNeverOrAlways(findings, s, sid, always, 'condition-unknown-key', why, guess ? `Spell the key "${guess}".` : `Use a key the ${ctx.options.kind === 'proxy' ? 'proxy' : 'KMS'} sets: kms:EncryptionContext:<name>, ${(ctx.options.kind === 'proxy' ? ['jwt:<claim>', ...PROXY_CONDITION_KEYS] : [...KMS_CONDITION_KEYS]).join(', ')}.`);
      }
      continue;
    }
    if (base === 'Null') continue;
    // Variables with no value: every value that uses one is dropped; none left → positive fails, negated holds.
    const missing = values.map((v) => ({ v, miss: missingVariables(v, ctx) }));
    if (missing.every((m) => m.miss.length > 0)) {
      const first = missing[0]!.miss[0]!;
      const negated = base.startsWith('StringNot');
      const what = first.claim !== undefined
        ? `"${op}" compares "${key}" with \${${first.name}}, a claim the JWT issuer does not set (claims: ${[...ctx.claims!].join(', ')})`
        : `"${op}" compares "${key}" with \${${first.name}}, a variable the ${ctx.options.kind === 'proxy' ? 'proxy' : 'local KMS'} never sets`;
      pushNeverOrAlways(findings, s, sid, negated, first.claim !== undefined ? 'claim-not-set' : 'condition-never-matches', what, first.claim !== undefined ? `Use a claim the issuer sets, or add "${first.claim}" to its tokens (and to --claims).` : `Use a variable that is set: ${(ctx.options.kind === 'proxy' ? ['jwt:<claim>', ...PROXY_VARIABLES] : KMS_VARIABLES).map((v) => `\${${v}}`).join(', ')}.`);
    }
  }
  // Variables in Principal and Resource: an entry with a missing one matches nothing.
  for (const [element, entries] of [['Principal', principalEntries(s)], ['Resource', list(s.Resource)]] as const) {
    for (const e of entries) {
      const miss = missingVariables(e, ctx)[0];
      if (!miss) continue;
      findings.push({
        id: miss.claim !== undefined ? 'claim-not-set' : 'condition-never-matches',
        severity: s.Effect === 'Allow' ? 'medium' : 'high',
        sid,
        message: `${element} "${e}" uses \${${miss.name}}, which ${miss.claim !== undefined ? 'the JWT issuer does not set' : 'is never set'}: that entry matches nothing${s.Effect === 'Deny' ? ', so the Deny does not apply through it' : ''}.`,
        fix: miss.claim !== undefined ? `Use a claim the issuer sets, or add "${miss.claim}" to its tokens.` : 'Use a variable that is set, or a literal value.',
      });
    }
  }
}

/**
 * Analyzes a proxy policy or a key policy (object or JSON text). Never throws on a bad policy: a
 * policy that does not parse is a `policy-invalid` finding. Findings are sorted by severity, then
 * statement order, then id and message, so the output is the same for the same input.
 */
export function analyzePolicy(input: Policy | string | unknown, options: AnalyzeOptions): Finding[] {
  const findings: Finding[] = [];
  const order: string[] = [];
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch {
      return [{ id: 'policy-invalid', severity: 'critical', sid: '(policy)', message: 'The policy is not valid JSON.', fix: 'Fix the JSON syntax.' }];
    }
  }
  let policy: Policy;
  try {
    policy = parsePolicy(unknownOperators(doc, findings));
  } catch (e) {
    const message = e instanceof PolicyError ? e.message : String(e);
    findings.push({ id: 'policy-invalid', severity: 'critical', sid: '(policy)', message: `The policy is refused: ${message}.`, fix: 'Fix the document; `sealbox policy check` then analyzes its statements.' });
    return sortFindings(findings, order);
  }
  const ctx: Context = {
    options,
    claims: options.claims ? new Set(options.claims.map((c) => c.toLowerCase())) : undefined,
    admins: options.adminPrincipals ?? [],
  };
  const statements = policy.Statement;
  const indexOf = new Map<PolicyStatement, number>(statements.map((s, i) => [s, i]));
  for (const s of statements) order.push(sidOf(s, indexOf.get(s)!));

  const contextDenies = statements.filter(
    (d) => d.Effect === 'Deny' && (d.Principal === '*' || principalEntries(d).includes('*')) && conditionEntries(d).some((c) => isContextKey(c.key)),
  );
  const deniedWithContext = new Set(contextDenies.flatMap((d) => grantedOf(d, CONTEXT_ACTIONS)));
  let anyContextCondition = false;

  statements.forEach((s, i) => {
    const sid = sidOf(s, i);
    checkConditions(s, sid, ctx, findings);
    const hasContextCondition = conditionEntries(s).some((c) => isContextKey(c.key));
    if (hasContextCondition) anyContextCondition = true;
    if (s.Effect !== 'Allow') return;

    if (s.NotPrincipal !== undefined) {
      findings.push({
        id: 'not-principal-allow',
        severity: 'high',
        sid,
        message: 'Allow with NotPrincipal grants to every principal except the ones listed, including any added later.',
        fix: 'List the principals the statement is for in Principal instead.',
      });
    }
    if (s.NotAction !== undefined) {
      findings.push({
        id: 'not-action-allow',
        severity: 'high',
        sid,
        message: `Allow with NotAction grants every action except ${list(s.NotAction).join(', ')}, including ${grantedOf(s, DECRYPT_CAPABLE).join(', ') || 'actions added later'}.`,
        fix: 'List the actions the statement grants in Action instead.',
      });
    }
    const entries = principalEntries(s);
    const wildcard = s.NotPrincipal !== undefined || entries.some(isWildcardEntry);
    const decrypt = grantedOf(s, DECRYPT_CAPABLE);
    if (wildcard && decrypt.length > 0 && !bindsCaller(s)) {
      const none = s.Condition === undefined;
      findings.push({
        id: 'wildcard-principal-decrypt',
        severity: none ? 'critical' : 'high',
        sid,
        message: none
          ? `Any ${options.kind === 'proxy' ? 'authenticated caller' : 'principal'} may ${decrypt.join(', ')} (Principal "*", no condition).`
          : `Any ${options.kind === 'proxy' ? 'authenticated caller' : 'principal'} may ${decrypt.join(', ')}: the conditions test only what the caller sends, not who the caller is.`,
        fix:
          options.kind === 'proxy'
            ? 'Name the principals, or add a condition on the caller: a claim ("jwt:role": "reader") or the context bound to a claim ("kms:EncryptionContext:tenant": "${jwt:tenant}").'
            : 'Name the principals (an account root or role ARNs), or add a condition on the caller (kms:CallerAccount, aws:PrincipalArn, kms:ViaService).',
      });
    }
    const star = s.Action !== undefined && list(s.Action).some((a) => a === '*' || a.toLowerCase() === 'kms:*');
    const nonAdmin = s.NotPrincipal !== undefined ? ['(everyone but NotPrincipal)'] : entries.filter((e) => !isAdmin(e, ctx));
    if (star && nonAdmin.length > 0) {
      findings.push({
        id: 'kms-star-non-admin',
        severity: 'high',
        sid,
        message: `kms:* (every action, including Decrypt, PutKeyPolicy and ScheduleKeyDeletion) is granted to ${nonAdmin.join(', ')}, not an admin.`,
        fix: 'Grant the actions the principal needs (e.g. kms:Decrypt, kms:GenerateDataKey); keep kms:* for admins (--admin).',
      });
    }
    if (!hasContextCondition) {
      const uncovered = grantedOf(s, CONTEXT_ACTIONS).filter((a) => !deniedWithContext.has(a));
      if (contextDenies.length > 0 && uncovered.length > 0) {
        findings.push({
          id: 'context-deny-gap',
          severity: 'medium',
          sid,
          message: `${contextDenies.map((d) => sidOf(d, indexOf.get(d)!)).join(', ')} requires an encryption context, but not for ${uncovered.join(', ')}, which this statement allows without one.`,
          fix: `Add ${uncovered.join(', ')} to the Deny's actions (wildcards such as kms:GenerateDataKey* and kms:ReEncrypt* cover the families).`,
        });
      } else if (contextDenies.length === 0) {
        const dec = decrypt.filter((a) => !deniedWithContext.has(a));
        if (dec.length > 0 && nonAdmin.length > 0 && !findings.some((f) => f.sid === sid && f.id === 'wildcard-principal-decrypt')) {
          findings.push({
            id: 'decrypt-without-context',
            severity: 'medium',
            sid,
            message: `${nonAdmin.join(', ')} may ${dec.join(', ')} with any encryption context (no kms:EncryptionContext condition, no Deny that requires one).`,
            fix: 'Add a condition such as "StringEquals": {"kms:EncryptionContext:tenant": "${jwt:tenant}"}, or a Deny for a context that is not the expected one.',
          });
        }
      }
    }
    // Shadowed: an unconditional Deny whose principals, actions and resources cover this Allow's.
    const shadow = statements.find((d) => {
      if (d.Effect !== 'Deny' || d === s) return false;
      if (d.Condition !== undefined && canonical(d.Condition) !== canonical(s.Condition)) return false;
      if (d.NotPrincipal !== undefined || d.NotAction !== undefined || d.NotResource !== undefined || s.NotPrincipal !== undefined || s.NotAction !== undefined || s.NotResource !== undefined) return false;
      const dp = principalEntries(d);
      if (!dp.includes('*') && !entries.every((e) => dp.some((x) => covers(x, e, false)))) return false;
      if (!list(s.Action).every((a) => list(d.Action).some((x) => covers(x, a, true)))) return false;
      const dr = d.Resource === undefined ? ['*'] : list(d.Resource);
      const sr = s.Resource === undefined ? ['*'] : list(s.Resource);
      return sr.every((r) => dr.some((x) => covers(x, r, false)));
    });
    if (shadow) {
      findings.push({
        id: 'shadowed-by-deny',
        severity: 'low',
        sid,
        message: `${sidOf(shadow, indexOf.get(shadow)!)} denies everything this statement allows: it never takes effect.`,
        fix: 'Remove the statement, or narrow the Deny (a condition, fewer actions or resources) if the Allow is meant to apply.',
      });
    }
  });
  if (options.kind === 'kms' && options.tenant !== undefined && !anyContextCondition) {
    findings.push({
      id: 'tenant-key-without-context',
      severity: 'high',
      sid: '(policy)',
      message: `This key is tenant "${options.tenant}"'s, but its policy never looks at the encryption context: any caller it allows may use the key for another tenant's data.`,
      fix: `Add a Deny for every principal of kms:Encrypt, kms:Decrypt, kms:GenerateDataKey*, kms:ReEncrypt* with "StringNotEquals": {"kms:EncryptionContext:tenant": "${options.tenant}"}.`,
    });
  }
  return sortFindings(findings, order);
}

function sortFindings(findings: Finding[], order: string[]): Finding[] {
  const pos = (sid: string) => (sid === '(policy)' ? -1 : order.indexOf(sid));
  const seen = new Set<string>();
  return findings
    .filter((f) => {
      const k = `${f.id}\u0000${f.sid}\u0000${f.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => RANK[a.severity] - RANK[b.severity] || pos(a.sid) - pos(b.sid) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
}

/** One line per finding: `critical wildcard-principal-decrypt [Sid] message — fix: …`. */
export function formatFinding(f: Finding): string {
  return `${f.severity.padEnd(8)} ${f.id} [${f.sid}] ${f.message}\n         fix: ${f.fix}`;
}
