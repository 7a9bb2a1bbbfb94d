/** Local KMS operations. Key policies and tags: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, TagResource, UntagResource, ListResourceTags. */
import { type Policy } from '../../../edge/policy/index.js';
import { AwsError } from '../../../edge/aws/errors.js';
import { notFound } from '../errors.js';
import { Input, constraint } from '../input.js';
import { type Ctx, dedupeTags, type KmsCore } from '../core.js';

function policyName(core: KmsCore, input: Input): string {
  const name = input.str('PolicyName', { min: 1, max: 128 }) ?? 'default';
  if (name !== 'default') throw notFound(`Policy ${name}`);
  return name;
}

export async function getKeyPolicy(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const name = policyName(core, input);
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:GetKeyPolicy');
  return { Policy: key.policy, PolicyName: name };
}

export async function putKeyPolicy(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  policyName(core, input);
  const text = input.str('Policy', { required: true, min: 1, max: 32768 });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:PutKeyPolicy');
  core.requireNotPendingDeletion(key);
  core.checkPolicyText(ctx, text, input.bool('BypassPolicyLockoutSafetyCheck'), core.arn(key));
  await core.mutate(key, (k) => ({ ...k, policy: text }));
  return {};
}

export async function listKeyPolicies(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:ListKeyPolicies');
  return { PolicyNames: ['default'], Truncated: false };
}

export async function tagResource(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const tags = core.tags(input);
  if (!tags) throw constraint('Tags', 'Member must not be null', null);
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:TagResource');
  core.requireNotPendingDeletion(key);
  await core.mutate(key, (k) => {
    const next = dedupeTags(k.tags, tags);
    if (next.length > 50) throw new AwsError('TagException', 'A key can have at most 50 tags.');
    return { ...k, tags: next };
  });
  return {};
}

export async function untagResource(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const keys = input.list('TagKeys', (x) => {
    if (typeof x !== 'string') throw new AwsError('TagException', 'TagKeys must be strings.');
    return x;
  });
  if (!keys) throw constraint('TagKeys', 'Member must not be null', null);
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:UntagResource');
  core.requireNotPendingDeletion(key);
  await core.mutate(key, (k) => ({ ...k, tags: k.tags.filter((t) => !keys.includes(t.TagKey)) }));
  return {};
}

export async function listResourceTags(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const limit = input.int('Limit', { min: 1, max: 50 }) ?? 50;
  const marker = input.str('Marker');
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:ListResourceTags');
  const start = marker === undefined ? 0 : Number(marker);
  if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidMarkerException', 'Invalid Marker.');
  const page = key.tags.slice(start, start + limit);
  const truncated = start + limit < key.tags.length;
  const out: Record<string, unknown> = { Tags: page, Truncated: truncated };
  if (truncated) out.NextMarker = String(start + limit);
  return out;
}

