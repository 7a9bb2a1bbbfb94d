/**
 * What every operation of the local KMS shares: the request context, the key lookup (ids, ARNs,
 * aliases, across regions and accounts), authorization (key policy, then grants, then quotas), the
 * lifecycle upkeep that falls due by the clock, and the key metadata KMS returns. The operations
 * themselves live in `operations/<family>.ts`; `handler.ts` dispatches to them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { evaluatePolicy, parsePolicy, PolicyError, type Policy } from '../../edge/policy/index.js';
import { AwsError } from '../../edge/aws/errors.js';
import { invalidKeyUsage, invalidState, keyNotFound, notFound } from './errors.js';
import { Input, constraint } from './input.js';
import { algorithmsFor } from './keyspec.js';
import { GrantStore, constraintsAllow, principalNames, type GrantConstraints } from './grants.js';
import { CRYPTO_OPERATIONS, quotaClassOf, type RequestQuotas } from './quotas.js';
import { KeyStore, hasMaterial, isValidKeyId, keyState, type KeyRecord, type KeySpec, type KeyUsage, type KeyVersion } from './store.js';

export const DAY = 86_400_000;

export interface AuditSink {
  record(record: Record<string, unknown>): Promise<void>;
}

export interface Caller {
  accessKeyId: string;
  account: string;
  principal: string;
  /** `kms:ViaService`, from the x-sealbox-via-service header of a trusted credential. */
  viaService?: string;
}

export interface Ctx {
  requestId: string;
  op: string;
  region: string;
  caller: Caller;
  now: number;
  /** The request has been counted against a cryptographic quota. */
  quotaTaken?: boolean;
  audit: { keyId?: string; encryptionContext?: Record<string, string>; params?: Record<string, unknown> };
}

export interface HandlerOptions {
  store: KeyStore;
  grants: GrantStore;
  /** Request quotas (off when absent). */
  quotas?: RequestQuotas;
  defaultAccount: string;
  defaultRegion: string;
  clock: () => number;
  requestClock: () => number;
  maxSkewMs: number;
  audit?: AuditSink;
}

export const KEY_ARN_RE = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/;

export const ALIAS_ARN_RE = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):(alias\/.+)$/;

export type Op = (ctx: Ctx, input: Input) => Promise<Record<string, unknown>>;

export function throttled(op: string): AwsError {
  return new AwsError('ThrottlingException', `Rate exceeded for ${op}: the request quota of this account and region is used up; retry with backoff.`);
}

/** Whether a key is a single-region key or the primary of a multi-region key. */
export function isPrimary(k: KeyRecord): boolean {
  return k.primaryRegion === undefined || k.primaryRegion === k.region;
}

/** Whether constraints `child` are at least as strict as `parent` (a grant creating a grant). */
export function atLeastAsStrict(child: GrantConstraints | undefined, parent: GrantConstraints | undefined): boolean {
  if (!parent) return true;
  if (!child) return false;
  const includes = (big: Record<string, string> | undefined, small: Record<string, string>) =>
    big !== undefined && Object.entries(small).every(([k, v]) => Object.prototype.hasOwnProperty.call(big, k) && big[k] === v);
  if (parent.EncryptionContextEquals) {
    const pe = parent.EncryptionContextEquals;
    const ce = child.EncryptionContextEquals;
    if (!ce || Object.keys(ce).length !== Object.keys(pe).length || !includes(ce, pe)) return false;
  }
  if (parent.EncryptionContextSubset) {
    const ps = parent.EncryptionContextSubset;
    if (!includes(child.EncryptionContextSubset, ps) && !includes(child.EncryptionContextEquals, ps)) return false;
  }
  return true;
}

export function nextRotationAfter(now: number, last: number, periodDays: number): number {
  let next = last + periodDays * DAY;
  while (next <= now) next += periodDays * DAY;
  return next;
}

/** SHA-256 of imported material (base64), kept to recognise the same material at a re-import. */
export function fingerprintOf(materialB64: string): string {
  return createHash('sha256').update('sealbox-kms-material/v1').update(Buffer.from(materialB64, 'base64')).digest('hex');
}

/** The version with its material removed (kept: number, dates, fingerprint). */
export function deleteMaterial(v: KeyVersion): KeyVersion {
  if (v.deleted) return v;
  return { ...v, material: '', deleted: true, fingerprint: v.fingerprint ?? fingerprintOf(v.material) };
}

const materialIds = new WeakMap<KeyVersion, string>();

/** The KeyMaterialId of a material version: 64 hex digits, as AWS's, stable for the key and version. */
export function materialId(key: KeyRecord, v: KeyVersion): string {
  let id = materialIds.get(v);
  if (id === undefined) {
    id = createHash('sha256').update(`${key.keyId}/${v.version}`).digest('hex');
    materialIds.set(v, id);
  }
  return id;
}

export function dedupeTags(
  existing: Array<{ TagKey: string; TagValue: string }>,
  added: Array<{ TagKey: string; TagValue: string }>,
): Array<{ TagKey: string; TagValue: string }> {
  const map = new Map(existing.map((t) => [t.TagKey, t.TagValue]));
  for (const t of added) map.set(t.TagKey, t.TagValue);
  return [...map].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}

export class KmsCore {
  readonly store: KeyStore;
  readonly grants: GrantStore;
  readonly o: HandlerOptions;
  readonly policyCache = new Map<string, Policy>();

  constructor(options: HandlerOptions) {
    this.o = options;
    this.store = options.store;
    this.grants = options.grants;
  }

  arn(k: KeyRecord): string {
    return `arn:aws:kms:${k.region}:${k.account}:key/${k.keyId}`;
  }

  policy(text: string): Policy {
    let p = this.policyCache.get(text);
    if (!p) {
      p = parsePolicy(text);
      if (this.policyCache.size > 1000) this.policyCache.clear();
      this.policyCache.set(text, p);
    }
    return p;
  }

  authorize(
    ctx: Ctx,
    key: KeyRecord,
    action: string,
    conditionKeys: Record<string, string | string[] | boolean | undefined> = {},
    context?: Record<string, string>,
    newGrant?: { operations: string[]; constraints: GrantConstraints | undefined },
  ): void {
    if (this.o.quotas && !ctx.quotaTaken && CRYPTO_OPERATIONS.has(ctx.op)) {
      ctx.quotaTaken = true;
      if (!this.o.quotas.take(key.account, key.region, quotaClassOf(key.keySpec))) throw throttled(ctx.op);
    }
    const result = evaluatePolicy(this.policy(key.policy), {
      principal: ctx.caller.principal,
      action,
      resource: this.arn(key),
      conditionKeys: {
        'kms:CallerAccount': ctx.caller.account,
        'aws:PrincipalArn': ctx.caller.principal,
        'aws:PrincipalAccount': ctx.caller.account,
        'aws:RequestedRegion': ctx.region,
        'kms:ViaService': ctx.caller.viaService,
        ...conditionKeys,
      },
      variables: {
        'aws:username': ctx.caller.principal.split('/').pop(),
        'aws:PrincipalArn': ctx.caller.principal,
        'aws:PrincipalAccount': ctx.caller.account,
      },
    });
    if (result.decision === 'ImplicitDeny' && this.grantAllows(ctx, key, action, context, newGrant)) return;
    if (result.decision !== 'Allow') {
      throw new AwsError(
        'AccessDeniedException',
        `User: ${ctx.caller.principal} is not authorized to perform: ${action} on resource: ${this.arn(key)} ` +
          (result.decision === 'Deny' ? 'with an explicit deny in a resource-based policy' : 'because no resource-based policy allows the ' + action + ' action'),
      );
    }
  }

  /** Resolves a key id, key ARN, alias name or alias ARN to a key record (after lifecycle upkeep). */
  async resolve(ctx: Ctx, input: string, opts: { allowAlias: boolean; field?: string }): Promise<KeyRecord> {
    if (input.length < 1) throw constraint(opts.field ?? 'KeyId', 'Member must have length greater than or equal to 1', input);
    if (input.length > 2048) throw constraint(opts.field ?? 'KeyId', 'Member must have length less than or equal to 2048', input);
    let region = ctx.region;
    let account = ctx.caller.account;
    let keyId: string | undefined;
    let m = KEY_ARN_RE.exec(input);
    if (m) {
      region = m[2]!;
      account = m[3]!;
      keyId = m[4]!;
    } else if ((m = ALIAS_ARN_RE.exec(input))) {
      if (!opts.allowAlias) throw notFound(`Invalid keyId '${input}'`);
      region = m[2]!;
      account = m[3]!;
      const alias = this.store.aliases(region, account).get(m[4]!);
      if (!alias) throw notFound(`Alias ${input}`);
      keyId = alias.target;
    } else if (input.startsWith('alias/')) {
      if (!opts.allowAlias) throw notFound(`Invalid keyId '${input}'`);
      const alias = this.store.aliases(region, account).get(input);
      if (!alias) throw notFound(`Alias arn:aws:kms:${region}:${account}:${input}`);
      keyId = alias.target;
    } else if (input.startsWith('arn:')) {
      throw new AwsError('NotFoundException', `Invalid arn ${input}`);
    } else {
      if (!isValidKeyId(input)) throw new AwsError('NotFoundException', `Invalid keyId '${input}'`);
      keyId = input;
    }
    const arn = `arn:aws:kms:${region}:${account}:key/${keyId}`;
    if (region !== ctx.region) throw keyNotFound(arn);
    let key = this.store.getKey(region, account, keyId);
    if (!key) throw keyNotFound(arn);
    key = await this.upkeep(ctx, key);
    if (!key) throw keyNotFound(arn);
    ctx.audit.keyId = this.arn(key);
    return key;
  }

  /** Lifecycle work that is due by the clock: deletion after the window, automatic rotation, expired imports. */
  async upkeep(ctx: Ctx, key: KeyRecord): Promise<KeyRecord | undefined> {
    const now = ctx.now;
    if (!isPrimary(key)) {
      // A replica rotates with its primary: bring the primary up to date (which copies its material here).
      const primary = this.store.getKey(key.primaryRegion!, key.account, key.keyId);
      if (primary) await this.upkeep(ctx, primary);
      key = this.store.getKey(key.region, key.account, key.keyId) ?? key;
    }
    const due =
      (key.pendingDeletion && !key.pendingDeletion.waitingForReplicas && now >= key.pendingDeletion.deletionDate) ||
      (isPrimary(key) && key.rotation.enabled && key.enabled && !key.pendingDeletion && key.rotation.nextRotation !== undefined && now >= key.rotation.nextRotation) ||
      (key.validTo !== undefined && hasMaterial(key) && now >= key.validTo);
    if (!due) return key;
    return this.store.exclusive(async () => {
      const current = this.store.getKey(key.region, key.account, key.keyId);
      if (!current) return undefined;
      if (current.pendingDeletion && !current.pendingDeletion.waitingForReplicas && now >= current.pendingDeletion.deletionDate) {
        await this.deleteNow(current, now);
        return undefined;
      }
      let next = current;
      // AWS does not rotate a disabled key; once it is enabled again an overdue rotation happens at once.
      if (isPrimary(next) && next.rotation.enabled && next.enabled && !next.pendingDeletion && next.rotation.nextRotation !== undefined && now >= next.rotation.nextRotation) {
        const at = next.rotation.nextRotation;
        next = {
          ...next,
          versions: [...next.versions, { version: next.versions.length + 1, material: randomBytes(32).toString('base64'), createdAt: at, rotationType: 'AUTOMATIC' }],
          rotation: { ...next.rotation, nextRotation: nextRotationAfter(now, at, next.rotation.periodDays) },
        };
      }
      if (next.validTo !== undefined && hasMaterial(next) && now >= next.validTo) {
        // Expired imported material is deleted (the key becomes PendingImport); its fingerprint stays for a re-import.
        next = { ...next, versions: next.versions.map((v) => deleteMaterial(v)) };
      }
      if (next !== current) {
        await this.store.putKey(next);
        await this.syncReplicas(next);
      }
      return next;
    });
  }

  /** The other regions' records of a multi-region key. */
  siblings(k: KeyRecord): KeyRecord[] {
    if (!k.multiRegion) return [];
    return this.store.allKeys().filter((r) => r.keyId === k.keyId && r.account === k.account && r.region !== k.region);
  }

  /** Copies a multi-region primary's shared properties (material versions, rotation) to its replicas. Inside `exclusive`. */
  async syncReplicas(primary: KeyRecord): Promise<void> {
    if (!primary.multiRegion || !isPrimary(primary)) return;
    for (const r of this.siblings(primary)) {
      if (JSON.stringify(r.versions) === JSON.stringify(primary.versions) && JSON.stringify(r.rotation) === JSON.stringify(primary.rotation)) continue;
      await this.store.putKey({ ...r, versions: structuredClone(primary.versions), rotation: structuredClone(primary.rotation) });
    }
  }

  /** Lifecycle work due for every key (at start: rotations, deletions and expiries that fell due while the KMS was down). */
  async upkeepAll(): Promise<void> {
    const now = this.o.clock();
    for (const key of this.store.allKeys()) {
      const ctx: Ctx = { requestId: 'startup', op: 'Upkeep', region: key.region, caller: { accessKeyId: '', account: key.account, principal: '' }, now, audit: {} };
      await this.upkeep(ctx, key);
    }
  }

  async deleteNow(key: KeyRecord, now: number): Promise<void> {
    await this.grants.removeKey(key.region, key.account, key.keyId);
    const aliases = this.store.aliases(key.region, key.account);
    const kept = new Map([...aliases].filter(([, a]) => a.target !== key.keyId));
    if (kept.size !== aliases.size) await this.store.putAliases(key.region, key.account, kept);
    await this.store.deleteKey(key.region, key.account, key.keyId);
    // The last replica of a primary waiting for its replicas' deletion: the primary's window starts now.
    if (key.multiRegion && !isPrimary(key)) {
      const primary = this.store.getKey(key.primaryRegion!, key.account, key.keyId);
      if (primary?.pendingDeletion?.waitingForReplicas && this.siblings(primary).length === 0) {
        const windowDays = primary.pendingDeletion.windowDays;
        await this.store.putKey({ ...primary, pendingDeletion: { deletionDate: now + windowDays * DAY, windowDays } });
      }
    }
  }

  /** Throws the AWS error for a key that cannot be used for cryptography right now. */
  requireEnabled(key: KeyRecord): void {
    const state = keyState(key);
    if (state === 'Enabled') return;
    if (state === 'Disabled') throw new AwsError('DisabledException', `${this.arn(key)} is disabled.`);
    throw invalidState(`${this.arn(key)} is ${state === 'PendingDeletion' ? 'pending deletion' : state === 'PendingReplicaDeletion' ? 'pending replica deletion' : 'pending import'}.`);
  }

  requireNotPendingDeletion(key: KeyRecord): void {
    if (key.pendingDeletion) throw invalidState(`${this.arn(key)} is pending deletion.`);
  }

  requireUsage(key: KeyRecord, usage: KeyUsage, op: string): void {
    if (key.keyUsage !== usage) {
      throw invalidKeyUsage(`${this.arn(key)} key usage is ${key.keyUsage} which is not valid for ${op}.`);
    }
  }

  mutate(key: KeyRecord, fn: (k: KeyRecord) => KeyRecord | Promise<KeyRecord>): Promise<KeyRecord> {
    return this.store.exclusive(async () => {
      const current = this.store.getKey(key.region, key.account, key.keyId);
      if (!current) throw keyNotFound(this.arn(key));
      const next = await fn(structuredClone(current));
      await this.store.putKey(next);
      await this.syncReplicas(next);
      return next;
    });
  }

  metadata(k: KeyRecord): Record<string, unknown> {
    const state = keyState(k);
    const md: Record<string, unknown> = {
      AWSAccountId: k.account,
      KeyId: k.keyId,
      Arn: this.arn(k),
      CreationDate: k.createdAt / 1000,
      Enabled: state === 'Enabled',
      Description: k.description,
      KeyUsage: k.keyUsage,
      KeyState: state,
      Origin: k.origin,
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: k.keySpec,
      KeySpec: k.keySpec,
      ...algorithmsFor(k.keySpec, k.keyUsage),
      MultiRegion: k.multiRegion === true,
    };
    if (k.multiRegion) {
      const primaryRegion = k.primaryRegion ?? k.region;
      const family = [k, ...this.siblings(k)];
      md.MultiRegionConfiguration = {
        MultiRegionKeyType: primaryRegion === k.region ? 'PRIMARY' : 'REPLICA',
        PrimaryKey: { Arn: `arn:aws:kms:${primaryRegion}:${k.account}:key/${k.keyId}`, Region: primaryRegion },
        ReplicaKeys: family
          .filter((r) => r.region !== primaryRegion)
          .sort((a, b) => (a.region < b.region ? -1 : 1))
          .map((r) => ({ Arn: this.arn(r), Region: r.region })),
      };
    }
    if (k.pendingDeletion) {
      if (!k.pendingDeletion.waitingForReplicas) md.DeletionDate = k.pendingDeletion.deletionDate / 1000;
      md.PendingDeletionWindowInDays = k.pendingDeletion.windowDays;
    }
    // AWS reports the expiration model of imported material once there is material (not while PendingImport).
    if (k.origin === 'EXTERNAL' && hasMaterial(k)) {
      md.ExpirationModel = k.expirationModel ?? 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      if (k.validTo !== undefined) md.ValidTo = k.validTo / 1000;
    }
    if (k.keySpec === 'SYMMETRIC_DEFAULT' && k.versions.length > 0) md.CurrentKeyMaterialId = materialId(k, k.versions[k.versions.length - 1]!);
    return md;
  }

  checkPolicyText(ctx: Ctx, text: string, bypass: boolean | undefined, arn: string): void {
    let policy: Policy;
    try {
      policy = parsePolicy(text);
    } catch (e) {
      if (e instanceof PolicyError) throw new AwsError('MalformedPolicyDocumentException', e.message);
      throw e;
    }
    if (!bypass) {
      const r = evaluatePolicy(policy, {
        principal: ctx.caller.principal,
        action: 'kms:PutKeyPolicy',
        resource: arn,
        conditionKeys: { 'kms:CallerAccount': ctx.caller.account, 'aws:PrincipalArn': ctx.caller.principal },
      });
      if (r.decision !== 'Allow') {
        throw new AwsError(
          'MalformedPolicyDocumentException',
          'The new key policy will not allow you to update the key policy in the future (set BypassPolicyLockoutSafetyCheck to override).',
        );
      }
    }
  }

  /**
   * The request's Tags, checked as AWS does: lengths first (ValidationException naming the member,
   * e.g. 'tags.1.member.tagKey'), then reserved `aws:` keys and duplicate keys (TagException).
   */
  tags(input: Input): Array<{ TagKey: string; TagValue: string }> | undefined {
    const tags = input.list('Tags', (t, i) => {
      const tag = t as { TagKey?: unknown; TagValue?: unknown } | null;
      const at = `tags.${i + 1}.member`;
      if (typeof tag !== 'object' || tag === null) throw new AwsError('SerializationException', `Wrong type for 'Tags' member ${i + 1} (expected structure)`);
      if (tag.TagKey === undefined || tag.TagKey === null) throw constraint(`${at}.tagKey`, 'Member must not be null', null);
      if (tag.TagValue === undefined || tag.TagValue === null) throw constraint(`${at}.tagValue`, 'Member must not be null', null);
      if (typeof tag.TagKey !== 'string' || typeof tag.TagValue !== 'string') throw new AwsError('SerializationException', `Wrong type for 'Tags' member ${i + 1} (expected strings)`);
      if (tag.TagKey.length < 1) throw constraint(`${at}.tagKey`, 'Member must have length greater than or equal to 1', tag.TagKey);
      if (tag.TagKey.length > 128) throw constraint(`${at}.tagKey`, 'Member must have length less than or equal to 128', tag.TagKey);
      if (tag.TagValue.length > 256) throw constraint(`${at}.tagValue`, 'Member must have length less than or equal to 256', tag.TagValue);
      return { TagKey: tag.TagKey, TagValue: tag.TagValue };
    });
    if (!tags) return undefined;
    const seen = new Set<string>();
    for (const t of tags) {
      if (t.TagKey.startsWith('aws:')) throw new AwsError('TagException', `Tag key '${t.TagKey}' is reserved: tag keys must not begin with 'aws:'.`);
      if (seen.has(t.TagKey)) throw new AwsError('TagException', `Duplicate tag keys: '${t.TagKey}' appears more than once.`);
      seen.add(t.TagKey);
    }
    return tags;
  }

  dryRun(input: Input): void {
    if (input.bool('DryRun')) throw new AwsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.', 412);
  }

  /** A live grant on `key` names the caller as grantee, includes the operation, and its constraints hold. */
  grantAllows(
    ctx: Ctx,
    key: KeyRecord,
    action: string,
    context: Record<string, string> | undefined,
    newGrant: { operations: string[]; constraints: GrantConstraints | undefined } | undefined,
  ): boolean {
    if (!action.startsWith('kms:')) return false;
    const op = action.slice(4);
    for (const g of this.grants.forKey(key.region, key.account, key.keyId)) {
      if (!g.operations.includes(op) || !principalNames(g.granteePrincipal, ctx.caller)) continue;
      if (!constraintsAllow(g, op, context)) continue;
      if (op === 'CreateGrant') {
        // A grant can pass on only what it has, under constraints at least as strict as its own.
        if (!newGrant || !newGrant.operations.every((o) => g.operations.includes(o))) continue;
        if (!atLeastAsStrict(newGrant.constraints, g.constraints)) continue;
      }
      ctx.audit.params = { ...(ctx.audit.params ?? {}), grantId: g.grantId };
      return true;
    }
    return false;
  }

  checkGrantTokens(tokens: unknown): void {
    if (tokens === undefined || tokens === null) return;
    if (!Array.isArray(tokens)) throw new AwsError('SerializationException', "Wrong type for 'GrantTokens' (expected list)");
    if (tokens.length > 10) throw constraint('GrantTokens', 'Member must have length less than or equal to 10');
    for (const t of tokens) {
      if (typeof t !== 'string' || t.length < 1 || t.length > 8192 || !GrantStore.openToken(this.store, t)) {
        throw new AwsError('InvalidGrantTokenException', 'The grant token is not valid.');
      }
    }
  }

}
