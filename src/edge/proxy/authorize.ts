/**
 * Authorization (runtime-agnostic) with the shared policy evaluator (`src/edge/policy`), extended to a
 * resource with several names: a key is known by its ARN, its id, and each alias (name and ARN).
 * Each statement is evaluated against every name: a `Resource` statement applies when it matches
 * any name, a `NotResource` statement only when it excludes none. Then, as in AWS, an applicable
 * Deny wins, else an applicable Allow allows, else the request is denied by default. So no choice
 * of name can dodge a Deny or borrow an Allow.
 */
import { evaluatePolicy, type Decision, type Policy, type PolicyStatement } from '../policy/index.js';

export interface AuthorizeRequest {
  principal: string;
  action: string;
  /** All names of the resource (undefined: none known). */
  resources: string[] | undefined;
  conditionKeys: Record<string, string | string[] | boolean | undefined>;
  variables: Record<string, string | undefined>;
}

export interface AuthorizeResult {
  decision: Decision;
  statement?: string;
}

export class Authorizer {
  readonly #statements: Array<{ s: PolicyStatement; single: Policy; id: string }>;

  constructor(policy: Policy) {
    this.#statements = policy.Statement.map((s, i) => ({
      s,
      single: { Statement: [s] },
      id: s.Sid !== undefined && s.Sid !== '' ? s.Sid : `#${i}`,
    }));
  }

  authorize(req: AuthorizeRequest): AuthorizeResult {
    const names: Array<string | undefined> = req.resources && req.resources.length > 0 ? req.resources : [undefined];
    let allow: string | undefined;
    for (const { s, single, id } of this.#statements) {
      const matches = (resource: string | undefined) => {
        const r = evaluatePolicy(single, {
          principal: req.principal,
          action: req.action,
          ...(resource === undefined ? {} : { resource }),
          conditionKeys: req.conditionKeys,
          variables: req.variables,
        });
        return r.decision !== 'ImplicitDeny';
      };
      const applies = s.NotResource !== undefined ? names.every(matches) : names.some(matches);
      if (!applies) continue;
      if (s.Effect === 'Deny') return { decision: 'Deny', statement: id };
      allow ??= id;
    }
    return allow !== undefined ? { decision: 'Allow', statement: allow } : { decision: 'ImplicitDeny' };
  }
}
