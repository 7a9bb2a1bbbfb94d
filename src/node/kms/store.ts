/**
 * The local KMS's durable store: one directory, crash-safe, key material encrypted at rest.
 *
 *   <dataDir>/store.json                       format marker + root-key check (written last at init)
 *   <dataDir>/root.key                         base64 root key, mode 0600 (unless SEALBOX_ROOT_KEY)
 *   <dataDir>/credentials.json                 generated development credentials, mode 0600
 *   <dataDir>/keys/<region>/<account>/<id>.key one key (metadata + every material version), sealed
 *   <dataDir>/aliases/<region>/<account>.json  that account's aliases in that region (not secret)
 *   <dataDir>/audit.log                        hash-chained audit trail (see audit-file.ts)
 *
 * A `.key` file is JSON `{ "format": "sealbox-kms-key", "v": 1, "iv": b64, "data": b64 }` where
 * data = AES-256-GCM(root key, iv, JSON of the key record) with AAD
 * "sealbox-kms-key/v1/<region>/<account>/<id>", so a file moved or renamed does not load either.
 *
 * Every change is written as temp file → fsync → rename → fsync(directory) before it is
 * acknowledged, so a crash at any instant leaves either the old or the new file. Leftover temp files
 * are removed at load. Anything that does not decrypt or parse fails the load with the file's path;
 * the store is never re-initialised over existing data.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { fsyncDir, writeFileAtomic } from '../fs.js';
import { dirname, join } from 'node:path';

export type KeySpec =
  | 'SYMMETRIC_DEFAULT'
  | 'RSA_2048'
  | 'RSA_3072'
  | 'RSA_4096'
  | 'ECC_NIST_P256'
  | 'ECC_NIST_P384'
  | 'ECC_NIST_P521'
  | 'ECC_SECG_P256K1'
  | 'HMAC_224'
  | 'HMAC_256'
  | 'HMAC_384'
  | 'HMAC_512';
export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY' | 'GENERATE_VERIFY_MAC' | 'KEY_AGREEMENT';
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport' | 'PendingReplicaDeletion';

export interface KeyVersion {
  /** 1 for the first material, +1 per rotation. */
  version: number;
  /** Secret bytes (symmetric, HMAC) or PKCS#8 DER private key, base64. */
  material: string;
  /** SPKI DER public key, base64 (asymmetric keys). */
  publicKey?: string;
  createdAt: number;
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
  /**
   * Imported material (EXTERNAL): SHA-256 of the material, so that a re-import can be checked to be
   * the same material after the material itself was deleted or expired. (Inside the sealed record.)
   */
  fingerprint?: string;
  /** Imported material deleted (DeleteImportedKeyMaterial) or expired: `material` is empty until it is re-imported. */
  deleted?: true;
  /** KeyMaterialDescription given at import. */
  description?: string;
}

/** New imported material waiting for RotateKeyOnDemand (AWS: key material state PENDING_ROTATION). */
export interface PendingMaterial {
  material: string;
  fingerprint: string;
  importedAt: number;
  description?: string;
  expirationModel: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  validTo?: number;
}

export interface KeyRecord {
  keyId: string;
  region: string;
  account: string;
  createdAt: number;
  description: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  origin: 'AWS_KMS' | 'EXTERNAL';
  enabled: boolean;
  /**
   * Scheduled deletion. `waitingForReplicas`: a multi-region primary whose replicas still exist
   * (AWS's PendingReplicaDeletion); its window starts when the last replica is deleted.
   */
  pendingDeletion?: { deletionDate: number; windowDays: number; waitingForReplicas?: boolean };
  /** Key policy JSON text. */
  policy: string;
  tags: Array<{ TagKey: string; TagValue: string }>;
  rotation: { enabled: boolean; periodDays: number; nextRotation?: number; onDemandStartedAt?: number };
  versions: KeyVersion[];
  /** Imported material expiry (EXTERNAL). */
  validTo?: number;
  expirationModel?: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  /** Imported material waiting for on-demand rotation (EXTERNAL symmetric keys). */
  pendingMaterial?: PendingMaterial;
  /** Multi-region key (id starts with `mrk-`): the same key id and material in several regions. */
  multiRegion?: boolean;
  /** Multi-region key: the region of its primary (absent: this record's region). Shared by every replica. */
  primaryRegion?: string;
}

export interface AliasRecord {
  target: string;
  createdAt: number;
  updatedAt: number;
}

export interface StoredCredential {
  accessKeyId: string;
  secretAccessKey: string;
  /** Account the caller belongs to (default: the KMS's default account). */
  account?: string;
  /** Principal ARN used for key policies (default `arn:aws:iam::<account>:user/sealbox-dev`). */
  principalArn?: string;
  /** May set the `x-sealbox-via-service` header (`kms:ViaService`); see principals.ts. */
  trustedForViaService?: boolean;
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

export function keyState(k: KeyRecord): KeyState {
  if (k.pendingDeletion) return k.pendingDeletion.waitingForReplicas ? 'PendingReplicaDeletion' : 'PendingDeletion';
  if (!hasMaterial(k)) return 'PendingImport';
  return k.enabled ? 'Enabled' : 'Disabled';
}

/** Whether every material version of the key is present (an imported one may be deleted or expired). */
export function hasMaterial(k: KeyRecord): boolean {
  return k.versions.length > 0 && !k.versions.some((v) => v.deleted);
}

const STORE_FORMAT = 'sealbox-kms-store';
const STORE_VERSION = 1;
const REGION_RE = /^[a-z]{2}(-[a-z0-9]+){1,4}$/;
const ACCOUNT_RE = /^\d{12}$/;
const KEY_ID_RE = /^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export const isValidRegion = (r: string) => REGION_RE.test(r) && r.length <= 32;
export const isValidAccount = (a: string) => ACCOUNT_RE.test(a);
export const isValidKeyId = (id: string) => KEY_ID_RE.test(id);

/**
 * Loads the `<root>/<region>/<account>.json` files of a store part (grants, aliases): removes
 * temp files a crash left, refuses anything else, and hands each file's JSON to `load`. A file that
 * does not parse or load stops the start with a StoreError naming it.
 */
export async function loadAccountFiles(root: string, what: string, load: (region: string, account: string, json: unknown) => void): Promise<void> {
  for (const region of await readdir(root)) {
    if (!isValidRegion(region)) throw new StoreError(`unexpected entry ${join(root, region)} in the ${what} store`);
    for (const name of await readdir(join(root, region))) {
      const path = join(root, region, name);
      if (name.includes('.tmp-')) {
        await rm(path, { force: true });
        continue;
      }
      const account = name.replace(/\.json$/, '');
      if (!name.endsWith('.json') || !isValidAccount(account)) throw new StoreError(`unexpected file ${path} in the ${what} store`);
      try {
        load(region, account, JSON.parse(await readFile(path, 'utf8')));
      } catch (e) {
        throw new StoreError(`${what} file ${path} is corrupt (${(e as Error).message}); refusing to start.`);
      }
    }
  }
}

function sealJson(rootKey: Uint8Array, aad: string, value: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', rootKey, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(JSON.stringify(value)), cipher.final(), cipher.getAuthTag()]);
  return `${JSON.stringify({ format: 'sealbox-kms-key', v: 1, iv: iv.toString('base64'), data: ct.toString('base64') })}\n`;
}

function openJson(rootKey: Uint8Array, aad: string, text: string): unknown {
  const outer = JSON.parse(text) as { format?: unknown; v?: unknown; iv?: unknown; data?: unknown };
  if (outer.format !== 'sealbox-kms-key' || outer.v !== 1 || typeof outer.iv !== 'string' || typeof outer.data !== 'string') {
    throw new Error('not a sealbox key file');
  }
  const iv = Buffer.from(outer.iv, 'base64');
  const data = Buffer.from(outer.data, 'base64');
  if (data.length < 16) throw new Error('truncated');
  const decipher = createDecipheriv('aes-256-gcm', rootKey, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(data.subarray(data.length - 16));
  const pt = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
  return JSON.parse(pt.toString('utf8'));
}

function rootKeyCheck(rootKey: Uint8Array): string {
  return createHmac('sha256', rootKey).update('sealbox-kms root key check v1').digest('hex');
}

/** Parses a base64 root key; throws StoreError unless it is 32 bytes. */
export function parseRootKey(text: string, where: string): Uint8Array {
  const t = text.trim();
  const bytes = Buffer.from(t, 'base64');
  if (bytes.length !== 32 || !/^[A-Za-z0-9+/=_-]+$/.test(t)) throw new StoreError(`${where} must be 32 bytes, base64-encoded`);
  return new Uint8Array(bytes);
}

export interface OpenStoreOptions {
  dataDir: string;
  /** 32 bytes, or base64 of 32 bytes. Default: env SEALBOX_ROOT_KEY, else `<dataDir>/root.key`. */
  rootKey?: Uint8Array | string;
  env?: Record<string, string | undefined>;
  defaultAccount: string;
  log?: (message: string) => void;
}

const KNOWN_TOP = new Set(['store.json', 'root.key', 'credentials.json', 'keys', 'aliases', 'grants', 'principals.json', 'audit.log']);

export class KeyStore {
  readonly dataDir: string;
  readonly rootKey: Uint8Array;
  readonly credentials: StoredCredential[] = [];
  /** Where the credentials came from: 'env', 'options' or 'generated'. */
  credentialsSource: 'options' | 'env' | 'file' = 'file';
  rootKeySource: 'options' | 'env' | 'file' = 'file';
  readonly #keys = new Map<string, KeyRecord>();
  readonly #aliases = new Map<string, Map<string, AliasRecord>>();
  readonly #dirsSynced = new Set<string>();
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dataDir: string, rootKey: Uint8Array) {
    this.dataDir = dataDir;
    this.rootKey = rootKey;
  }

  static async open(options: OpenStoreOptions): Promise<KeyStore> {
    const env = options.env ?? process.env;
    const log = options.log ?? ((m: string) => console.warn(m));
    const dir = options.dataDir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const entries = await readdir(dir);
    for (const name of entries) {
      if (name.includes('.tmp-')) await rm(join(dir, name), { force: true });
    }
    const present = new Set((await readdir(dir)).filter((n) => !n.includes('.tmp-')));
    const storePath = join(dir, 'store.json');
    const fresh = !present.has('store.json');
    if (fresh) {
      // What an interrupted first start can leave behind is fine; anything else is someone else's.
      const foreign: string[] = [];
      for (const n of present) {
        if (['root.key', 'credentials.json', 'principals.json', 'audit.log'].includes(n)) continue;
        if ((n === 'keys' || n === 'aliases') && (await readdir(join(dir, n)).catch(() => ['?'])).length === 0) continue;
        foreign.push(n);
      }
      if (foreign.length > 0) {
        throw new StoreError(
          `${dir} is not a Sealbox KMS data directory (no store.json, but it holds ${foreign.slice(0, 3).join(', ')}); ` +
            'refusing to initialise over it. Point --data at an empty or new directory.',
        );
      }
    } else {
      const unknown = [...present].filter((n) => !KNOWN_TOP.has(n));
      if (unknown.length > 0) log(`sealbox kms: ignoring unknown files in ${dir}: ${unknown.join(', ')}`);
    }

    // Root key.
    let rootKey: Uint8Array;
    let rootKeySource: KeyStore['rootKeySource'];
    const rootFile = join(dir, 'root.key');
    if (options.rootKey !== undefined) {
      rootKey = typeof options.rootKey === 'string' ? parseRootKey(options.rootKey, 'rootKey') : options.rootKey;
      if (rootKey.length !== 32) throw new StoreError('rootKey must be 32 bytes');
      rootKeySource = 'options';
    } else if (env.SEALBOX_ROOT_KEY) {
      rootKey = parseRootKey(env.SEALBOX_ROOT_KEY, 'SEALBOX_ROOT_KEY');
      rootKeySource = 'env';
    } else if (present.has('root.key')) {
      rootKey = parseRootKey(await readFile(rootFile, 'utf8'), rootFile);
      rootKeySource = 'file';
    } else if (fresh) {
      rootKey = new Uint8Array(randomBytes(32));
      await writeFileAtomic(rootFile, `${Buffer.from(rootKey).toString('base64')}\n`, 0o600);
      rootKeySource = 'file';
      log(
        `sealbox kms: WARNING created ${rootFile} (mode 0600). It encrypts every key in this store and sits next to it: ` +
          'for development only. Set SEALBOX_ROOT_KEY (base64, 32 bytes) to keep it elsewhere.',
      );
    } else {
      throw new StoreError(
        `${dir} holds a Sealbox KMS store but no root.key, and SEALBOX_ROOT_KEY is not set: cannot decrypt the keys.`,
      );
    }

    const store = new KeyStore(dir, rootKey);
    store.rootKeySource = rootKeySource;

    if (fresh) {
      // store.json last: until it exists, the directory counts as uninitialised.
      await store.#loadCredentials(options, env, present.has('credentials.json'));
      await mkdir(join(dir, 'keys'), { recursive: true, mode: 0o700 });
      await mkdir(join(dir, 'aliases'), { recursive: true, mode: 0o700 });
      await fsyncDir(dir);
      await writeFileAtomic(
        storePath,
        `${JSON.stringify({ format: STORE_FORMAT, version: STORE_VERSION, createdAt: new Date().toISOString(), rootKeyCheck: rootKeyCheck(rootKey) }, null, 2)}\n`,
        0o600,
      );
      return store;
    }

    let meta: { format?: unknown; version?: unknown; rootKeyCheck?: unknown };
    try {
      meta = JSON.parse(await readFile(storePath, 'utf8')) as typeof meta;
    } catch (e) {
      throw new StoreError(`${storePath} is corrupt (${(e as Error).message}); refusing to start. Restore it from a backup.`);
    }
    if (meta === null || typeof meta !== 'object' || meta.format !== STORE_FORMAT) {
      throw new StoreError(`${storePath} is not a Sealbox KMS store marker; refusing to start.`);
    }
    if (meta.version !== STORE_VERSION) throw new StoreError(`${storePath}: unsupported store version ${String(meta.version)}`);
    const check = Buffer.from(rootKeyCheck(rootKey), 'hex');
    const stored = typeof meta.rootKeyCheck === 'string' ? Buffer.from(meta.rootKeyCheck, 'hex') : Buffer.alloc(0);
    if (stored.length !== check.length || !timingSafeEqual(stored, check)) {
      throw new StoreError(
        `${dir} was created with a different root key (from ${rootKeySource === 'file' ? 'root.key' : rootKeySource === 'env' ? 'SEALBOX_ROOT_KEY' : 'the rootKey option'}); refusing to start.`,
      );
    }
    await store.#loadCredentials(options, env, present.has('credentials.json'));
    await store.#loadKeys();
    await store.#loadAliases();
    return store;
  }

  async #loadCredentials(options: OpenStoreOptions, env: Record<string, string | undefined>, haveFile: boolean): Promise<void> {
    const file = join(this.dataDir, 'credentials.json');
    if (env.SEALBOX_KMS_ACCESS_KEY_ID && env.SEALBOX_KMS_SECRET_ACCESS_KEY) {
      this.credentials.push({ accessKeyId: env.SEALBOX_KMS_ACCESS_KEY_ID, secretAccessKey: env.SEALBOX_KMS_SECRET_ACCESS_KEY });
      this.credentialsSource = 'env';
      return;
    }
    if (haveFile) {
      try {
        const parsed = JSON.parse(await readFile(file, 'utf8')) as { credentials?: StoredCredential[] };
        if (!Array.isArray(parsed.credentials) || parsed.credentials.length === 0) throw new Error('no credentials');
        for (const c of parsed.credentials) {
          if (typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string') throw new Error('bad entry');
          this.credentials.push(c);
        }
      } catch (e) {
        throw new StoreError(`${file} is corrupt (${(e as Error).message}); refusing to start.`);
      }
      this.credentialsSource = 'file';
      return;
    }
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const id = `AKIASBX${Array.from(randomBytes(13), (b) => alphabet[b % 32]).join('')}`;
    const cred = { accessKeyId: id, secretAccessKey: randomBytes(30).toString('base64'), account: options.defaultAccount };
    await writeFileAtomic(file, `${JSON.stringify({ note: 'Sealbox local KMS development credentials', credentials: [cred] }, null, 2)}\n`, 0o600);
    this.credentials.push(cred);
    this.credentialsSource = 'file';
  }

  #keyPath(region: string, account: string, keyId: string): string {
    return join(this.dataDir, 'keys', region, account, `${keyId}.key`);
  }

  #aad(region: string, account: string, keyId: string): string {
    return `sealbox-kms-key/v1/${region}/${account}/${keyId}`;
  }

  async #loadKeys(): Promise<void> {
    const root = join(this.dataDir, 'keys');
    if (!existsSync(root)) throw new StoreError(`${root} is missing; the store is incomplete. Refusing to start.`);
    for (const region of await readdir(root)) {
      if (!isValidRegion(region)) throw new StoreError(`unexpected entry ${join(root, region)} in the key store`);
      for (const account of await readdir(join(root, region))) {
        if (!isValidAccount(account)) throw new StoreError(`unexpected entry ${join(root, region, account)} in the key store`);
        const dir = join(root, region, account);
        for (const name of await readdir(dir)) {
          const path = join(dir, name);
          if (name.includes('.tmp-')) {
            await rm(path, { force: true });
            continue;
          }
          const keyId = name.replace(/\.key$/, '');
          if (!name.endsWith('.key') || !isValidKeyId(keyId)) throw new StoreError(`unexpected file ${path} in the key store`);
          let rec: KeyRecord;
          try {
            rec = openJson(this.rootKey, this.#aad(region, account, keyId), await readFile(path, 'utf8')) as KeyRecord;
          } catch (e) {
            throw new StoreError(`key file ${path} is corrupt or was not written by this store (${(e as Error).message}); refusing to start.`);
          }
          if (rec.keyId !== keyId || rec.region !== region || rec.account !== account || !Array.isArray(rec.versions)) {
            throw new StoreError(`key file ${path} does not describe key ${keyId}; refusing to start.`);
          }
          this.#keys.set(`${region}/${account}/${keyId}`, rec);
        }
      }
    }
  }

  async #loadAliases(): Promise<void> {
    const root = join(this.dataDir, 'aliases');
    if (!existsSync(root)) throw new StoreError(`${root} is missing; the store is incomplete. Refusing to start.`);
    await loadAccountFiles(root, 'alias', (region, account, json) => {
      const parsed = json as { format?: unknown; aliases?: Record<string, AliasRecord> };
      if (parsed.format !== 'sealbox-kms-aliases' || typeof parsed.aliases !== 'object' || parsed.aliases === null) throw new Error('bad format');
      const map = new Map<string, AliasRecord>();
      for (const [alias, rec] of Object.entries(parsed.aliases)) {
        if (typeof rec?.target !== 'string') throw new Error(`bad alias ${alias}`);
        map.set(alias, rec);
      }
      this.#aliases.set(`${region}/${account}`, map);
    });
  }

  async #ensureDir(dir: string): Promise<void> {
    if (this.#dirsSynced.has(dir)) return;
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) {
      // fsync every directory from the first one created up to its parent, so the new entries last.
      let d = dir;
      const chain: string[] = [];
      while (d.length >= created.length) {
        chain.push(dirname(d));
        d = dirname(d);
      }
      for (const p of chain) await fsyncDir(p);
    }
    this.#dirsSynced.add(dir);
  }

  /** Runs `fn` alone: mutations are serialised, so read-modify-write never loses an update. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  getKey(region: string, account: string, keyId: string): KeyRecord | undefined {
    return this.#keys.get(`${region}/${account}/${keyId}`);
  }

  allKeys(): KeyRecord[] {
    return [...this.#keys.values()];
  }

  listKeys(region: string, account: string): KeyRecord[] {
    const prefix = `${region}/${account}/`;
    const out: KeyRecord[] = [];
    for (const [k, v] of this.#keys) if (k.startsWith(prefix)) out.push(v);
    return out;
  }

  /** Persists `rec` (durably), then makes it visible. Call inside `exclusive`. */
  async putKey(rec: KeyRecord): Promise<void> {
    const path = this.#keyPath(rec.region, rec.account, rec.keyId);
    await this.#ensureDir(dirname(path));
    await writeFileAtomic(path, sealJson(this.rootKey, this.#aad(rec.region, rec.account, rec.keyId), rec));
    this.#keys.set(`${rec.region}/${rec.account}/${rec.keyId}`, rec);
  }

  async deleteKey(region: string, account: string, keyId: string): Promise<void> {
    const path = this.#keyPath(region, account, keyId);
    try {
      await unlink(path);
      await fsyncDir(dirname(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.#keys.delete(`${region}/${account}/${keyId}`);
  }

  aliases(region: string, account: string): ReadonlyMap<string, AliasRecord> {
    return this.#aliases.get(`${region}/${account}`) ?? new Map();
  }

  /** Replaces the alias table of one account in one region (durably). Call inside `exclusive`. */
  async putAliases(region: string, account: string, map: Map<string, AliasRecord>): Promise<void> {
    const path = join(this.dataDir, 'aliases', region, `${account}.json`);
    await this.#ensureDir(dirname(path));
    const obj: Record<string, AliasRecord> = {};
    for (const [k, v] of [...map].sort((a, b) => (a[0] < b[0] ? -1 : 1))) obj[k] = v;
    await writeFileAtomic(path, `${JSON.stringify({ format: 'sealbox-kms-aliases', v: 1, aliases: obj }, null, 1)}\n`, 0o600);
    this.#aliases.set(`${region}/${account}`, map);
  }

  /** Seals arbitrary data under the root key (import tokens). */
  seal(aad: string, value: unknown): string {
    return Buffer.from(sealJson(this.rootKey, aad, value)).toString('base64');
  }

  unseal(aad: string, token: string): unknown {
    return openJson(this.rootKey, aad, Buffer.from(token, 'base64').toString('utf8'));
  }

  static newKeyId(multiRegion = false): string {
    return multiRegion ? `mrk-${randomBytes(16).toString('hex')}` : randomUUID();
  }
}
