/** Local KMS operations. Rotation: EnableKeyRotation/DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations. */
import { randomBytes } from 'node:crypto';
import { AwsError } from '../../../edge/aws/errors.js';
import { invalidState, unsupportedOperation } from '../errors.js';
import { Input } from '../input.js';
import { type KeyRecord, type KeyVersion } from '../store.js';
import { DAY, type Ctx, isPrimary, materialId, type KmsCore } from '../core.js';

const ON_DEMAND_ROTATION_LIMIT = 25;

/**
 * Next automatic rotation when EnableKeyRotation is called: the period after enabling; when rotation
 * was already on and only the period changes, the period after the last rotation (AWS), or now if
 * that has already passed.
 */
function nextRotationOnEnable(k: KeyRecord, periodDays: number, now: number): number {
  if (!k.rotation.enabled) return now + periodDays * DAY;
  const last = k.versions[k.versions.length - 1]?.createdAt ?? k.createdAt;
  return Math.max(now, last + periodDays * DAY);
}

/** Symmetric encryption keys rotate: automatically only with AWS_KMS origin, on demand also with imported (EXTERNAL) material. */
function requireRotatable(core: KmsCore, key: KeyRecord, onDemand = false): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' || (key.origin !== 'AWS_KMS' && !(onDemand && key.origin === 'EXTERNAL'))) {
    throw unsupportedOperation(`${core.arn(key)} does not support ${onDemand ? 'on-demand' : 'automatic'} rotation.`);
  }
  if (!isPrimary(key)) {
    throw unsupportedOperation(`${core.arn(key)} is a multi-Region replica key; rotation is managed on its primary key in ${key.primaryRegion}.`);
  }
}

export async function setRotation(core: KmsCore, ctx: Ctx, input: Input, enabled: boolean): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  // Only EnableKeyRotation takes a period (DisableKeyRotation keeps the key's).
  const period = enabled ? (input.int('RotationPeriodInDays', { min: 90, max: 2560 }) ?? 365) : 0;
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, enabled ? 'kms:EnableKeyRotation' : 'kms:DisableKeyRotation');
  core.requireEnabled(key);
  requireRotatable(core, key);
  await core.mutate(key, (k) => ({
    ...k,
    rotation: enabled
      ? { ...k.rotation, enabled: true, periodDays: period, nextRotation: nextRotationOnEnable(k, period, ctx.now) }
      : { enabled: false, periodDays: k.rotation.periodDays, ...(k.rotation.onDemandStartedAt !== undefined ? { onDemandStartedAt: k.rotation.onDemandStartedAt } : {}) },
  }));
  return {};
}

export async function getKeyRotationStatus(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:GetKeyRotationStatus');
  core.requireNotPendingDeletion(key);
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw unsupportedOperation(`${core.arn(key)} is not a symmetric encryption key; it has no rotation status.`);
  const out: Record<string, unknown> = { KeyId: core.arn(key), KeyRotationEnabled: key.rotation.enabled };
  if (key.rotation.enabled) {
    out.RotationPeriodInDays = key.rotation.periodDays;
    if (key.rotation.nextRotation !== undefined) out.NextRotationDate = key.rotation.nextRotation / 1000;
  }
  // OnDemandRotationStartDate is AWS's "rotation in progress" marker. Here RotateKeyOnDemand completes
  // before it answers, so no rotation is ever in progress and the field is never returned (a client
  // polling for it to disappear is done at once).
  return out;
}

export async function rotateKeyOnDemand(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyIdInput = input.str('KeyId', { required: true });
  const key = await core.resolve(ctx, keyIdInput, { allowAlias: false });
  core.authorize(ctx, key, 'kms:RotateKeyOnDemand');
  core.requireEnabled(key);
  requireRotatable(core, key, true);
  await core.mutate(key, (k) => {
    if (k.versions.filter((v) => v.rotationType === 'ON_DEMAND').length >= ON_DEMAND_ROTATION_LIMIT) {
      throw new AwsError('LimitExceededException', `${core.arn(k)} has reached the limit of ${ON_DEMAND_ROTATION_LIMIT} on-demand rotations.`);
    }
    if (k.origin === 'EXTERNAL') {
      // Imported keys rotate to the new material imported for them (ImportType NEW_KEY_MATERIAL).
      const p = k.pendingMaterial;
      if (!p) throw invalidState(`${core.arn(k)} has no new key material to rotate to: import it with ImportType NEW_KEY_MATERIAL first.`);
      const { pendingMaterial: _used, ...rest } = k;
      const next: KeyRecord = {
        ...rest,
        versions: [
          ...k.versions,
          { version: k.versions.length + 1, material: p.material, fingerprint: p.fingerprint, createdAt: ctx.now, rotationType: 'ON_DEMAND', ...(p.description ? { description: p.description } : {}) },
        ],
        expirationModel: p.expirationModel,
        rotation: { ...k.rotation, onDemandStartedAt: ctx.now },
      };
      if (p.validTo !== undefined) next.validTo = p.validTo;
      else delete next.validTo;
      return next;
    }
    return {
      ...k,
      versions: [...k.versions, { version: k.versions.length + 1, material: randomBytes(32).toString('base64'), createdAt: ctx.now, rotationType: 'ON_DEMAND' }],
      rotation: { ...k.rotation, onDemandStartedAt: ctx.now },
    };
  });
  return { KeyId: core.arn(key) };
}

/**
 * ListKeyRotations: completed rotations (IncludeKeyMaterial ROTATIONS_ONLY, the default), or every key
 * material with ALL_KEY_MATERIAL (the first one, and imported material pending rotation). Imported
 * keys' entries say whether the material is imported (ImportState) and, for the current or pending
 * material, its expiration.
 */
export async function listKeyRotations(core: KmsCore, ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
  const keyId = input.str('KeyId', { required: true });
  const include = input.str('IncludeKeyMaterial', { enum: ['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY'] }) ?? 'ROTATIONS_ONLY';
  const limit = input.int('Limit', { min: 1, max: 1000 }) ?? 100;
  const marker = input.str('Marker', { min: 1, max: 1024 });
  const key = await core.resolve(ctx, keyId, { allowAlias: false });
  core.authorize(ctx, key, 'kms:ListKeyRotations');
  requireRotatable(core, key, true);
  const external = key.origin === 'EXTERNAL';
  const last = key.versions[key.versions.length - 1];
  const entries: Record<string, unknown>[] = [];
  for (const v of key.versions) {
    if (include === 'ROTATIONS_ONLY' && v.rotationType === undefined) continue;
    const e: Record<string, unknown> = { KeyId: core.arn(key), KeyMaterialId: materialId(key, v) };
    if (external && v.description) e.KeyMaterialDescription = v.description;
    if (external) e.ImportState = v.deleted ? 'PENDING_IMPORT' : 'IMPORTED';
    e.KeyMaterialState = v === last ? 'CURRENT' : 'NON_CURRENT';
    if (external && v === last && !v.deleted && key.expirationModel) {
      e.ExpirationModel = key.expirationModel;
      if (key.validTo !== undefined) e.ValidTo = key.validTo / 1000;
    }
    if (v.rotationType !== undefined) {
      e.RotationDate = v.createdAt / 1000;
      e.RotationType = v.rotationType;
    }
    entries.push(e);
  }
  const p = key.pendingMaterial;
  if (include === 'ALL_KEY_MATERIAL' && p) {
    const e: Record<string, unknown> = { KeyId: core.arn(key), KeyMaterialId: materialId(key, { version: key.versions.length + 1 } as KeyVersion) };
    if (p.description) e.KeyMaterialDescription = p.description;
    e.ImportState = 'IMPORTED';
    e.KeyMaterialState = 'PENDING_ROTATION';
    e.ExpirationModel = p.expirationModel;
    if (p.validTo !== undefined) e.ValidTo = p.validTo / 1000;
    entries.push(e);
  }
  const start = marker === undefined ? 0 : Number(marker);
  if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidMarkerException', 'Invalid Marker.');
  const page = entries.slice(start, start + limit);
  const truncated = start + limit < entries.length;
  const out: Record<string, unknown> = { Rotations: page, Truncated: truncated };
  if (truncated) out.NextMarker = String(start + limit);
  return out;
}
