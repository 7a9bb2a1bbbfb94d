/** Local KMS operations. Multi-region keys: ReplicateKey, UpdatePrimaryRegion. */
import { defaultKeyPolicy, type Policy } from '../../../edge/policy/index.js';
import { AwsError } from '../../../edge/aws/errors.js';
import { notFound, unsupportedOperation, validation } from '../errors.js';
import { Input, constraint } from '../input.js';
import { isValidRegion, type KeyRecord } from '../store.js';
import { type Ctx, isPrimary, dedupeTags, type KmsCore } from '../core.js';

export async function replicateKey(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const replicaRegion = input.str('ReplicaRegion', { required: true, min: 1, max: 32 });
  if (!isValidRegion(replicaRegion)) throw constraint('ReplicaRegion', 'Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$', replicaRegion);
  const description = input.str('Description', { max: 8192 });
  const tags = core.tags(input) ?? [];
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:ReplicateKey', { 'kms:ReplicaRegion': replicaRegion });
  if (!key.multiRegion) throw unsupportedOperation(`${core.arn(key)} is not a multi-Region key.`);
  if (!isPrimary(key)) throw unsupportedOperation(`${core.arn(key)} is a replica; replicate its primary key in ${key.primaryRegion}.`);
  if (key.origin !== 'AWS_KMS') throw unsupportedOperation('The local KMS replicates only multi-Region keys with AWS_KMS origin.');
  if (replicaRegion === key.region) throw validation(`The replica region must differ from the primary key's region ${key.region}.`);
  core.requireNotPendingDeletion(key);
  const arn = `arn:aws:kms:${replicaRegion}:${key.account}:key/${key.keyId}`;
  const policyText = input.str('Policy', { min: 1, max: 32768 });
  if (policyText !== undefined) core.checkPolicyText(ctx, policyText, input.bool('BypassPolicyLockoutSafetyCheck'), arn);
  core.dryRun(input);
  const rec = await core.store.exclusive(async () => {
    if (core.store.getKey(replicaRegion, key.account, key.keyId)) throw new AwsError('AlreadyExistsException', `${arn} already exists.`);
    const primary = core.store.getKey(key.region, key.account, key.keyId);
    if (!primary) throw notFound(`Key '${core.arn(key)}'`);
    const r: KeyRecord = {
      keyId: key.keyId,
      region: replicaRegion,
      account: key.account,
      createdAt: ctx.now,
      // AWS: the replica's description is the one given to ReplicateKey (empty by default), not the primary's.
      description: description ?? '',
      keySpec: primary.keySpec,
      keyUsage: primary.keyUsage,
      origin: primary.origin,
      enabled: true,
      policy: policyText ?? JSON.stringify(defaultKeyPolicy(key.account), null, 2),
      tags: dedupeTags([], tags),
      rotation: structuredClone(primary.rotation),
      versions: structuredClone(primary.versions),
      multiRegion: true,
      primaryRegion: primary.region,
    };
    await core.store.putKey(r);
    return r;
  });
  ctx.audit.params = { replicaRegion, replicaKeyArn: arn };
  // AWS's ReplicateKey answer carries no CurrentKeyMaterialId (DescribeKey on the replica does).
  const { CurrentKeyMaterialId: _none, ...metadata } = core.metadata(rec);
  return { ReplicaKeyMetadata: metadata, ReplicaPolicy: rec.policy, ReplicaTags: rec.tags };
}

export async function updatePrimaryRegion(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const region = input.str('PrimaryRegion', { required: true, min: 1, max: 32 });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:UpdatePrimaryRegion', { 'kms:PrimaryRegion': region });
  if (!key.multiRegion) throw unsupportedOperation(`${core.arn(key)} is not a multi-Region key.`);
  if (!isPrimary(key)) throw unsupportedOperation(`${core.arn(key)} is not the primary key; call UpdatePrimaryRegion in ${key.primaryRegion}.`);
  if (region === key.region) return {};
  await core.store.exclusive(async () => {
    const target = core.store.getKey(region, key.account, key.keyId);
    if (!target) throw notFound(`Replica key 'arn:aws:kms:${region}:${key.account}:key/${key.keyId}'`);
    for (const r of [core.store.getKey(key.region, key.account, key.keyId)!, ...core.siblings(key)]) {
      const next: KeyRecord = { ...r, primaryRegion: region };
      if (r.region === region) delete next.primaryRegion;
      await core.store.putKey(next);
    }
  });
  ctx.audit.params = { primaryRegion: region };
  return {};
}

