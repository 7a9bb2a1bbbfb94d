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
export { PolicyError, POLICY_VERSION, defaultKeyPolicy, parsePolicy } from './parse.js';
export type { Decision, PolicyStatement, Policy, PolicyRequest, PolicyResult } from './parse.js';
export { globMatch } from './match.js';
export { evaluatePolicy, encryptionContextKeys } from './evaluate.js';
