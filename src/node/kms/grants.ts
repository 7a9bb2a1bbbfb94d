/**
 * Grants of the local KMS: records, their durable store, and the check whether a grant lets a
 * principal do an operation under an encryption context.
 *
 *   <dataDir>/grants/<region>/<account>.json   the grants on that account's keys in that region
 *
 * Written like the alias files (temp file, fsync, rename, fsync dir) before a call is acknowledged.
 * Grant tokens are not stored: a token is the grant's identity sealed under the root key
 * (AES-256-GCM), so a token that does not open is an `InvalidGrantTokenException`, and one whose
 * grant is gone grants nothing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../fs.js';
import { loadAccountFiles, type KeyStore } from './store.js';

export const GRANT_OPERATIONS = [
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GetPublicKey',
  'CreateGrant',
  'RetireGrant',
  'DescribeKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
] as const;

/** Operations an encryption-context constraint cannot govern (AWS rejects such grants). */
export const NO_CONTEXT_OPERATIONS = new Set(['Sign', 'Verify', 'GetPublicKey', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret']);
/** Operations a constraint does not apply to (AWS: DescribeKey and RetireGrant are allowed regardless). */
const CONSTRAINT_EXEMPT = new Set(['DescribeKey', 'RetireGrant', 'CreateGrant']);

export interface GrantConstraints {
  EncryptionContextSubset?: Record<string, string>;
  EncryptionContextEquals?: Record<string, string>;
}

export interface GrantRecord {
  grantId: string;
  keyId: string;
  region: string;
  /** The key's account (grants live with the key). */
  account: string;
  name?: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  /** `arn:aws:iam::<account>:root` of the caller that created the grant. */
  issuingAccount: string;
  operations: string[];
  constraints?: GrantConstraints;
  createdAt: number;
}

export const GRANT_ID_RE = /^[0-9a-f]{64}$/;

export function newGrantId(): string {
  return randomBytes(32).toString('hex');
}

function principalAccount(arn: string): string | undefined {
  return /^arn:[a-z-]+:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1];
}

/** Does the grant's grantee (or retiring) principal name this caller? An account root names every principal of that account. */
export function principalNames(grantPrincipal: string, caller: { principal: string; account: string }): boolean {
  if (grantPrincipal === caller.principal) return true;
  if (/^\d{12}$/.test(grantPrincipal)) return grantPrincipal === caller.account;
  const root = /^arn:[a-z-]+:iam::(\d{12}):root$/.exec(grantPrincipal);
  if (root) return root[1] === caller.account;
  // An assumed-role session of a granted role.
  const role = /^arn:([a-z-]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(grantPrincipal);
  const session = /^arn:([a-z-]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(caller.principal);
  return !!(role && session && role[1] === session[1] && role[2] === session[2] && role[3] === session[3]);
}

/** Whether `context` satisfies the grant's constraints for `operation`. */
export function constraintsAllow(g: GrantRecord, operation: string, context: Record<string, string> | undefined): boolean {
  const c = g.constraints;
  if (!c || CONSTRAINT_EXEMPT.has(operation)) return true;
  const ctx = context ?? {};
  if (c.EncryptionContextEquals) {
    const want = c.EncryptionContextEquals;
    const a = Object.keys(want);
    const b = Object.keys(ctx);
    if (a.length !== b.length) return false;
    for (const k of a) if (!Object.prototype.hasOwnProperty.call(ctx, k) || ctx[k] !== want[k]) return false;
  }
  if (c.EncryptionContextSubset) {
    for (const [k, v] of Object.entries(c.EncryptionContextSubset)) if (!Object.prototype.hasOwnProperty.call(ctx, k) || ctx[k] !== v) return false;
  }
  return true;
}

export function grantTokenAad(): string {
  return 'sealbox-kms-grant-token/v1';
}

export interface GrantTokenBody {
  grantId: string;
  region: string;
  account: string;
  keyId: string;
}

/** The durable grant store; mutations run inside `store.exclusive`. */
export class GrantStore {
  readonly #dataDir: string;
  readonly #byAccount = new Map<string, GrantRecord[]>();

  private constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  static async open(dataDir: string): Promise<GrantStore> {
    const gs = new GrantStore(dataDir);
    const root = join(dataDir, 'grants');
    if (!existsSync(root)) return gs;
    await loadAccountFiles(root, 'grant', (region, account, json) => {
      const parsed = json as { format?: unknown; grants?: unknown };
      if (parsed.format !== 'sealbox-kms-grants' || !Array.isArray(parsed.grants)) throw new Error('bad format');
      for (const g of parsed.grants as GrantRecord[]) {
        if (typeof g?.grantId !== 'string' || !GRANT_ID_RE.test(g.grantId) || typeof g.keyId !== 'string' || !Array.isArray(g.operations)) {
          throw new Error('bad grant');
        }
        if (g.region !== region || g.account !== account) throw new Error(`grant ${g.grantId} belongs elsewhere`);
      }
      gs.#byAccount.set(`${region}/${account}`, parsed.grants as GrantRecord[]);
    });
    return gs;
  }

  /** Grants on one key. */
  forKey(region: string, account: string, keyId: string): GrantRecord[] {
    return (this.#byAccount.get(`${region}/${account}`) ?? []).filter((g) => g.keyId === keyId);
  }

  /** Every grant in a region (ListRetirableGrants). */
  inRegion(region: string): GrantRecord[] {
    const out: GrantRecord[] = [];
    for (const [k, list] of this.#byAccount) if (k.startsWith(`${region}/`)) out.push(...list);
    return out;
  }

  find(region: string, account: string, grantId: string): GrantRecord | undefined {
    return (this.#byAccount.get(`${region}/${account}`) ?? []).find((g) => g.grantId === grantId);
  }

  async #write(region: string, account: string, list: GrantRecord[]): Promise<void> {
    const path = join(this.#dataDir, 'grants', region, `${account}.json`);
    const created = await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    if (created !== undefined) {
      await fsyncDir(dirname(dirname(path)));
      await fsyncDir(this.#dataDir);
    }
    await writeFileAtomic(path, `${JSON.stringify({ format: 'sealbox-kms-grants', v: 1, grants: list }, null, 1)}\n`, 0o600);
    this.#byAccount.set(`${region}/${account}`, list);
  }

  /** Adds a grant durably. Call inside `store.exclusive`. */
  add(g: GrantRecord): Promise<void> {
    const list = [...(this.#byAccount.get(`${g.region}/${g.account}`) ?? []), g];
    return this.#write(g.region, g.account, list);
  }

  /** Removes a grant durably; false if it was not there. Call inside `store.exclusive`. */
  async remove(region: string, account: string, grantId: string): Promise<boolean> {
    const list = this.#byAccount.get(`${region}/${account}`) ?? [];
    const next = list.filter((g) => g.grantId !== grantId);
    if (next.length === list.length) return false;
    await this.#write(region, account, next);
    return true;
  }

  /** Drops every grant on a deleted key. Call inside `store.exclusive`. */
  async removeKey(region: string, account: string, keyId: string): Promise<void> {
    const list = this.#byAccount.get(`${region}/${account}`) ?? [];
    const next = list.filter((g) => g.keyId !== keyId);
    if (next.length !== list.length) await this.#write(region, account, next);
  }

  token(store: KeyStore, g: GrantRecord): string {
    const body: GrantTokenBody = { grantId: g.grantId, region: g.region, account: g.account, keyId: g.keyId };
    return store.seal(grantTokenAad(), body);
  }

  /** Opens a grant token; undefined when it is not one of ours. */
  static openToken(store: KeyStore, token: string): GrantTokenBody | undefined {
    try {
      const b = store.unseal(grantTokenAad(), token) as GrantTokenBody;
      if (typeof b?.grantId !== 'string' || typeof b.region !== 'string' || typeof b.account !== 'string' || typeof b.keyId !== 'string') return undefined;
      return b;
    } catch {
      return undefined;
    }
  }

  static principalAccount = principalAccount;
}
