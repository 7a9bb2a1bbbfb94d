/**
 * Seed files: keys, aliases and policies created at start, idempotently.
 *
 * ```json
 * {
 *   "keys": [
 *     {
 *       "id": "1234abcd-12ab-34cd-56ef-1234567890ab",   // optional; else derived from the first alias
 *       "region": "us-east-1",                          // optional; default: the KMS's region
 *       "account": "111122223333",                      // optional; default: the KMS's account
 *       "keySpec": "SYMMETRIC_DEFAULT",                 // any CreateKey KeySpec; default SYMMETRIC_DEFAULT
 *       "keyUsage": "ENCRYPT_DECRYPT",                  // optional; default from the spec
 *       "description": "app data keys",
 *       "aliases": ["alias/app"],
 *       "enabled": true,
 *       "material": ["<base64 v1>", "<base64 v2>"],     // symmetric/HMAC: one entry per version, the
 *                                                       //   last is current (simulates past rotations)
 *       "versions": 3,                                  // or: generate this many versions
 *       "privateKey": "-----BEGIN PRIVATE KEY-----…",   // asymmetric: PKCS#8 PEM or base64 DER
 *       "policy": { "Version": "2012-10-17", "Statement": [] },   // object or JSON string
 *       "tags": { "team": "storage" },
 *       "rotation": { "enabled": true, "periodDays": 365 }
 *     }
 *   ]
 * }
 * ```
 *
 * Idempotent: a key that already exists (same id, region, account) keeps its material; its
 * description, policy, enabled flag, tags and rotation are set to the seed's, and its aliases are
 * created or pointed at it. Material given for an existing key must match what is stored (first
 * versions), else the seed fails, so a seed never silently replaces a key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { defaultKeyPolicy, parsePolicy } from '../../edge/policy/index.js';
import { SPECS, generateMaterial, isKeySpec, normaliseMaterial } from './keyspec.js';
import { KeyStore, isValidAccount, isValidKeyId, isValidRegion, type KeyRecord, type KeyUsage, type KeyVersion } from './store.js';

export interface SeedKey {
  id?: string;
  region?: string;
  account?: string;
  keySpec?: string;
  keyUsage?: string;
  description?: string;
  aliases?: string[];
  enabled?: boolean;
  material?: string[];
  versions?: number;
  privateKey?: string;
  policy?: unknown;
  tags?: Record<string, string>;
  rotation?: { enabled?: boolean; periodDays?: number };
}

export interface SeedFile {
  keys?: SeedKey[];
  /** Credentials mapped to principals, as in `<dataDir>/principals.json` (see principals.ts). */
  principals?: unknown[];
}

export class SeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

const DAY = 86_400_000;

function derivedId(region: string, account: string, alias: string): string {
  const h = createHash('sha256').update(`sealbox-seed/${region}/${account}/${alias}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export async function loadSeed(seed: string | SeedFile): Promise<SeedFile> {
  if (typeof seed !== 'string') return seed;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(seed, 'utf8'));
  } catch (e) {
    throw new SeedError(`cannot read seed file ${seed}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SeedError(`${seed}: a seed file is a JSON object with "keys"`);
  return parsed as SeedFile;
}

/** Applies a seed to the store; returns how many keys were created and updated. */
export async function applySeed(
  store: KeyStore,
  seed: SeedFile,
  defaults: { region: string; account: string; now: number },
): Promise<{ created: number; updated: number }> {
  if (seed.keys !== undefined && !Array.isArray(seed.keys)) throw new SeedError('"keys" must be a list');
  let created = 0;
  let updated = 0;
  for (const [i, sk] of (seed.keys ?? []).entries()) {
    const where = `seed keys[${i}]`;
    const region = sk.region ?? defaults.region;
    const account = sk.account ?? defaults.account;
    if (!isValidRegion(region)) throw new SeedError(`${where}: bad region ${region}`);
    if (!isValidAccount(account)) throw new SeedError(`${where}: bad account ${account}`);
    const aliases = sk.aliases ?? [];
    for (const a of aliases) {
      if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(a) || a.startsWith('alias/aws/')) throw new SeedError(`${where}: bad alias ${a}`);
    }
    const id = sk.id ?? (aliases[0] !== undefined ? derivedId(region, account, aliases[0]) : undefined);
    if (id === undefined) throw new SeedError(`${where}: needs an "id" or at least one alias`);
    if (!isValidKeyId(id)) throw new SeedError(`${where}: "${id}" is not a key id (UUID or mrk-<32 hex>)`);
    const specName = sk.keySpec ?? 'SYMMETRIC_DEFAULT';
    if (!isKeySpec(specName)) throw new SeedError(`${where}: unsupported keySpec ${specName}`);
    const info = SPECS[specName];
    const usage = (sk.keyUsage ?? info.usages[0]) as KeyUsage;
    if (!info.usages.includes(usage)) throw new SeedError(`${where}: keyUsage ${usage} does not fit ${specName}`);
    let policy: string;
    try {
      policy = sk.policy === undefined ? JSON.stringify(defaultKeyPolicy(account), null, 2) : typeof sk.policy === 'string' ? sk.policy : JSON.stringify(sk.policy, null, 2);
      parsePolicy(policy);
    } catch (e) {
      throw new SeedError(`${where}: bad policy: ${(e as Error).message}`);
    }
    const tags = Object.entries(sk.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue: String(TagValue) }));
    const periodDays = sk.rotation?.periodDays ?? 365;
    const rotationEnabled = sk.rotation?.enabled ?? false;
    if (rotationEnabled && specName !== 'SYMMETRIC_DEFAULT') throw new SeedError(`${where}: only symmetric keys rotate`);

    // Material (computed before taking the lock; generation may be slow).
    let versions: KeyVersion[] | undefined;
    try {
      if (sk.material !== undefined) {
        if (!Array.isArray(sk.material) || sk.material.length === 0) throw new Error('"material" must be a non-empty list');
        if (info.bytes === undefined) throw new Error('use "privateKey" for asymmetric keys');
        versions = sk.material.map((m, v) => ({ version: v + 1, ...normaliseMaterial(specName, m), createdAt: defaults.now }));
      } else if (sk.privateKey !== undefined) {
        if (info.bytes !== undefined) throw new Error('"privateKey" is for asymmetric keys; use "material"');
        versions = [{ version: 1, ...normaliseMaterial(specName, sk.privateKey), createdAt: defaults.now }];
      }
    } catch (e) {
      throw new SeedError(`${where}: ${(e as Error).message}`);
    }
    const existing = store.getKey(region, account, id);
    if (existing) {
      if (existing.keySpec !== specName || existing.keyUsage !== usage) throw new SeedError(`${where}: key ${id} exists with a different spec or usage`);
      if (versions) {
        for (const v of versions) {
          const have = existing.versions[v.version - 1];
          if (!have || have.material !== v.material) throw new SeedError(`${where}: key ${id} exists with different key material; refusing to replace it`);
        }
      }
    } else if (!versions) {
      const count = sk.versions ?? 1;
      if (!Number.isInteger(count) || count < 1 || count > 100) throw new SeedError(`${where}: "versions" must be 1–100`);
      if (count > 1 && info.bytes === undefined) throw new SeedError(`${where}: only symmetric and HMAC keys have several versions`);
      versions = [];
      for (let v = 1; v <= count; v++) versions.push({ version: v, ...(await generateMaterial(specName)), createdAt: defaults.now - (count - v) * 365 * DAY });
    }
    await store.exclusive(async () => {
      const current = store.getKey(region, account, id);
      const base: KeyRecord = current ?? {
        keyId: id,
        region,
        account,
        createdAt: defaults.now,
        description: '',
        keySpec: specName,
        keyUsage: usage,
        origin: 'AWS_KMS',
        enabled: true,
        policy,
        tags: [],
        rotation: { enabled: false, periodDays: 365 },
        versions: versions!,
      };
      const next: KeyRecord = {
        ...base,
        description: sk.description ?? base.description,
        policy,
        enabled: sk.enabled ?? base.enabled,
        tags: sk.tags !== undefined ? tags : base.tags,
        rotation: rotationEnabled
          ? { enabled: true, periodDays, nextRotation: base.rotation.enabled && base.rotation.nextRotation !== undefined ? base.rotation.nextRotation : defaults.now + periodDays * DAY }
          : { enabled: false, periodDays },
      };
      if (id.startsWith('mrk-')) next.multiRegion = true;
      if (!current || JSON.stringify(current) !== JSON.stringify(next)) {
        await store.putKey(next);
        if (current) updated++;
        else created++;
      }
      const map = new Map(store.aliases(region, account));
      let changed = false;
      for (const a of aliases) {
        const have = map.get(a);
        if (have?.target === id) continue;
        map.set(a, { target: id, createdAt: have?.createdAt ?? defaults.now, updatedAt: defaults.now });
        changed = true;
      }
      if (changed) await store.putAliases(region, account, map);
    });
  }
  return { created, updated };
}

/** A random 32-byte base64 value, handy for seed files. */
export function randomMaterial(bytes = 32): string {
  return randomBytes(bytes).toString('base64');
}
