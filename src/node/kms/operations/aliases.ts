/** Local KMS operations. Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. */
import { AwsError } from '../../../edge/aws/errors.js';
import { notFound, validation } from '../errors.js';
import { Input, constraint } from '../input.js';
import { type AliasRecord } from '../store.js';
import { type Ctx, type KmsCore } from '../core.js';

const ALIAS_RE = /^alias\/[a-zA-Z0-9/_-]+$/;

function aliasName(core: KmsCore, input: Input): string {
  const name = input.str('AliasName', { required: true, min: 1, max: 256 });
  if (!ALIAS_RE.test(name)) throw constraint('AliasName', 'Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$', name);
  if (name.startsWith('alias/aws/')) throw new AwsError('NotAuthorizedException', 'Alias names beginning with alias/aws/ are reserved for AWS managed keys.');
  return name;
}

export async function createAlias(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const name = aliasName(core, input);
  const key = await core.resolve(ctx, input.str('TargetKeyId', { required: true }), { allowAlias: false, field: 'TargetKeyId' });
  if (key.account !== ctx.caller.account) throw notFound(`Key '${core.arn(key)}' in the caller's account`);
  core.authorize(ctx, key, 'kms:CreateAlias');
  core.requireNotPendingDeletion(key);
  ctx.audit.params = { aliasName: name };
  await core.store.exclusive(async () => {
    const map = new Map(core.store.aliases(ctx.region, ctx.caller.account));
    if (map.has(name)) throw new AwsError('AlreadyExistsException', `An alias with the name arn:aws:kms:${ctx.region}:${ctx.caller.account}:${name} already exists`);
    map.set(name, { target: key.keyId, createdAt: ctx.now, updatedAt: ctx.now });
    await core.store.putAliases(ctx.region, ctx.caller.account, map);
  });
  return {};
}

export async function updateAlias(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const name = aliasName(core, input);
  const key = await core.resolve(ctx, input.str('TargetKeyId', { required: true }), { allowAlias: false, field: 'TargetKeyId' });
  if (key.account !== ctx.caller.account) throw notFound(`Key '${core.arn(key)}' in the caller's account`);
  core.authorize(ctx, key, 'kms:UpdateAlias');
  core.requireNotPendingDeletion(key);
  ctx.audit.params = { aliasName: name };
  await core.store.exclusive(async () => {
    const map = new Map(core.store.aliases(ctx.region, ctx.caller.account));
    const existing = map.get(name);
    if (!existing) throw notFound(`Alias arn:aws:kms:${ctx.region}:${ctx.caller.account}:${name}`);
    const old = core.store.getKey(ctx.region, ctx.caller.account, existing.target);
    if (old && (old.keySpec !== key.keySpec || old.keyUsage !== key.keyUsage)) {
      throw validation('The new target key must have the same key spec and key usage as the current one.');
    }
    map.set(name, { ...existing, target: key.keyId, updatedAt: ctx.now });
    await core.store.putAliases(ctx.region, ctx.caller.account, map);
  });
  return {};
}

export async function deleteAlias(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const name = aliasName(core, input);
  ctx.audit.params = { aliasName: name };
  await core.store.exclusive(async () => {
    const map = new Map(core.store.aliases(ctx.region, ctx.caller.account));
    const existing = map.get(name);
    if (!existing) throw notFound(`Alias arn:aws:kms:${ctx.region}:${ctx.caller.account}:${name}`);
    const key = core.store.getKey(ctx.region, ctx.caller.account, existing.target);
    if (key) {
      ctx.audit.keyId = core.arn(key);
      core.authorize(ctx, key, 'kms:DeleteAlias');
    }
    map.delete(name);
    await core.store.putAliases(ctx.region, ctx.caller.account, map);
  });
  return {};
}

export async function listAliases(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const limit = input.int('Limit', { min: 1, max: 100 }) ?? 50;
  const marker = input.str('Marker', { min: 1, max: 1024 });
  const keyIdInput = input.str('KeyId', { min: 1, max: 2048 });
  let filter: string | undefined;
  if (keyIdInput !== undefined) {
    const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
    filter = key.keyId;
  }
  const all: Array<[string, AliasRecord]> = [...core.store.aliases(ctx.region, ctx.caller.account)]
    .filter(([, a]) => (filter === undefined || a.target === filter) && core.store.getKey(ctx.region, ctx.caller.account, a.target) !== undefined)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const start = marker === undefined ? 0 : all.findIndex(([n]) => n > marker);
  const page = start < 0 ? [] : all.slice(start, start + limit);
  const truncated = start >= 0 && start + limit < all.length;
  const out: Record<string, unknown> = {
    Aliases: page.map(([name, a]) => ({
      AliasName: name,
      AliasArn: `arn:aws:kms:${ctx.region}:${ctx.caller.account}:${name}`,
      TargetKeyId: a.target,
      CreationDate: a.createdAt / 1000,
      LastUpdatedDate: a.updatedAt / 1000,
    })),
    Truncated: truncated,
  };
  if (truncated) out.NextMarker = page[page.length - 1]![0];
  return out;
}

