/** Local KMS operations. Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant. */
import { AwsError } from '../../../edge/aws/errors.js';
import { notFound, validation } from '../errors.js';
import { Input, constraint } from '../input.js';
import { GRANT_ID_RE, GRANT_OPERATIONS, GrantStore, NO_CONTEXT_OPERATIONS, newGrantId, principalNames, type GrantConstraints, type GrantRecord } from '../grants.js';
import { type KeyRecord } from '../store.js';
import { type Ctx, type KmsCore } from '../core.js';

/** Grant operations that make sense for a key's spec and usage (AWS rejects the others). */
function grantOperationsFor(key: KeyRecord): Set<string> {
  const ops = ['CreateGrant', 'RetireGrant', 'DescribeKey'];
  if (key.keySpec === 'SYMMETRIC_DEFAULT') {
    ops.push('Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext');
  } else if (key.keyUsage === 'ENCRYPT_DECRYPT') {
    ops.push('Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey');
  } else if (key.keyUsage === 'SIGN_VERIFY') {
    ops.push('Sign', 'Verify', 'GetPublicKey');
  } else if (key.keyUsage === 'GENERATE_VERIFY_MAC') {
    ops.push('GenerateMac', 'VerifyMac');
  } else if (key.keyUsage === 'KEY_AGREEMENT') {
    ops.push('DeriveSharedSecret', 'GetPublicKey');
  }
  return new Set(ops);
}

function principalInput(core: KmsCore, input: Input, name: string, required: boolean): string | undefined {
  const v = required ? input.str(name, { required: true, min: 1, max: 256 }) : input.str(name, { min: 1, max: 256 });
  if (v !== undefined && !/^[\w+=,.@:/-]+$/.test(v)) throw constraint(name, 'Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$', v);
  return v;
}

function readConstraints(core: KmsCore, input: Input): GrantConstraints | undefined {
  const raw = input.body.Constraints;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new AwsError('SerializationException', "Wrong type for 'Constraints' (expected structure)");
  const inner = new Input(raw as Record<string, unknown>);
  const out: GrantConstraints = {};
  const subset = inner.map('EncryptionContextSubset');
  const equals = inner.map('EncryptionContextEquals');
  if (subset) out.EncryptionContextSubset = subset;
  if (equals) out.EncryptionContextEquals = equals;
  return subset || equals ? out : undefined;
}

function grantJson(core: KmsCore, g: GrantRecord, key: KeyRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    KeyId: core.arn(key),
    GrantId: g.grantId,
    CreationDate: g.createdAt / 1000,
    GranteePrincipal: g.granteePrincipal,
    IssuingAccount: g.issuingAccount,
    Operations: g.operations,
  };
  if (g.name !== undefined) out.Name = g.name;
  if (g.retiringPrincipal !== undefined) out.RetiringPrincipal = g.retiringPrincipal;
  if (g.constraints) out.Constraints = g.constraints;
  return out;
}

export async function createGrant(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const grantee = principalInput(core, input, 'GranteePrincipal', true)!;
  const retiring = principalInput(core, input, 'RetiringPrincipal', false);
  const listed = input.list('Operations', (x) => x as string);
  if (listed && !listed.every((x) => typeof x === 'string' && (GRANT_OPERATIONS as readonly string[]).includes(x))) {
    throw constraint('Operations', `Member must satisfy constraint: [Member must satisfy enum value set: [${GRANT_OPERATIONS.join(', ')}]]`, `[${listed.join(', ')}]`);
  }
  if (!listed) throw constraint('Operations', 'Member must not be null', null);
  if (listed.length === 0) throw constraint('Operations', 'Member must have length greater than or equal to 1');
  const operations = [...new Set(listed)];
  const name = input.str('Name', { min: 1, max: 256 });
  if (name !== undefined && !/^[a-zA-Z0-9:/_-]+$/.test(name)) throw constraint('Name', 'Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$', name);
  const constraints = readConstraints(core, input);
  if (constraints) {
    const bad = operations.filter((o) => NO_CONTEXT_OPERATIONS.has(o));
    if (bad.length > 0) throw validation(`Grant constraints are not supported with operations that take no encryption context (${bad.join(', ')}).`);
  }
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  const allowed = grantOperationsFor(key);
  const invalid = operations.filter((o) => !allowed.has(o));
  if (invalid.length > 0) throw validation(`${invalid.join(', ')} ${invalid.length === 1 ? 'is' : 'are'} not valid for ${core.arn(key)} (${key.keySpec}, ${key.keyUsage}).`);
  const conditionKeys: Record<string, string | string[] | boolean | undefined> = {
    'kms:GranteePrincipal': grantee,
    'kms:RetiringPrincipal': retiring,
    'kms:GrantOperations': operations,
    'kms:GrantIsForAWSResource': false,
  };
  if (constraints) conditionKeys['kms:GrantConstraintType'] = Object.keys(constraints);
  core.authorize(ctx, key, 'kms:CreateGrant', conditionKeys, undefined, { operations, constraints });
  core.requireNotPendingDeletion(key);
  core.dryRun(input);
  const grant = await core.store.exclusive(async () => {
    if (!core.store.getKey(key.region, key.account, key.keyId)) throw notFound(`Key '${core.arn(key)}'`);
    if (name !== undefined) {
      // AWS: the same grant again (same name and parameters) returns the existing grant.
      const same = core.grants
        .forKey(key.region, key.account, key.keyId)
        .find(
          (g) =>
            g.name === name &&
            g.granteePrincipal === grantee &&
            g.retiringPrincipal === retiring &&
            JSON.stringify([...g.operations].sort()) === JSON.stringify([...operations].sort()) &&
            JSON.stringify(g.constraints ?? null) === JSON.stringify(constraints ?? null),
        );
      if (same) return same;
    }
    if (core.grants.forKey(key.region, key.account, key.keyId).length >= 50_000) {
      throw new AwsError('LimitExceededException', `${core.arn(key)} has reached the limit of 50,000 grants.`);
    }
    const g: GrantRecord = {
      grantId: newGrantId(),
      keyId: key.keyId,
      region: key.region,
      account: key.account,
      granteePrincipal: grantee,
      issuingAccount: `arn:aws:iam::${ctx.caller.account}:root`,
      operations,
      createdAt: ctx.now,
    };
    if (name !== undefined) g.name = name;
    if (retiring !== undefined) g.retiringPrincipal = retiring;
    if (constraints) g.constraints = constraints;
    await core.grants.add(g);
    return g;
  });
  ctx.audit.params = { grantId: grant.grantId, granteePrincipal: grantee, operations };
  return { GrantId: grant.grantId, GrantToken: core.grants.token(core.store, grant) };
}

function paginate<T>(core: KmsCore, input: Input, all: T[], maxLimit: number, defaultLimit: number): { page: T[]; truncated: boolean; next?: string } {
  const limit = input.int('Limit', { min: 1, max: maxLimit }) ?? defaultLimit;
  const marker = input.str('Marker', { min: 1, max: 1024 });
  const start = marker === undefined ? 0 : Number(marker);
  if (!Number.isInteger(start) || start < 0 || start > all.length) throw new AwsError('InvalidMarkerException', 'The Marker is not valid.');
  const page = all.slice(start, start + limit);
  const truncated = start + limit < all.length;
  return truncated ? { page, truncated, next: String(start + limit) } : { page, truncated };
}

export async function listGrants(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const grantId = input.str('GrantId', { min: 1, max: 128 });
  const grantee = principalInput(core, input, 'GranteePrincipal', false);
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:ListGrants');
  if (grantId !== undefined && !GRANT_ID_RE.test(grantId)) throw new AwsError('InvalidGrantIdException', `Grant id ${grantId} is not valid.`);
  const all = core.grants
    .forKey(key.region, key.account, key.keyId)
    .filter((g) => (grantId === undefined || g.grantId === grantId) && (grantee === undefined || g.granteePrincipal === grantee));
  const { page, truncated, next } = paginate(core, input, all, 100, 50);
  const out: Record<string, unknown> = { Grants: page.map((g) => grantJson(core, g, key)), Truncated: truncated };
  if (next !== undefined) out.NextMarker = next;
  return out;
}

export async function listRetirableGrants(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const retiring = principalInput(core, input, 'RetiringPrincipal', true)!;
  // AWS authorizes this with IAM policy only; the local KMS (no IAM) lets a caller list the
  // retirable grants of principals in its own account.
  const acct = GrantStore.principalAccount(retiring) ?? (/^\d{12}$/.test(retiring) ? retiring : undefined);
  if (acct !== ctx.caller.account) {
    throw new AwsError('AccessDeniedException', `User: ${ctx.caller.principal} is not authorized to perform: kms:ListRetirableGrants for ${retiring}`);
  }
  const all = core.grants.inRegion(ctx.region).filter((g) => g.retiringPrincipal === retiring);
  const live = all.filter((g) => core.store.getKey(g.region, g.account, g.keyId) !== undefined);
  const { page, truncated, next } = paginate(core, input, live, 100, 50);
  const out: Record<string, unknown> = {
    Grants: page.map((g) => grantJson(core, g, core.store.getKey(g.region, g.account, g.keyId)!)),
    Truncated: truncated,
  };
  if (next !== undefined) out.NextMarker = next;
  return out;
}

export async function retireGrant(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const token = input.str('GrantToken', { min: 1, max: 8192 });
  const keyIdInput = input.str('KeyId', { min: 1, max: 2048 });
  const grantIdInput = input.str('GrantId', { min: 1, max: 128 });
  let grant: GrantRecord | undefined;
  if (token !== undefined) {
    const body = GrantStore.openToken(core.store, token);
    if (!body || body.region !== ctx.region) throw new AwsError('InvalidGrantTokenException', 'The grant token is not valid.');
    grant = core.grants.find(body.region, body.account, body.grantId);
    if (!grant) throw notFound(`Grant ${body.grantId}`);
    if (grantIdInput !== undefined && grantIdInput !== grant.grantId) throw new AwsError('InvalidGrantIdException', 'The GrantId does not match the grant token.');
  } else {
    if (keyIdInput === undefined || grantIdInput === undefined) throw validation('Either GrantToken, or KeyId and GrantId, are required.');
    const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
    if (!GRANT_ID_RE.test(grantIdInput)) throw new AwsError('InvalidGrantIdException', `Grant id ${grantIdInput} is not valid.`);
    grant = core.grants.find(key.region, key.account, grantIdInput);
    if (!grant || grant.keyId !== key.keyId) throw new AwsError('InvalidGrantIdException', `Grant id ${grantIdInput} is not valid for ${core.arn(key)}.`);
  }
  const key = core.store.getKey(grant.region, grant.account, grant.keyId);
  if (!key) throw notFound(`Key 'arn:aws:kms:${grant.region}:${grant.account}:key/${grant.keyId}'`);
  ctx.audit.keyId = core.arn(key);
  ctx.audit.params = { grantId: grant.grantId };
  // Who may retire: the retiring principal, the account that owns the key (where the grant lives),
  // or the grantee when the grant includes RetireGrant.
  const may =
    (grant.retiringPrincipal !== undefined && principalNames(grant.retiringPrincipal, ctx.caller)) ||
    ctx.caller.account === grant.account ||
    (grant.operations.includes('RetireGrant') && principalNames(grant.granteePrincipal, ctx.caller));
  if (!may) {
    throw new AwsError('AccessDeniedException', `User: ${ctx.caller.principal} is not authorized to perform: kms:RetireGrant on grant ${grant.grantId} of ${core.arn(key)}`);
  }
  core.dryRun(input);
  const g = grant;
  await core.store.exclusive(() => core.grants.remove(g.region, g.account, g.grantId));
  return {};
}

export async function revokeGrant(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const grantId = input.str('GrantId', { required: true, min: 1, max: 128 });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:RevokeGrant');
  ctx.audit.params = { grantId };
  const grant = GRANT_ID_RE.test(grantId) ? core.grants.find(key.region, key.account, grantId) : undefined;
  if (!grant || grant.keyId !== key.keyId) throw new AwsError('InvalidGrantIdException', `Grant id ${grantId} is not valid for ${core.arn(key)}.`);
  core.dryRun(input);
  await core.store.exclusive(() => core.grants.remove(key.region, key.account, grantId));
  return {};
}

