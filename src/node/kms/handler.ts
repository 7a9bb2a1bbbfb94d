/**
 * The KMS JSON 1.1 API of the local KMS: one `fetch` handler. Authenticates (SigV4, `auth.ts`),
 * dispatches to the operation (`operations/<family>.ts`, which authorize against the key policy and
 * grants through `core.ts`), and writes the audit record (`audit.ts`) of every request, failed or not.
 *
 * Every lookup is scoped by (region, account): the region comes from the request's SigV4 credential
 * scope, the account from the caller's credential (or from a key ARN for cross-account use), so
 * several regions and accounts can live in one store.
 */
import { randomUUID } from 'node:crypto';
import type { SigV4Request } from '../../edge/aws/sigv4.js';
import { auditRecord } from './audit.js';
import { KmsAuthenticator } from './auth.js';
import { KmsCore, throttled, type Ctx, type HandlerOptions, type Op } from './core.js';
import { AwsError, awsErrorParts } from '../../edge/aws/errors.js';
import { JSON_CONTENT_TYPE, kmsOperation } from '../../edge/aws/json-protocol.js';
import { Input } from './input.js';
import type { GrantStore } from './grants.js';
import { CRYPTO_OPERATIONS } from './quotas.js';
import { isValidRegion, type KeyStore } from './store.js';
import * as aliasesOps from './operations/aliases.js';
import * as cryptoOps from './operations/crypto.js';
import * as grantsOps from './operations/grants.js';
import * as importOps from './operations/import.js';
import * as keysOps from './operations/keys.js';
import * as multiRegionOps from './operations/multi-region.js';
import * as policyTagsOps from './operations/policy-tags.js';
import * as rotationOps from './operations/rotation.js';

export type { AuditSink, Caller, HandlerOptions } from './core.js';

const MAX_BODY = 1024 * 1024;
const utf8 = new TextDecoder();

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const STORAGE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'I/O error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

/** A failed write to the key store or the audit file (disk full, read-only, I/O error) as a clear KMS error. */
function storageError(e: unknown): AwsError | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !Object.prototype.hasOwnProperty.call(STORAGE_ERRORS, code)) return undefined;
  return new AwsError(
    'KMSInternalException',
    `The KMS could not write to its key store or audit trail (${code}: ${STORAGE_ERRORS[code]}); the request was not acknowledged. Free space or fix the disk, then retry.`,
    500,
  );
}

export class KmsHandler {
  readonly store: KeyStore;
  readonly grants: GrantStore;
  readonly #o: HandlerOptions;
  readonly #core: KmsCore;
  readonly #auth: KmsAuthenticator;
  readonly #ops: Record<string, Op>;

  constructor(options: HandlerOptions) {
    this.#o = options;
    this.store = options.store;
    this.grants = options.grants;
    const core = (this.#core = new KmsCore(options));
    this.#auth = new KmsAuthenticator(options.store.credentials, options);
    this.#ops = {
      CreateKey: (c, i) => keysOps.createKey(core, c, i),
      DescribeKey: (c, i) => keysOps.describeKey(core, c, i),
      ListKeys: (c, i) => keysOps.listKeys(core, c, i),
      UpdateKeyDescription: (c, i) => keysOps.updateKeyDescription(core, c, i),
      CreateAlias: (c, i) => aliasesOps.createAlias(core, c, i),
      UpdateAlias: (c, i) => aliasesOps.updateAlias(core, c, i),
      DeleteAlias: (c, i) => aliasesOps.deleteAlias(core, c, i),
      ListAliases: (c, i) => aliasesOps.listAliases(core, c, i),
      EnableKey: (c, i) => keysOps.setEnabled(core, c, i, true),
      DisableKey: (c, i) => keysOps.setEnabled(core, c, i, false),
      ScheduleKeyDeletion: (c, i) => keysOps.scheduleKeyDeletion(core, c, i),
      CancelKeyDeletion: (c, i) => keysOps.cancelKeyDeletion(core, c, i),
      EnableKeyRotation: (c, i) => rotationOps.setRotation(core, c, i, true),
      DisableKeyRotation: (c, i) => rotationOps.setRotation(core, c, i, false),
      GetKeyRotationStatus: (c, i) => rotationOps.getKeyRotationStatus(core, c, i),
      RotateKeyOnDemand: (c, i) => rotationOps.rotateKeyOnDemand(core, c, i),
      ListKeyRotations: (c, i) => rotationOps.listKeyRotations(core, c, i),
      GetKeyPolicy: (c, i) => policyTagsOps.getKeyPolicy(core, c, i),
      PutKeyPolicy: (c, i) => policyTagsOps.putKeyPolicy(core, c, i),
      ListKeyPolicies: (c, i) => policyTagsOps.listKeyPolicies(core, c, i),
      GenerateDataKey: (c, i) => cryptoOps.generateDataKey(core, c, i, true),
      GenerateDataKeyWithoutPlaintext: (c, i) => cryptoOps.generateDataKey(core, c, i, false),
      GenerateDataKeyPair: (c, i) => cryptoOps.generateDataKeyPair(core, c, i, true),
      GenerateDataKeyPairWithoutPlaintext: (c, i) => cryptoOps.generateDataKeyPair(core, c, i, false),
      DeriveSharedSecret: (c, i) => cryptoOps.deriveSharedSecret(core, c, i),
      GenerateRandom: (c, i) => cryptoOps.generateRandom(core, c, i),
      Encrypt: (c, i) => cryptoOps.encrypt(core, c, i),
      Decrypt: (c, i) => cryptoOps.decrypt(core, c, i),
      ReEncrypt: (c, i) => cryptoOps.reEncrypt(core, c, i),
      GetPublicKey: (c, i) => cryptoOps.getPublicKey(core, c, i),
      Sign: (c, i) => cryptoOps.sign(core, c, i),
      Verify: (c, i) => cryptoOps.verify(core, c, i),
      GenerateMac: (c, i) => cryptoOps.generateMac(core, c, i),
      VerifyMac: (c, i) => cryptoOps.verifyMac(core, c, i),
      TagResource: (c, i) => policyTagsOps.tagResource(core, c, i),
      UntagResource: (c, i) => policyTagsOps.untagResource(core, c, i),
      ListResourceTags: (c, i) => policyTagsOps.listResourceTags(core, c, i),
      GetParametersForImport: (c, i) => importOps.getParametersForImport(core, c, i),
      ImportKeyMaterial: (c, i) => importOps.importKeyMaterial(core, c, i),
      DeleteImportedKeyMaterial: (c, i) => importOps.deleteImportedKeyMaterial(core, c, i),
      CreateGrant: (c, i) => grantsOps.createGrant(core, c, i),
      ListGrants: (c, i) => grantsOps.listGrants(core, c, i),
      ListRetirableGrants: (c, i) => grantsOps.listRetirableGrants(core, c, i),
      RetireGrant: (c, i) => grantsOps.retireGrant(core, c, i),
      RevokeGrant: (c, i) => grantsOps.revokeGrant(core, c, i),
      ReplicateKey: (c, i) => multiRegionOps.replicateKey(core, c, i),
      UpdatePrimaryRegion: (c, i) => multiRegionOps.updatePrimaryRegion(core, c, i),
    };

  }

  get operations(): string[] {
    return Object.keys(this.#ops);
  }

  /** Lifecycle work due for every key (at start: rotations, deletions and expiries that fell due while the KMS was down). */
  upkeepAll(): Promise<void> {
    return this.#core.upkeepAll();
  }

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
        return awsErrorParts(requestId, new AwsError('UnknownOperationException', 'KMS accepts only POST requests.', 404));
      }
      const target = request.headers.get('x-amz-target') ?? '';
      op = kmsOperation(target);
      if (body.length > MAX_BODY) throw new AwsError('ValidationException', 'Request body is too large.', 413);
      const { caller, region } = await this.#auth.authenticate(request, body);
      ctx = { requestId, op, region, caller, now: this.#o.clock(), audit: {} };
      if (!isValidRegion(region)) throw new AwsError('UnrecognizedClientException', `'${region}' is not a valid region.`);
      const handler = Object.prototype.hasOwnProperty.call(this.#ops, op) ? this.#ops[op] : undefined;
      if (!handler) throw new AwsError('UnknownOperationException', `Unknown operation '${target}'.`);
      // Management operations (and GenerateRandom) count against the caller's account; cryptographic
      // ones against the key's, once the key is known (KmsCore.authorize).
      if (this.#o.quotas && !CRYPTO_OPERATIONS.has(op) && !this.#o.quotas.take(ctx.caller.account, ctx.region, op === 'GenerateRandom' ? 'symmetric' : op)) {
        throw throttled(op);
      }
      let parsed: unknown = {};
      if (body.length > 0) {
        try {
          parsed = JSON.parse(utf8.decode(body));
        } catch {
          throw new AwsError('SerializationException', 'The request body is not valid JSON.');
        }
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new AwsError('SerializationException', 'The request body must be a JSON object.');
      }
      this.#core.checkGrantTokens((parsed as Record<string, unknown>).GrantTokens);
      const result = await handler(ctx, new Input(parsed as Record<string, unknown>));
      await this.#audit(ctx, op, requestId, undefined);
      return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-requestid': requestId }, body: JSON.stringify(result) };
    } catch (e) {
      const err =
        e instanceof AwsError
          ? e
          : (console.error('sealbox kms: internal error', e),
            storageError(e) ?? new AwsError('KMSInternalException', 'The request failed because of an internal error.', 500));
      try {
        await this.#audit(ctx, op, requestId, err);
      } catch (auditError) {
        console.error('sealbox kms: audit write failed', auditError);
      }
      return awsErrorParts(requestId, err);
    }
  };

  async #audit(ctx: Ctx | undefined, op: string, requestId: string, err: AwsError | undefined): Promise<void> {
    const sink = this.#o.audit;
    if (!sink) return;
    await sink.record(auditRecord(ctx, op, requestId, err, this.#o.clock));
  }
}
