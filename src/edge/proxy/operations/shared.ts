/**
 * What the proxy's operations share: the per-request state (which becomes the audit record), the
 * input readers, and the steps every operation takes: resolve the key, check the policy, forward
 * to the KMS, check that the key that answered is the one that was checked.
 */
import { encryptionContextKeys } from '../../policy/index.js';
import { AwsError } from '../../aws/errors.js';
import type { Caller } from '../auth.js';
import type { Authorizer } from '../authorize.js';
import { accessDenied, serialization, validation } from '../errors.js';
import { resourceNames, type KeyResolver, type ResolvedKey } from '../keys.js';
import { upstreamError, type Upstream } from '../upstream.js';

/** Operations the proxy forwards. Everything else is refused. */
export const PROXY_OPERATIONS = [
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'Encrypt',
  'Decrypt',
  'ReEncrypt',
  'GetPublicKey',
  'DescribeKey',
] as const;
export type Op = (typeof PROXY_OPERATIONS)[number];

/** Other KMS operations: refused with UnsupportedOperationException (unknown names: UnknownOperationException). */
export const OTHER_KMS_OPERATIONS = new Set(
  (
    'CancelKeyDeletion ConnectCustomKeyStore CreateAlias CreateCustomKeyStore CreateGrant CreateKey DeleteAlias ' +
    'DeleteCustomKeyStore DeleteImportedKeyMaterial DeriveSharedSecret DescribeCustomKeyStores DisableKey DisableKeyRotation ' +
    'DisconnectCustomKeyStore EnableKey EnableKeyRotation GenerateDataKeyPair GenerateDataKeyPairWithoutPlaintext GenerateMac ' +
    'GenerateRandom GetKeyPolicy GetKeyRotationStatus GetParametersForImport ImportKeyMaterial ListAliases ListGrants ' +
    'ListKeyPolicies ListKeyRotations ListKeys ListResourceTags ListRetirableGrants PutKeyPolicy ReplicateKey RetireGrant ' +
    'RevokeGrant RotateKeyOnDemand ScheduleKeyDeletion Sign TagResource UntagResource UpdateAlias UpdateCustomKeyStore ' +
    'UpdateKeyDescription UpdatePrimaryRegion Verify VerifyMac'
  ).split(' '),
);

/** Per-request state, filled in as the request proceeds; becomes the audit record. */
export interface Ctx {
  requestId: string;
  start: number;
  op: string;
  origin: string | undefined;
  caller?: Caller;
  keyId?: string;
  requestedKeyId?: string;
  context?: Record<string, string>;
  statement?: string;
  upstreamRequestId?: string;
  /** The shared state store failed and the call went on without it (rateLimit.onStoreError 'allow'). */
  stateError?: string;
}

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function optionalString(input: Json, name: string, required = false): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required) throw validation(`1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048) throw validation(`${name} must be a string of 1 to 2048 characters.`);
  return v;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export function contextOf(input: Json, name: string): Record<string, string> | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw serialization(`${name} must be a map of strings.`);
  const entries = Object.entries(v);
  for (const [k, val] of entries) {
    if (typeof val !== 'string' || k.length === 0) throw serialization(`${name} must map non-empty keys to strings.`);
  }
  // fromEntries defines own properties, so a key named "__proto__" is kept (and seen by the policy).
  return Object.fromEntries(entries) as Record<string, string>;
}

export function aliasOf(keyId: string): string | undefined {
  if (keyId.startsWith('alias/')) return keyId;
  const m = /^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:(alias\/.+)$/.exec(keyId);
  return m ? m[1] : undefined;
}

export class ProxyOperations {
  constructor(
    readonly upstream: Upstream,
    readonly keys: KeyResolver,
    readonly authorizer: Authorizer,
    readonly now: () => number,
  ) {}

  /** Policy check for one action on one key (or on the literal name when it does not resolve). */
  check(
    ctx: Ctx,
    action: string,
    key: ResolvedKey | undefined,
    literal: string | undefined,
    context: Record<string, string> | undefined,
    extra: Record<string, string | string[] | boolean | undefined> = {},
  ): void {
    const caller = ctx.caller!;
    const requestAlias = literal === undefined ? undefined : aliasOf(literal);
    const result = this.authorizer.authorize({
      principal: caller.principal,
      action,
      resources: key ? resourceNames(key) : literal === undefined ? undefined : [literal],
      conditionKeys: {
        ...caller.conditionKeys,
        ...encryptionContextKeys(context),
        'aws:CurrentTime': new Date(this.now()).toISOString(),
        ...(requestAlias ? { 'kms:RequestAlias': requestAlias } : {}),
        ...(key && key.aliases.length > 0 ? { 'kms:ResourceAliases': key.aliases } : {}),
        ...extra,
      },
      variables: caller.variables,
    });
    const resource = key?.arn ?? literal ?? '*';
    if (result.decision !== 'Allow') {
      if (result.statement !== undefined) ctx.statement = result.statement;
      throw accessDenied(
        `User: ${caller.principal} is not authorized to perform: ${action} on resource: ${resource} ` +
          (result.decision === 'Deny' ? 'with an explicit deny in the proxy policy' : 'because no proxy policy statement allows it'),
        result.decision === 'Deny' ? `policy: explicit deny (${result.statement}) for ${action}` : `policy: no statement allows ${action}`,
      );
    }
    ctx.statement = result.statement!;
  }

  /** Resolves a KeyId for authorization; undefined key when it does not exist upstream. */
  async resolveKey(ctx: Ctx, keyId: string): Promise<ResolvedKey | undefined> {
    const key = await this.keys.resolve(keyId);
    if (ctx.requestedKeyId === undefined) {
      ctx.requestedKeyId = keyId;
      ctx.keyId = key?.arn ?? keyId;
    }
    return key;
  }

  async forward(ctx: Ctx, op: string, input: Json): Promise<Json> {
    const result = await this.upstream.call(op, input);
    if (result.requestId !== undefined) ctx.upstreamRequestId = result.requestId;
    if (result.status !== 200) throw upstreamError(op, result);
    return result.body;
  }

  sameKey(ctx: Ctx, expected: ResolvedKey, got: unknown): void {
    if (got !== undefined && got !== expected.arn && got !== expected.keyId) {
      throw new AwsError('KMSInternalException', 'The KMS answered for a different key.', 500, { reason: `upstream answered with key ${String(got)}, expected ${expected.arn}` });
    }
  }
}

/** The members to forward: all of the (shape-checked) input but the proxy's own extension. */
export function forwardedFields(input: Json): Json {
  const out: Json = { ...input };
  delete out.SealboxEnvelope;
  return out;
}
