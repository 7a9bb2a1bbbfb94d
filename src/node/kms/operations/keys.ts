/** Local KMS operations. Key management: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey/DisableKey, ScheduleKeyDeletion, CancelKeyDeletion. */
import { defaultKeyPolicy, type Policy } from '../../../edge/policy/index.js';
import { AwsError } from '../../../edge/aws/errors.js';
import { invalidState, unsupportedOperation, validation } from '../errors.js';
import { Input, constraint } from '../input.js';
import { KEY_SPEC_VALUES, KEY_USAGE_VALUES, SPECS, generateMaterial, isKeySpec } from '../keyspec.js';
import { KeyStore, keyState, type KeyRecord, type KeySpec, type KeyUsage, type KeyVersion } from '../store.js';
import { DAY, type Ctx, isPrimary, dedupeTags, type KmsCore } from '../core.js';

export async function createKey(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  // Every member is checked (type, length, enum) before any rule that combines them, as AWS does.
  const description = input.str('Description', { max: 8192 }) ?? '';
  const usageName = input.str('KeyUsage', { enum: KEY_USAGE_VALUES });
  const cmkSpec = input.str('CustomerMasterKeySpec', { enum: KEY_SPEC_VALUES.filter((v) => !v.startsWith('ML_DSA') && v !== 'ECC_NIST_EDWARDS25519') });
  const specInput = input.str('KeySpec', { enum: KEY_SPEC_VALUES });
  const origin = input.str('Origin', { enum: ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] }) ?? 'AWS_KMS';
  const policyText = input.str('Policy', { min: 1, max: 32768 });
  const bypass = input.bool('BypassPolicyLockoutSafetyCheck');
  const multiRegion = input.bool('MultiRegion') ?? false;
  const customKeyStore = input.str('CustomKeyStoreId', { min: 1, max: 64 });
  const xksKeyId = input.str('XksKeyId', { min: 1, max: 128 });
  const tags = core.tags(input) ?? [];
  if (specInput !== undefined && cmkSpec !== undefined) {
    throw validation('You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.');
  }
  const specName = specInput ?? cmkSpec ?? 'SYMMETRIC_DEFAULT';
  if (!isKeySpec(specName)) throw unsupportedOperation(`KeySpec ${specName} is not supported by the local KMS.`);
  const spec: KeySpec = specName;
  const info = SPECS[spec];
  // AWS's default KeyUsage is ENCRYPT_DECRYPT, so HMAC, ECC and key agreement keys must name theirs.
  const usage = (usageName ?? 'ENCRYPT_DECRYPT') as KeyUsage;
  if (!info.usages.includes(usage)) {
    throw validation(
      usageName === undefined
        ? `You must specify a KeyUsage value for a KMS key with KeySpec ${spec}: one of ${info.usages.join(', ')}.`
        : `KeyUsage ${usage} is not compatible with KeySpec ${spec}.`,
    );
  }
  if (origin === 'AWS_CLOUDHSM' || origin === 'EXTERNAL_KEY_STORE' || customKeyStore !== undefined || xksKeyId !== undefined) {
    throw unsupportedOperation('Custom key stores (AWS CloudHSM, external key stores) are not supported by the local KMS.');
  }
  if (tags.length > 50) throw new AwsError('TagException', 'A key can have at most 50 tags.');
  const keyId = KeyStore.newKeyId(multiRegion);
  const arn = `arn:aws:kms:${ctx.region}:${ctx.caller.account}:key/${keyId}`;
  if (policyText !== undefined) core.checkPolicyText(ctx, policyText, bypass, arn);
  const versions: KeyVersion[] = [];
  if (origin === 'AWS_KMS') versions.push({ version: 1, ...(await generateMaterial(spec)), createdAt: ctx.now });
  const rec: KeyRecord = {
    keyId,
    region: ctx.region,
    account: ctx.caller.account,
    createdAt: ctx.now,
    description,
    keySpec: spec,
    keyUsage: usage,
    origin: origin as KeyRecord['origin'],
    enabled: true,
    policy: policyText ?? JSON.stringify(defaultKeyPolicy(ctx.caller.account), null, 2),
    tags: dedupeTags([], tags),
    rotation: { enabled: false, periodDays: 365 },
    versions,
  };
  if (multiRegion) rec.multiRegion = true;
  await core.store.exclusive(() => core.store.putKey(rec));
  ctx.audit.keyId = arn;
  ctx.audit.params = { keySpec: spec, keyUsage: usage, origin };
  return { KeyMetadata: core.metadata(rec) };
}

export async function describeKey(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: true });
  core.authorize(ctx, key, 'kms:DescribeKey');
  return { KeyMetadata: core.metadata(key) };
}

export async function listKeys(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const limit = input.int('Limit', { min: 1, max: 1000 }) ?? 100;
  const marker = input.str('Marker', { min: 1, max: 1024 });
  const live: KeyRecord[] = [];
  for (const k of core.store.listKeys(ctx.region, ctx.caller.account)) {
    const kept = await core.upkeep(ctx, k);
    if (kept) live.push(kept);
  }
  live.sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
  const start = marker === undefined ? 0 : live.findIndex((k) => k.keyId > marker);
  const page = start < 0 ? [] : live.slice(start, start + limit);
  const truncated = start >= 0 && start + limit < live.length;
  const out: Record<string, unknown> = { Keys: page.map((k) => ({ KeyId: k.keyId, KeyArn: core.arn(k) })), Truncated: truncated };
  if (truncated) out.NextMarker = page[page.length - 1]!.keyId;
  return out;
}

export async function updateKeyDescription(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const description = input.str('Description', { required: true, max: 8192 });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:UpdateKeyDescription');
  core.requireNotPendingDeletion(key);
  await core.mutate(key, (k) => ({ ...k, description }));
  return {};
}

export async function setEnabled(core: KmsCore, ctx: Ctx, input: Input, enabled: boolean): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, enabled ? 'kms:EnableKey' : 'kms:DisableKey');
  const state = keyState(key);
  if (state === 'PendingDeletion' || state === 'PendingImport') throw invalidState(`${core.arn(key)} is ${state}.`);
  if (key.enabled !== enabled) {
    await core.mutate(key, (k) => {
      const next = { ...k, enabled };
      // A rotation that fell due while the key was disabled happens when it is enabled again.
      if (enabled && k.rotation.enabled && k.rotation.nextRotation !== undefined && k.rotation.nextRotation < ctx.now) {
        next.rotation = { ...k.rotation, nextRotation: ctx.now };
      }
      return next;
    });
  }
  return {};
}

export async function scheduleKeyDeletion(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const days = input.int('PendingWindowInDays', { min: 7, max: 30 }) ?? 30;
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:ScheduleKeyDeletion');
  core.requireNotPendingDeletion(key);
  const deletionDate = ctx.now + days * DAY;
  // A multi-region primary with replicas waits for them (PendingReplicaDeletion), as at AWS.
  const waiting = key.multiRegion === true && isPrimary(key) && core.siblings(key).length > 0;
  await core.mutate(key, (k) => ({ ...k, pendingDeletion: waiting ? { deletionDate, windowDays: days, waitingForReplicas: true } : { deletionDate, windowDays: days } }));
  if (waiting) return { KeyId: core.arn(key), KeyState: 'PendingReplicaDeletion', PendingWindowInDays: days };
  return { KeyId: core.arn(key), DeletionDate: deletionDate / 1000, KeyState: 'PendingDeletion', PendingWindowInDays: days };
}

export async function cancelKeyDeletion(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:CancelKeyDeletion');
  if (!key.pendingDeletion) throw invalidState(`${core.arn(key)} is not pending deletion.`);
  await core.mutate(key, (k) => {
    const { pendingDeletion: _gone, ...rest } = k;
    return { ...rest, enabled: false };
  });
  return { KeyId: core.arn(key) };
}

