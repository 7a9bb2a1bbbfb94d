/**
 * The KMS JSON 1.1 API of the local KMS: one `fetch` handler. Authenticates (SigV4), authorizes
 * (key policy, src/edge/policy), runs the operation against the store and writes the audit record.
 *
 * Every lookup is scoped by (region, account): the region comes from the request's SigV4 credential
 * scope, the account from the caller's credential (or from a key ARN for cross-account use), so
 * several regions and accounts can live in one store.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual, constants as cryptoConstants, generateKeyPair, privateDecrypt, createPrivateKey } from 'node:crypto';
import { promisify } from 'node:util';
import { encryptionContextKeys, evaluatePolicy, parsePolicy, defaultKeyPolicy, PolicyError, type Policy } from '../../edge/policy/index.js';
import { openBlob, parseBlob, sealBlob } from './blob.js';
import { randomBytesFast } from './random.js';
import { KmsError, invalidCiphertext, invalidKeyUsage, invalidState, notFound, unsupportedOperation, validation } from './errors.js';
import { Input, b64, constraint } from './input.js';
import {
  SPECS,
  SignInputError,
  algorithmsFor,
  generateMaterial,
  hmac,
  isKeySpec,
  publicKeyDer,
  rsaDecrypt,
  rsaEncrypt,
  rsaMaxPlaintext,
  secretOf,
  signMessage,
  verifyMessage,
} from './keyspec.js';
import { GRANT_ID_RE, GRANT_OPERATIONS, GrantStore, NO_CONTEXT_OPERATIONS, constraintsAllow, newGrantId, principalNames, type GrantConstraints, type GrantRecord } from './grants.js';
import { VIA_SERVICE_HEADER } from './principals.js';
import { CRYPTO_OPERATIONS, quotaClassOf, type RequestQuotas } from './quotas.js';
import { SigV4Error, verifySigV4, type SigV4Request, type VerifySigV4Options } from '../../edge/aws/sigv4.js';
import { nodeSigV4Crypto } from './node-crypto.js';
import {
  KeyStore,
  isValidAccount,
  isValidRegion,
  keyState,
  type AliasRecord,
  type KeyRecord,
  type KeySpec,
  type KeyUsage,
  type KeyVersion,
  type StoredCredential,
} from './store.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const DAY = 86_400_000;
const JSON_TYPE = 'application/x-amz-json-1.1';
const MAX_BODY = 1024 * 1024;
const ON_DEMAND_ROTATION_LIMIT = 25;
const utf8 = new TextDecoder();

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * False when `JSON.stringify(map).length` is surely at most `limit`: each character takes at most 6
 * in JSON (`\uXXXX`), plus quotes, colon and comma per entry and the braces.
 */
function jsonLengthMayExceed(map: Record<string, string>, limit: number): boolean {
  let bound = 2;
  for (const k in map) bound += 6 * (k.length + map[k]!.length) + 6;
  return bound > limit;
}

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

interface Ctx {
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

const ALIAS_RE = /^alias\/[a-zA-Z0-9/_-]+$/;
const KEY_ARN_RE = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/;
const ALIAS_ARN_RE = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):(alias\/.+)$/;

type Op = (ctx: Ctx, input: Input) => Promise<Record<string, unknown>>;

const STORAGE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'I/O error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

/** A failed write to the key store or the audit file (disk full, read-only, I/O error) as a clear KMS error. */
function storageError(e: unknown): KmsError | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !Object.prototype.hasOwnProperty.call(STORAGE_ERRORS, code)) return undefined;
  return new KmsError(
    'KMSInternalException',
    `The KMS could not write to its key store or audit trail (${code}: ${STORAGE_ERRORS[code]}); the request was not acknowledged. Free space or fix the disk, then retry.`,
    500,
  );
}

export class KmsHandler {
  readonly store: KeyStore;
  readonly grants: GrantStore;
  readonly #o: HandlerOptions;
  readonly #credentials = new Map<string, StoredCredential>();
  readonly #signingKeys = new Map<string, Uint8Array>();
  readonly #policyCache = new Map<string, Policy>();
  readonly #ops: Record<string, Op>;
  /** The same for every request (built once, not per call). */
  readonly #sigV4Options: VerifySigV4Options;

  constructor(options: HandlerOptions) {
    this.#o = options;
    this.store = options.store;
    this.grants = options.grants;
    for (const c of options.store.credentials) this.#credentials.set(c.accessKeyId, c);
    this.#sigV4Options = {
      lookupSecret: (id) => {
        const c = this.#credentials.get(id);
        return c === undefined ? undefined : { secretAccessKey: c.secretAccessKey };
      },
      now: options.requestClock,
      maxSkewMs: options.maxSkewMs,
      service: 'kms',
      crypto: nodeSigV4Crypto,
      signingKeyCache: this.#signingKeys,
    };
    this.#ops = {
      CreateKey: (c, i) => this.createKey(c, i),
      DescribeKey: (c, i) => this.describeKey(c, i),
      ListKeys: (c, i) => this.listKeys(c, i),
      UpdateKeyDescription: (c, i) => this.updateKeyDescription(c, i),
      CreateAlias: (c, i) => this.createAlias(c, i),
      UpdateAlias: (c, i) => this.updateAlias(c, i),
      DeleteAlias: (c, i) => this.deleteAlias(c, i),
      ListAliases: (c, i) => this.listAliases(c, i),
      EnableKey: (c, i) => this.setEnabled(c, i, true),
      DisableKey: (c, i) => this.setEnabled(c, i, false),
      ScheduleKeyDeletion: (c, i) => this.scheduleKeyDeletion(c, i),
      CancelKeyDeletion: (c, i) => this.cancelKeyDeletion(c, i),
      EnableKeyRotation: (c, i) => this.setRotation(c, i, true),
      DisableKeyRotation: (c, i) => this.setRotation(c, i, false),
      GetKeyRotationStatus: (c, i) => this.getKeyRotationStatus(c, i),
      RotateKeyOnDemand: (c, i) => this.rotateKeyOnDemand(c, i),
      ListKeyRotations: (c, i) => this.listKeyRotations(c, i),
      GetKeyPolicy: (c, i) => this.getKeyPolicy(c, i),
      PutKeyPolicy: (c, i) => this.putKeyPolicy(c, i),
      ListKeyPolicies: (c, i) => this.listKeyPolicies(c, i),
      GenerateDataKey: (c, i) => this.generateDataKey(c, i, true),
      GenerateDataKeyWithoutPlaintext: (c, i) => this.generateDataKey(c, i, false),
      GenerateRandom: (c, i) => this.generateRandom(c, i),
      Encrypt: (c, i) => this.encrypt(c, i),
      Decrypt: (c, i) => this.decrypt(c, i),
      ReEncrypt: (c, i) => this.reEncrypt(c, i),
      GetPublicKey: (c, i) => this.getPublicKey(c, i),
      Sign: (c, i) => this.sign(c, i),
      Verify: (c, i) => this.verify(c, i),
      GenerateMac: (c, i) => this.generateMac(c, i),
      VerifyMac: (c, i) => this.verifyMac(c, i),
      TagResource: (c, i) => this.tagResource(c, i),
      UntagResource: (c, i) => this.untagResource(c, i),
      ListResourceTags: (c, i) => this.listResourceTags(c, i),
      GetParametersForImport: (c, i) => this.getParametersForImport(c, i),
      ImportKeyMaterial: (c, i) => this.importKeyMaterial(c, i),
      CreateGrant: (c, i) => this.createGrant(c, i),
      ListGrants: (c, i) => this.listGrants(c, i),
      ListRetirableGrants: (c, i) => this.listRetirableGrants(c, i),
      RetireGrant: (c, i) => this.retireGrant(c, i),
      RevokeGrant: (c, i) => this.revokeGrant(c, i),
      ReplicateKey: (c, i) => this.replicateKey(c, i),
      UpdatePrimaryRegion: (c, i) => this.updatePrimaryRegion(c, i),
    };
  }

  get operations(): string[] {
    return Object.keys(this.#ops);
  }

  // ── HTTP ────────────────────────────────────────────────────────────────────────────────────────

  /** The WHATWG fetch handler (tests, the dev server, any fetch-based server). */
  fetch = async (request: Request): Promise<Response> => {
    const body = request.method === 'POST' ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array(0);
    const r = await this.handle(request, body);
    return new Response(r.body, { status: r.status, headers: r.headers });
  };

  /**
   * Transport-neutral core: `request` needs only method, url and headers.get; `body` is the raw
   * request body. The Node server calls this directly, without building Request/Response objects.
   */
  handle = async (request: SigV4Request, body: Uint8Array): Promise<RawResponse> => {
    const requestId = randomUUID();
    let op = 'Unknown';
    let ctx: Ctx | undefined;
    try {
      if (request.method !== 'POST') {
        return this.#error(requestId, new KmsError('UnknownOperationException', 'KMS accepts only POST requests.', 404));
      }
      const target = request.headers.get('x-amz-target') ?? '';
      op = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : target;
      if (body.length > MAX_BODY) throw new KmsError('ValidationException', 'Request body is too large.', 413);
      let sig;
      try {
        sig = await verifySigV4(request, body, this.#sigV4Options);
      } catch (e) {
        if (e instanceof SigV4Error) throw new KmsError(e.awsType, e.message, e.code === 'MissingAuthenticationToken' ? 403 : 400);
        throw e;
      }
      const cred = this.#credentials.get(sig.accessKeyId)!;
      const account = cred.account ?? this.#o.defaultAccount;
      ctx = {
        requestId,
        op,
        region: sig.region,
        caller: { accessKeyId: cred.accessKeyId, account, principal: cred.principalArn ?? `arn:aws:iam::${account}:user/sealbox-dev` },
        now: this.#o.clock(),
        audit: {},
      };
      // Only from a trusted credential, and only when the header is covered by the signature.
      const via = cred.trustedForViaService && sig.signedHeaders.includes(VIA_SERVICE_HEADER) ? request.headers.get(VIA_SERVICE_HEADER) : null;
      if (via) ctx.caller.viaService = via;
      if (!isValidRegion(sig.region)) throw new KmsError('UnrecognizedClientException', `'${sig.region}' is not a valid region.`);
      const handler = Object.prototype.hasOwnProperty.call(this.#ops, op) ? this.#ops[op] : undefined;
      if (!handler) throw new KmsError('UnknownOperationException', `Unknown operation '${target}'.`);
      // Management operations (and GenerateRandom) count against the caller's account; cryptographic
      // ones against the key's, once the key is known (#authorize).
      if (this.#o.quotas && !CRYPTO_OPERATIONS.has(op) && !this.#o.quotas.take(ctx.caller.account, ctx.region, op === 'GenerateRandom' ? 'symmetric' : op)) {
        throw throttled(op);
      }
      let parsed: unknown = {};
      if (body.length > 0) {
        try {
          parsed = JSON.parse(utf8.decode(body));
        } catch {
          throw new KmsError('SerializationException', 'The request body is not valid JSON.');
        }
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new KmsError('SerializationException', 'The request body must be a JSON object.');
      }
      this.#checkGrantTokens((parsed as Record<string, unknown>).GrantTokens);
      const result = await handler(ctx, new Input(parsed as Record<string, unknown>));
      await this.#audit(ctx, op, requestId, undefined);
      return { status: 200, headers: { 'content-type': JSON_TYPE, 'x-amzn-requestid': requestId }, body: JSON.stringify(result) };
    } catch (e) {
      const err =
        e instanceof KmsError
          ? e
          : (console.error('sealbox kms: internal error', e),
            storageError(e) ?? new KmsError('KMSInternalException', 'The request failed because of an internal error.', 500));
      try {
        await this.#audit(ctx, op, requestId, err);
      } catch (auditError) {
        console.error('sealbox kms: audit write failed', auditError);
      }
      return this.#error(requestId, err);
    }
  };

  #error(requestId: string, e: KmsError): RawResponse {
    return {
      status: e.status,
      headers: { 'content-type': JSON_TYPE, 'x-amzn-requestid': requestId, 'x-amzn-errortype': e.type },
      body: JSON.stringify({ __type: e.type, message: e.message }),
    };
  }

  async #audit(ctx: Ctx | undefined, op: string, requestId: string, err: KmsError | undefined): Promise<void> {
    const sink = this.#o.audit;
    if (!sink) return;
    const rec: Record<string, unknown> = {
      eventVersion: '1.0',
      eventTime: new Date(ctx?.now ?? this.#o.clock()).toISOString(),
      eventSource: 'kms.sealbox.local',
      eventName: op,
      requestId,
      awsRegion: ctx?.region ?? null,
      recipientAccountId: ctx?.caller.account ?? null,
      userIdentity: ctx ? { arn: ctx.caller.principal, accountId: ctx.caller.account, accessKeyId: ctx.caller.accessKeyId } : null,
      keyId: ctx?.audit.keyId ?? null,
    };
    if (ctx?.audit.encryptionContext && Object.keys(ctx.audit.encryptionContext).length > 0) rec.encryptionContext = ctx.audit.encryptionContext;
    if (ctx?.audit.params) rec.requestParameters = ctx.audit.params;
    rec.outcome = err ? 'failure' : 'success';
    if (err) {
      rec.errorCode = err.type;
      rec.errorMessage = err.message;
    }
    await sink.record(rec);
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────────

  arn(k: KeyRecord): string {
    return `arn:aws:kms:${k.region}:${k.account}:key/${k.keyId}`;
  }

  #policy(text: string): Policy {
    let p = this.#policyCache.get(text);
    if (!p) {
      p = parsePolicy(text);
      if (this.#policyCache.size > 1000) this.#policyCache.clear();
      this.#policyCache.set(text, p);
    }
    return p;
  }

  #authorize(
    ctx: Ctx,
    key: KeyRecord,
    action: string,
    conditionKeys: Record<string, string | string[] | boolean | undefined> = {},
    context?: Record<string, string>,
    newGrant?: { operations: string[]; constraints: GrantConstraints | undefined },
  ): void {
    if (this.#o.quotas && !ctx.quotaTaken && CRYPTO_OPERATIONS.has(ctx.op)) {
      ctx.quotaTaken = true;
      if (!this.#o.quotas.take(key.account, key.region, quotaClassOf(key.keySpec))) throw throttled(ctx.op);
    }
    const result = evaluatePolicy(this.#policy(key.policy), {
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
    if (result.decision === 'ImplicitDeny' && this.#grantAllows(ctx, key, action, context, newGrant)) return;
    if (result.decision !== 'Allow') {
      throw new KmsError(
        'AccessDeniedException',
        `User: ${ctx.caller.principal} is not authorized to perform: ${action} on resource: ${this.arn(key)} ` +
          (result.decision === 'Deny' ? 'with an explicit deny in a resource-based policy' : 'because no resource-based policy allows the ' + action + ' action'),
      );
    }
  }

  /** Resolves a key id, key ARN, alias name or alias ARN to a key record (after lifecycle upkeep). */
  async #resolve(ctx: Ctx, input: string, opts: { allowAlias: boolean; field?: string }): Promise<KeyRecord> {
    if (input.length < 1 || input.length > 2048) throw constraint(opts.field ?? 'KeyId', 'Member must have length between 1 and 2048');
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
      throw notFound(`Invalid arn '${input}'`);
    } else {
      keyId = input;
    }
    if (region !== ctx.region) throw notFound(`Key '${input}' (region ${region} is not the request's region ${ctx.region})`);
    let key = this.store.getKey(region, account, keyId);
    if (!key) throw notFound(`Key 'arn:aws:kms:${region}:${account}:key/${keyId}'`);
    key = await this.#upkeep(ctx, key);
    if (!key) throw notFound(`Key 'arn:aws:kms:${region}:${account}:key/${keyId}'`);
    ctx.audit.keyId = this.arn(key);
    return key;
  }

  /** Lifecycle work that is due by the clock: deletion after the window, automatic rotation, expired imports. */
  async #upkeep(ctx: Ctx, key: KeyRecord): Promise<KeyRecord | undefined> {
    const now = ctx.now;
    if (!isPrimary(key)) {
      // A replica rotates with its primary: bring the primary up to date (which copies its material here).
      const primary = this.store.getKey(key.primaryRegion!, key.account, key.keyId);
      if (primary) await this.#upkeep(ctx, primary);
      key = this.store.getKey(key.region, key.account, key.keyId) ?? key;
    }
    const due =
      (key.pendingDeletion && !key.pendingDeletion.waitingForReplicas && now >= key.pendingDeletion.deletionDate) ||
      (isPrimary(key) && key.rotation.enabled && key.enabled && !key.pendingDeletion && key.rotation.nextRotation !== undefined && now >= key.rotation.nextRotation) ||
      (key.validTo !== undefined && key.versions.length > 0 && now >= key.validTo);
    if (!due) return key;
    return this.store.exclusive(async () => {
      const current = this.store.getKey(key.region, key.account, key.keyId);
      if (!current) return undefined;
      if (current.pendingDeletion && !current.pendingDeletion.waitingForReplicas && now >= current.pendingDeletion.deletionDate) {
        await this.#deleteNow(current, now);
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
      if (next.validTo !== undefined && next.versions.length > 0 && now >= next.validTo) {
        next = { ...next, versions: [] };
      }
      if (next !== current) {
        await this.store.putKey(next);
        await this.#syncReplicas(next);
      }
      return next;
    });
  }

  /** The other regions' records of a multi-region key. */
  #siblings(k: KeyRecord): KeyRecord[] {
    if (!k.multiRegion) return [];
    return this.store.allKeys().filter((r) => r.keyId === k.keyId && r.account === k.account && r.region !== k.region);
  }

  /** Copies a multi-region primary's shared properties (material versions, rotation) to its replicas. Inside `exclusive`. */
  async #syncReplicas(primary: KeyRecord): Promise<void> {
    if (!primary.multiRegion || !isPrimary(primary)) return;
    for (const r of this.#siblings(primary)) {
      if (JSON.stringify(r.versions) === JSON.stringify(primary.versions) && JSON.stringify(r.rotation) === JSON.stringify(primary.rotation)) continue;
      await this.store.putKey({ ...r, versions: structuredClone(primary.versions), rotation: structuredClone(primary.rotation) });
    }
  }

  /** Lifecycle work due for every key (at start: rotations, deletions and expiries that fell due while the KMS was down). */
  async upkeepAll(): Promise<void> {
    const now = this.#o.clock();
    for (const key of this.store.allKeys()) {
      const ctx: Ctx = { requestId: 'startup', op: 'Upkeep', region: key.region, caller: { accessKeyId: '', account: key.account, principal: '' }, now, audit: {} };
      await this.#upkeep(ctx, key);
    }
  }

  async #deleteNow(key: KeyRecord, now: number): Promise<void> {
    await this.grants.removeKey(key.region, key.account, key.keyId);
    const aliases = this.store.aliases(key.region, key.account);
    const kept = new Map([...aliases].filter(([, a]) => a.target !== key.keyId));
    if (kept.size !== aliases.size) await this.store.putAliases(key.region, key.account, kept);
    await this.store.deleteKey(key.region, key.account, key.keyId);
    // The last replica of a primary waiting for its replicas' deletion: the primary's window starts now.
    if (key.multiRegion && !isPrimary(key)) {
      const primary = this.store.getKey(key.primaryRegion!, key.account, key.keyId);
      if (primary?.pendingDeletion?.waitingForReplicas && this.#siblings(primary).length === 0) {
        const windowDays = primary.pendingDeletion.windowDays;
        await this.store.putKey({ ...primary, pendingDeletion: { deletionDate: now + windowDays * DAY, windowDays } });
      }
    }
  }

  /** Throws the AWS error for a key that cannot be used for cryptography right now. */
  #requireEnabled(key: KeyRecord): void {
    const state = keyState(key);
    if (state === 'Enabled') return;
    if (state === 'Disabled') throw new KmsError('DisabledException', `${this.arn(key)} is disabled.`);
    throw invalidState(`${this.arn(key)} is ${state === 'PendingDeletion' ? 'pending deletion' : state === 'PendingReplicaDeletion' ? 'pending replica deletion' : 'pending import'}.`);
  }

  #requireNotPendingDeletion(key: KeyRecord): void {
    if (key.pendingDeletion) throw invalidState(`${this.arn(key)} is pending deletion.`);
  }

  #requireUsage(key: KeyRecord, usage: KeyUsage, op: string): void {
    if (key.keyUsage !== usage) {
      throw invalidKeyUsage(`${this.arn(key)} key usage is ${key.keyUsage} which is not valid for ${op}.`);
    }
  }

  #mutate(key: KeyRecord, fn: (k: KeyRecord) => KeyRecord | Promise<KeyRecord>): Promise<KeyRecord> {
    return this.store.exclusive(async () => {
      const current = this.store.getKey(key.region, key.account, key.keyId);
      if (!current) throw notFound(`Key '${this.arn(key)}'`);
      const next = await fn(structuredClone(current));
      await this.store.putKey(next);
      await this.#syncReplicas(next);
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
      const family = [k, ...this.#siblings(k)];
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
    if (k.origin === 'EXTERNAL') {
      md.ExpirationModel = k.expirationModel ?? 'KEY_MATERIAL_DOES_NOT_EXPIRE';
      if (k.validTo !== undefined && k.versions.length > 0) md.ValidTo = k.validTo / 1000;
    }
    if (k.keySpec === 'SYMMETRIC_DEFAULT' && k.versions.length > 0) md.CurrentKeyMaterialId = materialId(k, k.versions[k.versions.length - 1]!);
    return md;
  }

  #checkPolicyText(ctx: Ctx, text: string, bypass: boolean | undefined, arn: string): void {
    let policy: Policy;
    try {
      policy = parsePolicy(text);
    } catch (e) {
      if (e instanceof PolicyError) throw new KmsError('MalformedPolicyDocumentException', e.message);
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
        throw new KmsError(
          'MalformedPolicyDocumentException',
          'The new key policy will not allow you to update the key policy in the future (set BypassPolicyLockoutSafetyCheck to override).',
        );
      }
    }
  }

  #tags(input: Input): Array<{ TagKey: string; TagValue: string }> | undefined {
    return input.list('Tags', (t) => {
      const tag = t as { TagKey?: unknown; TagValue?: unknown };
      if (typeof tag?.TagKey !== 'string' || typeof tag.TagValue !== 'string') throw new KmsError('TagException', 'Each tag needs a TagKey and a TagValue string.');
      if (tag.TagKey.length < 1 || tag.TagKey.length > 128 || tag.TagValue.length > 256) {
        throw new KmsError('TagException', 'TagKey must be 1–128 characters and TagValue at most 256.');
      }
      if (tag.TagKey.startsWith('aws:')) throw new KmsError('TagException', 'Tag keys beginning with aws: are reserved.');
      return { TagKey: tag.TagKey, TagValue: tag.TagValue };
    });
  }

  // ── key management ──────────────────────────────────────────────────────────────────────────────

  async createKey(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const specName = input.str('KeySpec') ?? input.str('CustomerMasterKeySpec') ?? 'SYMMETRIC_DEFAULT';
    if (!isKeySpec(specName)) {
      if (['ECC_SECG_P256K1', 'ECC_NIST_P521', 'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87'].includes(specName)) {
        throw unsupportedOperation(`KeySpec ${specName} is not supported by the local KMS.`);
      }
      throw constraint('KeySpec', 'Member must satisfy enum value set');
    }
    const spec: KeySpec = specName;
    const info = SPECS[spec];
    const usage = (input.str('KeyUsage', { enum: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] }) ?? info.usages[0]!) as KeyUsage;
    if (!info.usages.includes(usage)) throw validation(`KeyUsage ${usage} is not compatible with KeySpec ${spec}.`);
    const origin = input.str('Origin') ?? 'AWS_KMS';
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') throw unsupportedOperation(`Origin ${origin} is not supported by the local KMS.`);
    if (origin === 'EXTERNAL' && spec !== 'SYMMETRIC_DEFAULT' && !spec.startsWith('HMAC')) {
      throw unsupportedOperation('The local KMS imports material only for SYMMETRIC_DEFAULT and HMAC keys.');
    }
    if (input.has('CustomKeyStoreId') || input.has('XksKeyId')) throw unsupportedOperation('Custom key stores are not supported by the local KMS.');
    const description = input.str('Description', { max: 8192 }) ?? '';
    const multiRegion = input.bool('MultiRegion') ?? false;
    const tags = this.#tags(input) ?? [];
    if (tags.length > 50) throw new KmsError('TagException', 'A key can have at most 50 tags.');
    const keyId = KeyStore.newKeyId(multiRegion);
    const arn = `arn:aws:kms:${ctx.region}:${ctx.caller.account}:key/${keyId}`;
    const policyText = input.str('Policy', { min: 1, max: 32768 });
    if (policyText !== undefined) this.#checkPolicyText(ctx, policyText, input.bool('BypassPolicyLockoutSafetyCheck'), arn);
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
      origin,
      enabled: true,
      policy: policyText ?? JSON.stringify(defaultKeyPolicy(ctx.caller.account), null, 2),
      tags: dedupeTags([], tags),
      rotation: { enabled: false, periodDays: 365 },
      versions,
    };
    if (multiRegion) rec.multiRegion = true;
    await this.store.exclusive(() => this.store.putKey(rec));
    ctx.audit.keyId = arn;
    ctx.audit.params = { keySpec: spec, keyUsage: usage, origin };
    return { KeyMetadata: this.metadata(rec) };
  }

  async describeKey(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
    this.#authorize(ctx, key, 'kms:DescribeKey');
    return { KeyMetadata: this.metadata(key) };
  }

  async listKeys(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const limit = input.int('Limit', { min: 1, max: 1000 }) ?? 100;
    const marker = input.str('Marker', { min: 1, max: 1024 });
    const live: KeyRecord[] = [];
    for (const k of this.store.listKeys(ctx.region, ctx.caller.account)) {
      const kept = await this.#upkeep(ctx, k);
      if (kept) live.push(kept);
    }
    live.sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
    const start = marker === undefined ? 0 : live.findIndex((k) => k.keyId > marker);
    const page = start < 0 ? [] : live.slice(start, start + limit);
    const truncated = start >= 0 && start + limit < live.length;
    const out: Record<string, unknown> = { Keys: page.map((k) => ({ KeyId: k.keyId, KeyArn: this.arn(k) })), Truncated: truncated };
    if (truncated) out.NextMarker = page[page.length - 1]!.keyId;
    return out;
  }

  async updateKeyDescription(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const description = input.str('Description', { required: true, max: 8192 });
    this.#authorize(ctx, key, 'kms:UpdateKeyDescription');
    this.#requireNotPendingDeletion(key);
    await this.#mutate(key, (k) => ({ ...k, description }));
    return {};
  }

  async setEnabled(ctx: Ctx, input: Input, enabled: boolean): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    this.#authorize(ctx, key, enabled ? 'kms:EnableKey' : 'kms:DisableKey');
    const state = keyState(key);
    if (state === 'PendingDeletion' || state === 'PendingImport') throw invalidState(`${this.arn(key)} is ${state}.`);
    if (key.enabled !== enabled) {
      await this.#mutate(key, (k) => {
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

  async scheduleKeyDeletion(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const days = input.int('PendingWindowInDays', { min: 7, max: 30 }) ?? 30;
    this.#authorize(ctx, key, 'kms:ScheduleKeyDeletion');
    this.#requireNotPendingDeletion(key);
    const deletionDate = ctx.now + days * DAY;
    // A multi-region primary with replicas waits for them (PendingReplicaDeletion), as at AWS.
    const waiting = key.multiRegion === true && isPrimary(key) && this.#siblings(key).length > 0;
    await this.#mutate(key, (k) => ({ ...k, pendingDeletion: waiting ? { deletionDate, windowDays: days, waitingForReplicas: true } : { deletionDate, windowDays: days } }));
    if (waiting) return { KeyId: this.arn(key), KeyState: 'PendingReplicaDeletion', PendingWindowInDays: days };
    return { KeyId: this.arn(key), DeletionDate: deletionDate / 1000, KeyState: 'PendingDeletion', PendingWindowInDays: days };
  }

  async cancelKeyDeletion(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    this.#authorize(ctx, key, 'kms:CancelKeyDeletion');
    if (!key.pendingDeletion) throw invalidState(`${this.arn(key)} is not pending deletion.`);
    await this.#mutate(key, (k) => {
      const { pendingDeletion: _gone, ...rest } = k;
      return { ...rest, enabled: false };
    });
    return { KeyId: this.arn(key) };
  }

  // ── aliases ─────────────────────────────────────────────────────────────────────────────────────

  #aliasName(input: Input): string {
    const name = input.str('AliasName', { required: true, min: 1, max: 256 });
    if (!ALIAS_RE.test(name)) throw constraint('AliasName', 'Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$');
    if (name.startsWith('alias/aws/')) throw new KmsError('NotAuthorizedException', 'Alias names beginning with alias/aws/ are reserved for AWS managed keys.');
    return name;
  }

  async createAlias(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const name = this.#aliasName(input);
    const key = await this.#resolve(ctx, input.str('TargetKeyId', { required: true }), { allowAlias: false, field: 'TargetKeyId' });
    if (key.account !== ctx.caller.account) throw notFound(`Key '${this.arn(key)}' in the caller's account`);
    this.#authorize(ctx, key, 'kms:CreateAlias');
    this.#requireNotPendingDeletion(key);
    ctx.audit.params = { aliasName: name };
    await this.store.exclusive(async () => {
      const map = new Map(this.store.aliases(ctx.region, ctx.caller.account));
      if (map.has(name)) throw new KmsError('AlreadyExistsException', `An alias with the name arn:aws:kms:${ctx.region}:${ctx.caller.account}:${name} already exists`);
      map.set(name, { target: key.keyId, createdAt: ctx.now, updatedAt: ctx.now });
      await this.store.putAliases(ctx.region, ctx.caller.account, map);
    });
    return {};
  }

  async updateAlias(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const name = this.#aliasName(input);
    const key = await this.#resolve(ctx, input.str('TargetKeyId', { required: true }), { allowAlias: false, field: 'TargetKeyId' });
    if (key.account !== ctx.caller.account) throw notFound(`Key '${this.arn(key)}' in the caller's account`);
    this.#authorize(ctx, key, 'kms:UpdateAlias');
    this.#requireNotPendingDeletion(key);
    ctx.audit.params = { aliasName: name };
    await this.store.exclusive(async () => {
      const map = new Map(this.store.aliases(ctx.region, ctx.caller.account));
      const existing = map.get(name);
      if (!existing) throw notFound(`Alias arn:aws:kms:${ctx.region}:${ctx.caller.account}:${name}`);
      const old = this.store.getKey(ctx.region, ctx.caller.account, existing.target);
      if (old && (old.keySpec !== key.keySpec || old.keyUsage !== key.keyUsage)) {
        throw validation('The new target key must have the same key spec and key usage as the current one.');
      }
      map.set(name, { ...existing, target: key.keyId, updatedAt: ctx.now });
      await this.store.putAliases(ctx.region, ctx.caller.account, map);
    });
    return {};
  }

  async deleteAlias(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const name = this.#aliasName(input);
    ctx.audit.params = { aliasName: name };
    await this.store.exclusive(async () => {
      const map = new Map(this.store.aliases(ctx.region, ctx.caller.account));
      const existing = map.get(name);
      if (!existing) throw notFound(`Alias arn:aws:kms:${ctx.region}:${ctx.caller.account}:${name}`);
      const key = this.store.getKey(ctx.region, ctx.caller.account, existing.target);
      if (key) {
        ctx.audit.keyId = this.arn(key);
        this.#authorize(ctx, key, 'kms:DeleteAlias');
      }
      map.delete(name);
      await this.store.putAliases(ctx.region, ctx.caller.account, map);
    });
    return {};
  }

  async listAliases(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const limit = input.int('Limit', { min: 1, max: 100 }) ?? 50;
    const marker = input.str('Marker', { min: 1, max: 1024 });
    const keyIdInput = input.str('KeyId', { min: 1, max: 2048 });
    let filter: string | undefined;
    if (keyIdInput !== undefined) {
      const key = await this.#resolve(ctx, keyIdInput, { allowAlias: false });
      filter = key.keyId;
    }
    const all: Array<[string, AliasRecord]> = [...this.store.aliases(ctx.region, ctx.caller.account)]
      .filter(([, a]) => (filter === undefined || a.target === filter) && this.store.getKey(ctx.region, ctx.caller.account, a.target) !== undefined)
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

  // ── rotation ────────────────────────────────────────────────────────────────────────────────────

  #requireRotatable(key: KeyRecord): void {
    if (key.keySpec !== 'SYMMETRIC_DEFAULT' || key.origin !== 'AWS_KMS') {
      throw unsupportedOperation(`${this.arn(key)} does not support rotation (only symmetric keys with AWS_KMS origin do).`);
    }
    if (!isPrimary(key)) {
      throw unsupportedOperation(`${this.arn(key)} is a multi-Region replica key; rotation is managed on its primary key in ${key.primaryRegion}.`);
    }
  }

  async setRotation(ctx: Ctx, input: Input, enabled: boolean): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const period = enabled ? (input.int('RotationPeriodInDays', { min: 90, max: 2560 }) ?? 365) : key.rotation.periodDays;
    this.#authorize(ctx, key, enabled ? 'kms:EnableKeyRotation' : 'kms:DisableKeyRotation');
    this.#requireEnabled(key);
    this.#requireRotatable(key);
    await this.#mutate(key, (k) => ({
      ...k,
      rotation: enabled
        ? { ...k.rotation, enabled: true, periodDays: period, nextRotation: nextRotationOnEnable(k, period, ctx.now) }
        : { enabled: false, periodDays: k.rotation.periodDays, ...(k.rotation.onDemandStartedAt !== undefined ? { onDemandStartedAt: k.rotation.onDemandStartedAt } : {}) },
    }));
    return {};
  }

  async getKeyRotationStatus(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    this.#authorize(ctx, key, 'kms:GetKeyRotationStatus');
    this.#requireNotPendingDeletion(key);
    if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw unsupportedOperation(`${this.arn(key)} is not a symmetric encryption key; it has no rotation status.`);
    const out: Record<string, unknown> = { KeyId: this.arn(key), KeyRotationEnabled: key.rotation.enabled };
    if (key.rotation.enabled) {
      out.RotationPeriodInDays = key.rotation.periodDays;
      if (key.rotation.nextRotation !== undefined) out.NextRotationDate = key.rotation.nextRotation / 1000;
    }
    if (key.rotation.onDemandStartedAt !== undefined) out.OnDemandRotationStartDate = key.rotation.onDemandStartedAt / 1000;
    return out;
  }

  async rotateKeyOnDemand(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    this.#authorize(ctx, key, 'kms:RotateKeyOnDemand');
    this.#requireEnabled(key);
    this.#requireRotatable(key);
    await this.#mutate(key, (k) => {
      if (k.versions.filter((v) => v.rotationType === 'ON_DEMAND').length >= ON_DEMAND_ROTATION_LIMIT) {
        throw new KmsError('LimitExceededException', `${this.arn(k)} has reached the limit of ${ON_DEMAND_ROTATION_LIMIT} on-demand rotations.`);
      }
      return {
        ...k,
        versions: [...k.versions, { version: k.versions.length + 1, material: randomBytes(32).toString('base64'), createdAt: ctx.now, rotationType: 'ON_DEMAND' }],
        rotation: { ...k.rotation, onDemandStartedAt: ctx.now },
      };
    });
    return { KeyId: this.arn(key) };
  }

  async listKeyRotations(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    this.#authorize(ctx, key, 'kms:ListKeyRotations');
    this.#requireRotatable(key);
    const limit = input.int('Limit', { min: 1, max: 1000 }) ?? 100;
    const rotations = key.versions.filter((v) => v.rotationType !== undefined);
    const marker = input.str('Marker');
    const start = marker === undefined ? 0 : Number(marker);
    if (!Number.isInteger(start) || start < 0) throw validation('Invalid Marker.');
    const page = rotations.slice(start, start + limit);
    const truncated = start + limit < rotations.length;
    const out: Record<string, unknown> = {
      Rotations: page.map((v) => ({ KeyId: this.arn(key), RotationDate: v.createdAt / 1000, RotationType: v.rotationType, KeyMaterialId: materialId(key, v) })),
      Truncated: truncated,
    };
    if (truncated) out.NextMarker = String(start + limit);
    return out;
  }

  // ── policies and tags ───────────────────────────────────────────────────────────────────────────

  #policyName(input: Input): string {
    const name = input.str('PolicyName', { min: 1, max: 128 }) ?? 'default';
    if (name !== 'default') throw notFound(`Policy ${name}`);
    return name;
  }

  async getKeyPolicy(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const name = this.#policyName(input);
    this.#authorize(ctx, key, 'kms:GetKeyPolicy');
    return { Policy: key.policy, PolicyName: name };
  }

  async putKeyPolicy(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    this.#policyName(input);
    const text = input.str('Policy', { required: true, min: 1, max: 32768 });
    this.#authorize(ctx, key, 'kms:PutKeyPolicy');
    this.#requireNotPendingDeletion(key);
    this.#checkPolicyText(ctx, text, input.bool('BypassPolicyLockoutSafetyCheck'), this.arn(key));
    await this.#mutate(key, (k) => ({ ...k, policy: text }));
    return {};
  }

  async listKeyPolicies(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    this.#authorize(ctx, key, 'kms:ListKeyPolicies');
    return { PolicyNames: ['default'], Truncated: false };
  }

  async tagResource(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const tags = this.#tags(input);
    if (!tags) throw constraint('Tags', 'Member must not be null');
    this.#authorize(ctx, key, 'kms:TagResource');
    this.#requireNotPendingDeletion(key);
    await this.#mutate(key, (k) => {
      const next = dedupeTags(k.tags, tags);
      if (next.length > 50) throw new KmsError('TagException', 'A key can have at most 50 tags.');
      return { ...k, tags: next };
    });
    return {};
  }

  async untagResource(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const keys = input.list('TagKeys', (x) => {
      if (typeof x !== 'string') throw new KmsError('TagException', 'TagKeys must be strings.');
      return x;
    });
    if (!keys) throw constraint('TagKeys', 'Member must not be null');
    this.#authorize(ctx, key, 'kms:UntagResource');
    this.#requireNotPendingDeletion(key);
    await this.#mutate(key, (k) => ({ ...k, tags: k.tags.filter((t) => !keys.includes(t.TagKey)) }));
    return {};
  }

  async listResourceTags(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const limit = input.int('Limit', { min: 1, max: 50 }) ?? 50;
    const marker = input.str('Marker');
    this.#authorize(ctx, key, 'kms:ListResourceTags');
    const start = marker === undefined ? 0 : Number(marker);
    if (!Number.isInteger(start) || start < 0) throw new KmsError('InvalidMarkerException', 'Invalid Marker.');
    const page = key.tags.slice(start, start + limit);
    const truncated = start + limit < key.tags.length;
    const out: Record<string, unknown> = { Tags: page, Truncated: truncated };
    if (truncated) out.NextMarker = String(start + limit);
    return out;
  }

  // ── cryptography ────────────────────────────────────────────────────────────────────────────────

  #context(ctx: Ctx, input: Input, name = 'EncryptionContext'): Record<string, string> | undefined {
    const c = input.map(name);
    if (c && Object.keys(c).length > 0) {
      if (jsonLengthMayExceed(c, 8192) && JSON.stringify(c).length > 8192) throw validation('The encryption context is too large.');
      ctx.audit.encryptionContext = ctx.audit.encryptionContext ? { ...ctx.audit.encryptionContext, ...c } : c;
    }
    return c;
  }

  #dryRun(input: Input): void {
    if (input.bool('DryRun')) throw new KmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.', 412);
  }

  #symEncrypt(key: KeyRecord, plaintext: Uint8Array, context: Record<string, string> | undefined): Uint8Array {
    const v = key.versions[key.versions.length - 1]!;
    return sealBlob(key.keyId, v.version, secretOf(v), plaintext, context);
  }

  async generateDataKey(ctx: Ctx, input: Input, withPlaintext: boolean): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
    const context = this.#context(ctx, input);
    const spec = input.str('KeySpec', { enum: ['AES_256', 'AES_128'] });
    const n = input.int('NumberOfBytes', { min: 1, max: 1024 });
    if ((spec === undefined) === (n === undefined)) throw validation('Please specify either number of bytes or key spec.');
    this.#authorize(ctx, key, withPlaintext ? 'kms:GenerateDataKey' : 'kms:GenerateDataKeyWithoutPlaintext', encryptionContextKeys(context), context);
    this.#requireEnabled(key);
    if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw invalidKeyUsage(`${this.arn(key)} is not a symmetric key; data keys need a SYMMETRIC_DEFAULT key.`);
    this.#dryRun(input);
    const plaintext = randomBytesFast(n ?? (spec === 'AES_128' ? 16 : 32));
    const blob = this.#symEncrypt(key, plaintext, context);
    const out: Record<string, unknown> = { CiphertextBlob: b64(blob), KeyId: this.arn(key) };
    if (withPlaintext) out.Plaintext = plaintext.toString('base64');
    return out;
  }

  async generateRandom(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const n = input.int('NumberOfBytes', { min: 1, max: 1024 });
    if (n === undefined) throw constraint('NumberOfBytes', 'Member must not be null');
    if (input.has('CustomKeyStoreId')) throw unsupportedOperation('Custom key stores are not supported by the local KMS.');
    ctx.audit.params = { numberOfBytes: n };
    return { Plaintext: randomBytesFast(n).toString('base64') };
  }

  async #encryptWith(ctx: Ctx, key: KeyRecord, plaintext: Uint8Array, context: Record<string, string> | undefined, algorithm: string): Promise<Uint8Array> {
    this.#requireUsage(key, 'ENCRYPT_DECRYPT', 'Encrypt');
    const algs = SPECS[key.keySpec].encryptionAlgorithms ?? [];
    if (!algs.includes(algorithm)) throw invalidKeyUsage(`${algorithm} is not a valid encryption algorithm for ${this.arn(key)}.`);
    if (key.keySpec === 'SYMMETRIC_DEFAULT') return this.#symEncrypt(key, plaintext, context);
    if (context && Object.keys(context).length > 0) throw validation('EncryptionContext is not supported with asymmetric keys.');
    const max = rsaMaxPlaintext(key.keySpec, algorithm);
    if (plaintext.length > max) throw validation(`Plaintext is too long for ${key.keySpec} with ${algorithm}: at most ${max} bytes.`);
    return rsaEncrypt(key.versions[key.versions.length - 1]!, algorithm, plaintext);
  }

  async encrypt(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
    const plaintext = input.blob('Plaintext', { required: true, min: 1, max: 4096 });
    const context = this.#context(ctx, input);
    const algorithm = input.str('EncryptionAlgorithm', { enum: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] }) ?? 'SYMMETRIC_DEFAULT';
    this.#authorize(ctx, key, 'kms:Encrypt', { ...encryptionContextKeys(context), 'kms:EncryptionAlgorithm': algorithm }, context);
    this.#requireEnabled(key);
    const blob = await this.#encryptWith(ctx, key, plaintext, context, algorithm);
    this.#dryRun(input);
    return { CiphertextBlob: b64(blob), KeyId: this.arn(key), EncryptionAlgorithm: algorithm };
  }

  /** Shared by Decrypt and ReEncrypt (source side). */
  async #decryptWith(
    ctx: Ctx,
    blob: Uint8Array,
    keyIdInput: string | undefined,
    context: Record<string, string> | undefined,
    algorithm: string,
    action: string,
    dryRun: Input | undefined,
  ): Promise<{ key: KeyRecord; plaintext: Uint8Array }> {
    let key: KeyRecord | undefined;
    if (keyIdInput !== undefined) key = await this.#resolve(ctx, keyIdInput, { allowAlias: true });
    if (key && key.keySpec !== 'SYMMETRIC_DEFAULT') {
      this.#authorize(ctx, key, action, { 'kms:EncryptionAlgorithm': algorithm });
      this.#requireEnabled(key);
      this.#requireUsage(key, 'ENCRYPT_DECRYPT', 'Decrypt');
      if (!(SPECS[key.keySpec].encryptionAlgorithms ?? []).includes(algorithm)) {
        throw invalidKeyUsage(`${algorithm} is not a valid encryption algorithm for ${this.arn(key)}.`);
      }
      if (context && Object.keys(context).length > 0) throw validation('EncryptionContext is not supported with asymmetric keys.');
      if (dryRun) this.#dryRun(dryRun);
      const pt = rsaDecrypt(key.versions[key.versions.length - 1]!, algorithm, blob);
      if (!pt) throw invalidCiphertext();
      return { key, plaintext: new Uint8Array(pt) };
    }
    if (algorithm !== 'SYMMETRIC_DEFAULT') {
      if (key) throw invalidKeyUsage(`${algorithm} is not a valid encryption algorithm for ${this.arn(key)}.`);
      throw validation('KeyId is required to decrypt with an asymmetric encryption algorithm.');
    }
    const parsed = parseBlob(blob);
    if (!parsed) throw invalidCiphertext();
    if (key) {
      if (parsed.keyId !== key.keyId) throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
    } else {
      // The caller's own key, else (as AWS, whose blobs carry the key ARN) the key of another account
      // in this region: key ids are unique, and the key policy and grants decide.
      key =
        this.store.getKey(ctx.region, ctx.caller.account, parsed.keyId) ??
        this.store.allKeys().find((k) => k.region === ctx.region && k.keyId === parsed.keyId);
      if (key) key = await this.#upkeep(ctx, key);
      if (!key) throw invalidCiphertext();
      ctx.audit.keyId = this.arn(key);
    }
    this.#authorize(ctx, key, action, { ...encryptionContextKeys(context), 'kms:EncryptionAlgorithm': algorithm }, context);
    this.#requireEnabled(key);
    if (dryRun) this.#dryRun(dryRun);
    const version = key.versions.find((v) => v.version === parsed.materialVersion);
    if (!version) throw invalidCiphertext();
    const pt = openBlob(parsed, secretOf(version), context);
    if (!pt) throw invalidCiphertext();
    return { key, plaintext: pt };
  }

  async decrypt(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const blob = input.blob('CiphertextBlob', { required: true, min: 1, max: 6144 });
    const context = this.#context(ctx, input);
    const algorithm = input.str('EncryptionAlgorithm', { enum: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] }) ?? 'SYMMETRIC_DEFAULT';
    if (input.has('Recipient')) throw unsupportedOperation('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.');
    const { key, plaintext } = await this.#decryptWith(ctx, blob, input.str('KeyId'), context, algorithm, 'kms:Decrypt', input);
    return { KeyId: this.arn(key), Plaintext: b64(plaintext), EncryptionAlgorithm: algorithm };
  }

  async reEncrypt(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const blob = input.blob('CiphertextBlob', { required: true, min: 1, max: 6144 });
    const srcContext = this.#context(ctx, input, 'SourceEncryptionContext');
    const dstContext = this.#context(ctx, input, 'DestinationEncryptionContext');
    const algs = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;
    const srcAlg = input.str('SourceEncryptionAlgorithm', { enum: algs }) ?? 'SYMMETRIC_DEFAULT';
    const dstAlg = input.str('DestinationEncryptionAlgorithm', { enum: algs }) ?? 'SYMMETRIC_DEFAULT';
    const dest = await this.#resolve(ctx, input.str('DestinationKeyId', { required: true }), { allowAlias: true, field: 'DestinationKeyId' });
    const { key: src, plaintext } = await this.#decryptWith(ctx, blob, input.str('SourceKeyId'), srcContext, srcAlg, 'kms:ReEncryptFrom', undefined);
    this.#authorize(ctx, dest, 'kms:ReEncryptTo', { ...encryptionContextKeys(dstContext), 'kms:EncryptionAlgorithm': dstAlg }, dstContext);
    this.#requireEnabled(dest);
    const out = await this.#encryptWith(ctx, dest, plaintext, dstContext, dstAlg);
    this.#dryRun(input);
    ctx.audit.keyId = this.arn(dest);
    ctx.audit.params = { sourceKeyId: this.arn(src), destinationKeyId: this.arn(dest) };
    return {
      CiphertextBlob: b64(out),
      SourceKeyId: this.arn(src),
      KeyId: this.arn(dest),
      SourceEncryptionAlgorithm: srcAlg,
      DestinationEncryptionAlgorithm: dstAlg,
    };
  }

  async getPublicKey(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
    this.#authorize(ctx, key, 'kms:GetPublicKey');
    this.#requireEnabled(key);
    if (!SPECS[key.keySpec].rsaBits && !SPECS[key.keySpec].curve) throw unsupportedOperation(`${this.arn(key)} is not an asymmetric key.`);
    return {
      KeyId: this.arn(key),
      PublicKey: publicKeyDer(key.versions[key.versions.length - 1]!).toString('base64'),
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      KeyUsage: key.keyUsage,
      ...algorithmsFor(key.keySpec, key.keyUsage),
    };
  }

  #signingInput(ctx: Ctx, key: KeyRecord, input: Input, action: string): { message: Uint8Array; messageType: string; algorithm: string } {
    const message = input.blob('Message', { required: true, min: 1, max: 4096 });
    const messageType = input.str('MessageType', { enum: ['RAW', 'DIGEST', 'EXTERNAL_MU'] }) ?? 'RAW';
    const algorithm = input.str('SigningAlgorithm', { required: true });
    this.#authorize(ctx, key, action, { 'kms:SigningAlgorithm': algorithm, 'kms:MessageType': messageType });
    this.#requireEnabled(key);
    this.#requireUsage(key, 'SIGN_VERIFY', action.slice(4));
    if (!(SPECS[key.keySpec].signingAlgorithms ?? []).includes(algorithm)) {
      throw invalidKeyUsage(`${algorithm} is not a valid signing algorithm for ${this.arn(key)}.`);
    }
    if (messageType === 'EXTERNAL_MU') throw validation('MessageType EXTERNAL_MU is only for ML-DSA keys.');
    return { message, messageType, algorithm };
  }

  async sign(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
    const { message, messageType, algorithm } = this.#signingInput(ctx, key, input, 'kms:Sign');
    this.#dryRun(input);
    let signature: Buffer;
    try {
      signature = signMessage(key.versions[key.versions.length - 1]!, algorithm, message, messageType);
    } catch (e) {
      if (e instanceof SignInputError) throw validation(e.message);
      throw e;
    }
    return { KeyId: this.arn(key), Signature: signature.toString('base64'), SigningAlgorithm: algorithm };
  }

  async verify(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
    const signature = input.blob('Signature', { required: true, min: 1, max: 6144 });
    const { message, messageType, algorithm } = this.#signingInput(ctx, key, input, 'kms:Verify');
    this.#dryRun(input);
    let ok: boolean;
    try {
      ok = verifyMessage(key.versions[key.versions.length - 1]!, algorithm, message, messageType, signature);
    } catch (e) {
      if (e instanceof SignInputError) throw validation(e.message);
      throw e;
    }
    if (!ok) throw new KmsError('KMSInvalidSignatureException', 'The signature verification failed.');
    return { KeyId: this.arn(key), SignatureValid: true, SigningAlgorithm: algorithm };
  }

  #macInput(ctx: Ctx, key: KeyRecord, input: Input, action: string): { message: Uint8Array; algorithm: string } {
    const message = input.blob('Message', { required: true, min: 1, max: 4096 });
    const algorithm = input.str('MacAlgorithm', { required: true, enum: ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] });
    this.#authorize(ctx, key, action, { 'kms:MacAlgorithm': algorithm });
    this.#requireEnabled(key);
    this.#requireUsage(key, 'GENERATE_VERIFY_MAC', action.slice(4));
    if (!(SPECS[key.keySpec].macAlgorithms ?? []).includes(algorithm)) throw invalidKeyUsage(`${algorithm} is not a valid MAC algorithm for ${this.arn(key)}.`);
    return { message, algorithm };
  }

  async generateMac(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
    const { message, algorithm } = this.#macInput(ctx, key, input, 'kms:GenerateMac');
    this.#dryRun(input);
    return { Mac: hmac(key.versions[key.versions.length - 1]!, algorithm, message).toString('base64'), MacAlgorithm: algorithm, KeyId: this.arn(key) };
  }

  async verifyMac(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: true });
    const mac = input.blob('Mac', { required: true, min: 1, max: 6144 });
    const { message, algorithm } = this.#macInput(ctx, key, input, 'kms:VerifyMac');
    this.#dryRun(input);
    const expected = hmac(key.versions[key.versions.length - 1]!, algorithm, message);
    if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) throw new KmsError('KMSInvalidMacException', 'The MAC verification failed.');
    return { KeyId: this.arn(key), MacValid: true, MacAlgorithm: algorithm };
  }

  // ── multi-region keys ───────────────────────────────────────────────────────────────────────────

  async replicateKey(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const replicaRegion = input.str('ReplicaRegion', { required: true, min: 1, max: 32 });
    if (!isValidRegion(replicaRegion)) throw constraint('ReplicaRegion', 'Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$');
    const description = input.str('Description', { max: 8192 });
    const tags = this.#tags(input) ?? [];
    this.#authorize(ctx, key, 'kms:ReplicateKey', { 'kms:ReplicaRegion': replicaRegion });
    if (!key.multiRegion) throw unsupportedOperation(`${this.arn(key)} is not a multi-Region key.`);
    if (!isPrimary(key)) throw unsupportedOperation(`${this.arn(key)} is a replica; replicate its primary key in ${key.primaryRegion}.`);
    if (key.origin !== 'AWS_KMS') throw unsupportedOperation('The local KMS replicates only multi-Region keys with AWS_KMS origin.');
    if (replicaRegion === key.region) throw validation(`The replica region must differ from the primary key's region ${key.region}.`);
    this.#requireNotPendingDeletion(key);
    const arn = `arn:aws:kms:${replicaRegion}:${key.account}:key/${key.keyId}`;
    const policyText = input.str('Policy', { min: 1, max: 32768 });
    if (policyText !== undefined) this.#checkPolicyText(ctx, policyText, input.bool('BypassPolicyLockoutSafetyCheck'), arn);
    this.#dryRun(input);
    const rec = await this.store.exclusive(async () => {
      if (this.store.getKey(replicaRegion, key.account, key.keyId)) throw new KmsError('AlreadyExistsException', `${arn} already exists.`);
      const primary = this.store.getKey(key.region, key.account, key.keyId);
      if (!primary) throw notFound(`Key '${this.arn(key)}'`);
      const r: KeyRecord = {
        keyId: key.keyId,
        region: replicaRegion,
        account: key.account,
        createdAt: ctx.now,
        description: description ?? primary.description,
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
      await this.store.putKey(r);
      return r;
    });
    ctx.audit.params = { replicaRegion, replicaKeyArn: arn };
    return { ReplicaKeyMetadata: this.metadata(rec), ReplicaPolicy: rec.policy, ReplicaTags: rec.tags };
  }

  async updatePrimaryRegion(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const region = input.str('PrimaryRegion', { required: true, min: 1, max: 32 });
    this.#authorize(ctx, key, 'kms:UpdatePrimaryRegion', { 'kms:PrimaryRegion': region });
    if (!key.multiRegion) throw unsupportedOperation(`${this.arn(key)} is not a multi-Region key.`);
    if (!isPrimary(key)) throw unsupportedOperation(`${this.arn(key)} is not the primary key; call UpdatePrimaryRegion in ${key.primaryRegion}.`);
    if (region === key.region) return {};
    await this.store.exclusive(async () => {
      const target = this.store.getKey(region, key.account, key.keyId);
      if (!target) throw notFound(`Replica key 'arn:aws:kms:${region}:${key.account}:key/${key.keyId}'`);
      for (const r of [this.store.getKey(key.region, key.account, key.keyId)!, ...this.#siblings(key)]) {
        const next: KeyRecord = { ...r, primaryRegion: region };
        if (r.region === region) delete next.primaryRegion;
        await this.store.putKey(next);
      }
    });
    ctx.audit.params = { primaryRegion: region };
    return {};
  }

  // ── grants ──────────────────────────────────────────────────────────────────────────────────────

  /** A live grant on `key` names the caller as grantee, includes the operation, and its constraints hold. */
  #grantAllows(
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

  #checkGrantTokens(tokens: unknown): void {
    if (tokens === undefined || tokens === null) return;
    if (!Array.isArray(tokens)) throw new KmsError('SerializationException', "Wrong type for 'GrantTokens' (expected list)");
    if (tokens.length > 10) throw constraint('GrantTokens', 'Member must have length less than or equal to 10');
    for (const t of tokens) {
      if (typeof t !== 'string' || t.length < 1 || t.length > 8192 || !GrantStore.openToken(this.store, t)) {
        throw new KmsError('InvalidGrantTokenException', 'The grant token is not valid.');
      }
    }
  }

  #principalInput(input: Input, name: string, required: boolean): string | undefined {
    const v = required ? input.str(name, { required: true, min: 1, max: 256 }) : input.str(name, { min: 1, max: 256 });
    if (v !== undefined && !/^[\w+=,.@:/-]+$/.test(v)) throw constraint(name, 'Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$');
    return v;
  }

  #constraints(input: Input): GrantConstraints | undefined {
    const raw = input.body.Constraints;
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new KmsError('SerializationException', "Wrong type for 'Constraints' (expected structure)");
    const inner = new Input(raw as Record<string, unknown>);
    const out: GrantConstraints = {};
    const subset = inner.map('EncryptionContextSubset');
    const equals = inner.map('EncryptionContextEquals');
    if (subset) out.EncryptionContextSubset = subset;
    if (equals) out.EncryptionContextEquals = equals;
    return subset || equals ? out : undefined;
  }

  #grantJson(g: GrantRecord, key: KeyRecord): Record<string, unknown> {
    const out: Record<string, unknown> = {
      KeyId: this.arn(key),
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

  async createGrant(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const grantee = this.#principalInput(input, 'GranteePrincipal', true)!;
    const retiring = this.#principalInput(input, 'RetiringPrincipal', false);
    const listed = input.list('Operations', (x) => {
      if (typeof x !== 'string' || !(GRANT_OPERATIONS as readonly string[]).includes(x)) {
        throw constraint('Operations', `Member must satisfy constraint: [Member must satisfy enum value set: [${GRANT_OPERATIONS.join(', ')}]]`);
      }
      return x;
    });
    if (!listed) throw constraint('Operations', 'Member must not be null');
    if (listed.length === 0) throw constraint('Operations', 'Member must have length greater than or equal to 1');
    const operations = [...new Set(listed)];
    const name = input.str('Name', { min: 1, max: 256 });
    if (name !== undefined && !/^[a-zA-Z0-9:/_-]+$/.test(name)) throw constraint('Name', 'Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$');
    const constraints = this.#constraints(input);
    if (constraints) {
      const bad = operations.filter((o) => NO_CONTEXT_OPERATIONS.has(o));
      if (bad.length > 0) throw validation(`Grant constraints are not supported with operations that take no encryption context (${bad.join(', ')}).`);
    }
    const allowed = grantOperationsFor(key);
    const invalid = operations.filter((o) => !allowed.has(o));
    if (invalid.length > 0) throw validation(`${invalid.join(', ')} ${invalid.length === 1 ? 'is' : 'are'} not valid for ${this.arn(key)} (${key.keySpec}, ${key.keyUsage}).`);
    const conditionKeys: Record<string, string | string[] | boolean | undefined> = {
      'kms:GranteePrincipal': grantee,
      'kms:RetiringPrincipal': retiring,
      'kms:GrantOperations': operations,
      'kms:GrantIsForAWSResource': false,
    };
    if (constraints) conditionKeys['kms:GrantConstraintType'] = Object.keys(constraints);
    this.#authorize(ctx, key, 'kms:CreateGrant', conditionKeys, undefined, { operations, constraints });
    this.#requireNotPendingDeletion(key);
    this.#dryRun(input);
    const grant = await this.store.exclusive(async () => {
      if (!this.store.getKey(key.region, key.account, key.keyId)) throw notFound(`Key '${this.arn(key)}'`);
      if (name !== undefined) {
        // AWS: the same grant again (same name and parameters) returns the existing grant.
        const same = this.grants
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
      if (this.grants.forKey(key.region, key.account, key.keyId).length >= 50_000) {
        throw new KmsError('LimitExceededException', `${this.arn(key)} has reached the limit of 50,000 grants.`);
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
      await this.grants.add(g);
      return g;
    });
    ctx.audit.params = { grantId: grant.grantId, granteePrincipal: grantee, operations };
    return { GrantId: grant.grantId, GrantToken: this.grants.token(this.store, grant) };
  }

  #page<T>(input: Input, all: T[], maxLimit: number, defaultLimit: number): { page: T[]; truncated: boolean; next?: string } {
    const limit = input.int('Limit', { min: 1, max: maxLimit }) ?? defaultLimit;
    const marker = input.str('Marker', { min: 1, max: 1024 });
    const start = marker === undefined ? 0 : Number(marker);
    if (!Number.isInteger(start) || start < 0 || start > all.length) throw new KmsError('InvalidMarkerException', 'The Marker is not valid.');
    const page = all.slice(start, start + limit);
    const truncated = start + limit < all.length;
    return truncated ? { page, truncated, next: String(start + limit) } : { page, truncated };
  }

  async listGrants(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const grantId = input.str('GrantId', { min: 1, max: 128 });
    const grantee = this.#principalInput(input, 'GranteePrincipal', false);
    this.#authorize(ctx, key, 'kms:ListGrants');
    if (grantId !== undefined && !GRANT_ID_RE.test(grantId)) throw new KmsError('InvalidGrantIdException', `Grant id ${grantId} is not valid.`);
    const all = this.grants
      .forKey(key.region, key.account, key.keyId)
      .filter((g) => (grantId === undefined || g.grantId === grantId) && (grantee === undefined || g.granteePrincipal === grantee));
    const { page, truncated, next } = this.#page(input, all, 100, 50);
    const out: Record<string, unknown> = { Grants: page.map((g) => this.#grantJson(g, key)), Truncated: truncated };
    if (next !== undefined) out.NextMarker = next;
    return out;
  }

  async listRetirableGrants(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const retiring = this.#principalInput(input, 'RetiringPrincipal', true)!;
    // AWS authorizes this with IAM policy only; the local KMS (no IAM) lets a caller list the
    // retirable grants of principals in its own account.
    const acct = GrantStore.principalAccount(retiring) ?? (/^\d{12}$/.test(retiring) ? retiring : undefined);
    if (acct !== ctx.caller.account) {
      throw new KmsError('AccessDeniedException', `User: ${ctx.caller.principal} is not authorized to perform: kms:ListRetirableGrants for ${retiring}`);
    }
    const all = this.grants.inRegion(ctx.region).filter((g) => g.retiringPrincipal === retiring);
    const live = all.filter((g) => this.store.getKey(g.region, g.account, g.keyId) !== undefined);
    const { page, truncated, next } = this.#page(input, live, 100, 50);
    const out: Record<string, unknown> = {
      Grants: page.map((g) => this.#grantJson(g, this.store.getKey(g.region, g.account, g.keyId)!)),
      Truncated: truncated,
    };
    if (next !== undefined) out.NextMarker = next;
    return out;
  }

  async retireGrant(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const token = input.str('GrantToken', { min: 1, max: 8192 });
    const keyIdInput = input.str('KeyId', { min: 1, max: 2048 });
    const grantIdInput = input.str('GrantId', { min: 1, max: 128 });
    let grant: GrantRecord | undefined;
    if (token !== undefined) {
      const body = GrantStore.openToken(this.store, token);
      if (!body || body.region !== ctx.region) throw new KmsError('InvalidGrantTokenException', 'The grant token is not valid.');
      grant = this.grants.find(body.region, body.account, body.grantId);
      if (!grant) throw notFound(`Grant ${body.grantId}`);
      if (grantIdInput !== undefined && grantIdInput !== grant.grantId) throw new KmsError('InvalidGrantIdException', 'The GrantId does not match the grant token.');
    } else {
      if (keyIdInput === undefined || grantIdInput === undefined) throw validation('Either GrantToken, or KeyId and GrantId, are required.');
      const key = await this.#resolve(ctx, keyIdInput, { allowAlias: false });
      if (!GRANT_ID_RE.test(grantIdInput)) throw new KmsError('InvalidGrantIdException', `Grant id ${grantIdInput} is not valid.`);
      grant = this.grants.find(key.region, key.account, grantIdInput);
      if (!grant || grant.keyId !== key.keyId) throw new KmsError('InvalidGrantIdException', `Grant id ${grantIdInput} is not valid for ${this.arn(key)}.`);
    }
    const key = this.store.getKey(grant.region, grant.account, grant.keyId);
    if (!key) throw notFound(`Key 'arn:aws:kms:${grant.region}:${grant.account}:key/${grant.keyId}'`);
    ctx.audit.keyId = this.arn(key);
    ctx.audit.params = { grantId: grant.grantId };
    // Who may retire: the retiring principal, the account that owns the key (where the grant lives),
    // or the grantee when the grant includes RetireGrant.
    const may =
      (grant.retiringPrincipal !== undefined && principalNames(grant.retiringPrincipal, ctx.caller)) ||
      ctx.caller.account === grant.account ||
      (grant.operations.includes('RetireGrant') && principalNames(grant.granteePrincipal, ctx.caller));
    if (!may) {
      throw new KmsError('AccessDeniedException', `User: ${ctx.caller.principal} is not authorized to perform: kms:RetireGrant on grant ${grant.grantId} of ${this.arn(key)}`);
    }
    this.#dryRun(input);
    const g = grant;
    await this.store.exclusive(() => this.grants.remove(g.region, g.account, g.grantId));
    return {};
  }

  async revokeGrant(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const grantId = input.str('GrantId', { required: true, min: 1, max: 128 });
    this.#authorize(ctx, key, 'kms:RevokeGrant');
    ctx.audit.params = { grantId };
    const grant = GRANT_ID_RE.test(grantId) ? this.grants.find(key.region, key.account, grantId) : undefined;
    if (!grant || grant.keyId !== key.keyId) throw new KmsError('InvalidGrantIdException', `Grant id ${grantId} is not valid for ${this.arn(key)}.`);
    this.#dryRun(input);
    await this.store.exclusive(() => this.grants.remove(key.region, key.account, grantId));
    return {};
  }

  // ── import ──────────────────────────────────────────────────────────────────────────────────────

  async getParametersForImport(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const algorithm = input.str('WrappingAlgorithm', {
      required: true,
      enum: ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'],
    });
    const spec = input.str('WrappingKeySpec', { required: true, enum: ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] });
    this.#authorize(ctx, key, 'kms:GetParametersForImport');
    if (key.origin !== 'EXTERNAL') throw unsupportedOperation(`${this.arn(key)} does not have EXTERNAL origin.`);
    this.#requireNotPendingDeletion(key);
    if (algorithm !== 'RSAES_OAEP_SHA_1' && algorithm !== 'RSAES_OAEP_SHA_256') {
      throw unsupportedOperation(`WrappingAlgorithm ${algorithm} is not supported by the local KMS (use RSAES_OAEP_SHA_256).`);
    }
    if (spec === 'SM2') throw unsupportedOperation('SM2 is not supported by the local KMS.');
    const bits = Number(spec.slice(4));
    const pair = await generateKeyPairAsync('rsa', {
      modulusLength: bits,
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    });
    const validTo = ctx.now + DAY;
    const token = this.store.seal(`sealbox-import-token/v1/${key.region}/${key.account}/${key.keyId}`, {
      keyId: key.keyId,
      algorithm,
      privateKey: (pair.privateKey as Buffer).toString('base64'),
      validTo,
    });
    return { KeyId: this.arn(key), ImportToken: token, PublicKey: (pair.publicKey as Buffer).toString('base64'), ParametersValidTo: validTo / 1000 };
  }

  async importKeyMaterial(ctx: Ctx, input: Input): Promise<Record<string, unknown>> {
    const key = await this.#resolve(ctx, input.str('KeyId', { required: true }), { allowAlias: false });
    const token = input.blob('ImportToken', { required: true, min: 1, max: 32768 });
    const encrypted = input.blob('EncryptedKeyMaterial', { required: true, min: 1, max: 6144 });
    const model = (input.str('ExpirationModel', { enum: ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'] }) ?? 'KEY_MATERIAL_EXPIRES') as KeyRecord['expirationModel'] & string;
    const validToSeconds = input.body.ValidTo;
    if (validToSeconds !== undefined && typeof validToSeconds !== 'number') throw validation('ValidTo must be a timestamp.');
    this.#authorize(ctx, key, 'kms:ImportKeyMaterial');
    if (key.origin !== 'EXTERNAL') throw unsupportedOperation(`${this.arn(key)} does not have EXTERNAL origin.`);
    this.#requireNotPendingDeletion(key);
    if (model === 'KEY_MATERIAL_EXPIRES' && validToSeconds === undefined) throw validation('ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.');
    if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && validToSeconds !== undefined) throw validation('ValidTo must be absent when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.');
    let params: { keyId: string; algorithm: string; privateKey: string; validTo: number };
    try {
      params = this.store.unseal(`sealbox-import-token/v1/${key.region}/${key.account}/${key.keyId}`, Buffer.from(token).toString('base64')) as typeof params;
    } catch {
      throw new KmsError('InvalidImportTokenException', 'The import token is invalid or belongs to another key.');
    }
    if (ctx.now > params.validTo) throw new KmsError('ExpiredImportTokenException', 'The import token has expired.');
    let material: Buffer;
    try {
      material = privateDecrypt(
        {
          key: createPrivateKey({ key: Buffer.from(params.privateKey, 'base64'), format: 'der', type: 'pkcs8' }),
          padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: params.algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256',
        },
        encrypted,
      );
    } catch {
      throw invalidCiphertext('The encrypted key material could not be decrypted with the import wrapping key.');
    }
    const want = SPECS[key.keySpec].bytes!;
    if (material.length !== want) throw new KmsError('IncorrectKeyMaterialException', `The key material must be ${want} bytes for ${key.keySpec}.`);
    await this.#mutate(key, (k) => {
      const current = k.versions[0];
      if (current && !timingSafeEqual(Buffer.from(current.material, 'base64'), material)) {
        throw new KmsError('IncorrectKeyMaterialException', 'The key material does not match the material previously imported into this key.');
      }
      const next: KeyRecord = { ...k, versions: [{ version: 1, material: material.toString('base64'), createdAt: ctx.now }], expirationModel: model };
      if (model === 'KEY_MATERIAL_EXPIRES') next.validTo = (validToSeconds as number) * 1000;
      else delete next.validTo;
      return next;
    });
    return {};
  }
}

function throttled(op: string): KmsError {
  return new KmsError('ThrottlingException', `Rate exceeded for ${op}: the request quota of this account and region is used up; retry with backoff.`);
}

/** Whether a key is a single-region key or the primary of a multi-region key. */
function isPrimary(k: KeyRecord): boolean {
  return k.primaryRegion === undefined || k.primaryRegion === k.region;
}

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
  }
  return new Set(ops);
}

/** Whether constraints `child` are at least as strict as `parent` (a grant creating a grant). */
function atLeastAsStrict(child: GrantConstraints | undefined, parent: GrantConstraints | undefined): boolean {
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

function nextRotationAfter(now: number, last: number, periodDays: number): number {
  let next = last + periodDays * DAY;
  while (next <= now) next += periodDays * DAY;
  return next;
}

function materialId(key: KeyRecord, v: KeyVersion): string {
  return createHash('sha256').update(`${key.keyId}/${v.version}`).digest('hex');
}

function dedupeTags(
  existing: Array<{ TagKey: string; TagValue: string }>,
  added: Array<{ TagKey: string; TagValue: string }>,
): Array<{ TagKey: string; TagValue: string }> {
  const map = new Map(existing.map((t) => [t.TagKey, t.TagValue]));
  for (const t of added) map.set(t.TagKey, t.TagValue);
  return [...map].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}
