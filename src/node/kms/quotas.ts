/**
 * Request quotas of the local KMS, as AWS sets them: token buckets per account, per region and per
 * class of operation. Off unless configured (`quotas: true` for AWS's defaults, or an object to set
 * any rate); beyond a rate the KMS answers `ThrottlingException` (HTTP 400), so clients, retries and
 * the proxy can be tested against real throttling.
 *
 * Classes (AWS "Request quotas", requests per second):
 * - `symmetric`: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext), GenerateDataKeyPair*,
 *   GenerateRandom with symmetric keys: one shared bucket (AWS: 5,500; 10,000 to 100,000 in some regions).
 * - `rsa`: the same and Sign/Verify with RSA keys, shared (AWS: 500).
 * - `ecc`: Sign/Verify with ECC keys, shared (AWS: 300).
 * - `hmac`: GenerateMac/VerifyMac, shared (AWS: 2,000).
 * - management: one bucket per API (CreateKey 50, DescribeKey 2,000, CreateGrant 50, …, 5 for the rest).
 *
 * Cryptographic requests count against the account and region that own the key (so cross-account
 * use spends the owner's quota, as at AWS); management requests against the caller's.
 * Each bucket holds one second of its rate and refills continuously.
 */

export type QuotaClass = 'symmetric' | 'rsa' | 'ecc' | 'hmac';

export interface QuotaConfig {
  symmetric?: number;
  rsa?: number;
  ecc?: number;
  hmac?: number;
  /** Per-API rates of management operations (merged over AWS's defaults). */
  management?: Record<string, number>;
  /** Rate of management operations not in the table (default 5). */
  managementDefault?: number;
  /** Milliseconds (default `performance.now`); tests pin it. */
  clock?: () => number;
}

export const AWS_CRYPTO_QUOTAS: Record<QuotaClass, number> = { symmetric: 5500, rsa: 500, ecc: 300, hmac: 2000 };

export const AWS_MANAGEMENT_QUOTAS: Record<string, number> = {
  CancelKeyDeletion: 5,
  CreateAlias: 5,
  CreateGrant: 50,
  CreateKey: 50,
  DeleteAlias: 5,
  DescribeKey: 2000,
  DisableKey: 5,
  DisableKeyRotation: 5,
  EnableKey: 5,
  EnableKeyRotation: 5,
  GetKeyPolicy: 1000,
  GetKeyRotationStatus: 1000,
  GetParametersForImport: 5,
  GetPublicKey: 2000,
  ImportKeyMaterial: 5,
  ListAliases: 100,
  ListGrants: 100,
  ListKeyPolicies: 100,
  ListKeyRotations: 100,
  ListKeys: 100,
  ListResourceTags: 2000,
  ListRetirableGrants: 100,
  PutKeyPolicy: 15,
  ReplicateKey: 5,
  RetireGrant: 30,
  RevokeGrant: 30,
  RotateKeyOnDemand: 5,
  ScheduleKeyDeletion: 5,
  TagResource: 10,
  UntagResource: 10,
  UpdateAlias: 5,
  UpdateKeyDescription: 5,
  UpdatePrimaryRegion: 5,
};

/** Operations whose quota class depends on the key (taken when the key is known). */
export const CRYPTO_OPERATIONS = new Set([
  'Encrypt',
  'Decrypt',
  'ReEncrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'Sign',
  'Verify',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
]);

export function quotaClassOf(keySpec: string): QuotaClass {
  if (keySpec.startsWith('RSA_')) return 'rsa';
  if (keySpec.startsWith('ECC_')) return 'ecc';
  if (keySpec.startsWith('HMAC_')) return 'hmac';
  return 'symmetric';
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RequestQuotas {
  readonly #crypto: Record<QuotaClass, number>;
  readonly #management: Record<string, number>;
  readonly #managementDefault: number;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(config: QuotaConfig | true) {
    const c = config === true ? {} : config;
    for (const [k, v] of Object.entries({ ...c, ...(c.management ?? {}) })) {
      if (k === 'clock' || k === 'management') continue;
      if (typeof v !== 'number' || !(v > 0)) throw new Error(`quota ${k} must be a positive number of requests per second`);
    }
    this.#crypto = {
      symmetric: c.symmetric ?? AWS_CRYPTO_QUOTAS.symmetric,
      rsa: c.rsa ?? AWS_CRYPTO_QUOTAS.rsa,
      ecc: c.ecc ?? AWS_CRYPTO_QUOTAS.ecc,
      hmac: c.hmac ?? AWS_CRYPTO_QUOTAS.hmac,
    };
    this.#management = { ...AWS_MANAGEMENT_QUOTAS, ...(c.management ?? {}) };
    this.#managementDefault = c.managementDefault ?? 5;
    this.#clock = c.clock ?? (() => performance.now());
  }

  /** Rate (requests per second) of a cryptographic class or a management operation. */
  rate(what: QuotaClass | string): number {
    if (Object.prototype.hasOwnProperty.call(this.#crypto, what)) return this.#crypto[what as QuotaClass];
    return Object.prototype.hasOwnProperty.call(this.#management, what) ? this.#management[what]! : this.#managementDefault;
  }

  /** Takes one request from the bucket; false when the rate is exceeded. */
  take(account: string, region: string, what: QuotaClass | string): boolean {
    const rate = this.rate(what);
    const now = this.#clock();
    const id = `${account}/${region}/${what}`;
    let b = this.#buckets.get(id);
    if (!b) {
      b = { tokens: rate, at: now };
      this.#buckets.set(id, b);
    } else {
      b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
