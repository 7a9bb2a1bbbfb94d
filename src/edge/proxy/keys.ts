/**
 * Key resolution (runtime-agnostic): a request's KeyId (key id, key ARN, alias name or alias ARN) is
 * resolved through the upstream's `DescribeKey` to the key's ARN, and `ListAliases` gives every
 * alias naming that key. Policy is evaluated against all those names at once, so a key and its
 * aliases are one resource; the request is then forwarded with the key ARN, so the upstream acts on
 * exactly the key that was authorized (an alias re-pointed meanwhile cannot redirect it).
 * Results are cached for `ttlMs` (aliases added or removed within that window are seen late).
 */
import { AwsError } from '../aws/errors.js';
import { upstreamError, upstreamErrorMessage, upstreamErrorType, type Upstream } from './upstream.js';

export interface ResolvedKey {
  arn: string;
  keyId: string;
  /** Alias names (`alias/x`) that point at the key. */
  aliases: string[];
  keySpec: string | undefined;
  keyUsage: string | undefined;
}

const KEY_ARN = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/;

export function arnPrefix(arn: string): string | undefined {
  const m = KEY_ARN.exec(arn);
  return m ? `arn:${m[1]}:kms:${m[2]}:${m[3]}:` : undefined;
}

/** Every name policy Resources may use for the key: key ARN, key id, alias ARNs, alias names. */
export function resourceNames(key: ResolvedKey): string[] {
  const prefix = arnPrefix(key.arn);
  const names = [key.arn, key.keyId];
  for (const alias of key.aliases) {
    names.push(alias);
    if (prefix) names.push(`${prefix}${alias}`);
  }
  return [...new Set(names)];
}

export class KeyResolver {
  readonly #upstream: Upstream;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { key: ResolvedKey | undefined; expires: number }>();
  /** Lookups in flight, so concurrent requests for one uncached key make one pair of upstream calls. */
  readonly #inflight = new Map<string, Promise<ResolvedKey | undefined>>();

  constructor(upstream: Upstream, ttlMs: number, now: () => number) {
    this.#upstream = upstream;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** The key `keyId` names, or undefined when the upstream says it does not exist. */
  async resolve(keyId: string): Promise<ResolvedKey | undefined> {
    const now = this.#now();
    const hit = this.#cache.get(keyId);
    if (hit && hit.expires > now) return hit.key;
    let pending = this.#inflight.get(keyId);
    if (pending === undefined) {
      pending = this.#lookup(keyId);
      this.#inflight.set(keyId, pending);
      pending.then(
        () => this.#inflight.delete(keyId),
        () => this.#inflight.delete(keyId),
      );
    }
    const key = await pending;
    if (this.#ttlMs > 0) {
      if (this.#cache.size >= 10_000) {
        for (const [k, v] of this.#cache) if (v.expires <= now) this.#cache.delete(k);
        if (this.#cache.size >= 10_000) this.#cache.clear();
      }
      const entry = { key, expires: now + (key ? this.#ttlMs : Math.min(this.#ttlMs, 5000)) };
      this.#cache.set(keyId, entry);
      if (key) this.#cache.set(key.arn, entry);
    }
    return key;
  }

  async #lookup(keyId: string): Promise<ResolvedKey | undefined> {
    const described = await this.#upstream.call('DescribeKey', { KeyId: keyId });
    if (described.status !== 200) {
      if (upstreamErrorType(described.body) === 'NotFoundException') return undefined;
      throw upstreamError('DescribeKey', described);
    }
    const md = described.body.KeyMetadata as Record<string, unknown> | undefined;
    if (!md || typeof md.Arn !== 'string' || typeof md.KeyId !== 'string' || !KEY_ARN.test(md.Arn)) {
      throw new AwsError('KMSInternalException', 'The KMS sent an answer the proxy cannot read.', 500, { reason: 'DescribeKey without KeyMetadata.Arn' });
    }
    const aliases: string[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 20; page++) {
      const listed = await this.#upstream.call('ListAliases', { KeyId: md.Arn, Limit: 100, ...(marker ? { Marker: marker } : {}) });
      if (listed.status !== 200) {
        const type = upstreamErrorType(listed.body);
        // Without the alias list the alias-based parts of the policy cannot be evaluated: fail closed.
        throw new AwsError(type === 'AccessDeniedException' ? 'KMSInternalException' : type, 'The proxy could not list the key\'s aliases.', listed.status >= 500 ? listed.status : 500, {
          reason: `ListAliases ${md.Arn}: ${type}: ${upstreamErrorMessage(listed.body)}`,
        });
      }
      const list = Array.isArray(listed.body.Aliases) ? listed.body.Aliases : [];
      for (const a of list as Array<Record<string, unknown>>) {
        if (typeof a?.AliasName === 'string' && (a.TargetKeyId === undefined || a.TargetKeyId === md.KeyId)) aliases.push(a.AliasName);
      }
      if (listed.body.Truncated !== true || typeof listed.body.NextMarker !== 'string') {
        marker = undefined;
        break;
      }
      marker = listed.body.NextMarker;
    }
    if (marker !== undefined) {
      throw new AwsError('KMSInternalException', 'The key has too many aliases for the proxy to check.', 500, { reason: `ListAliases ${md.Arn}: over 2000 aliases` });
    }
    return {
      arn: md.Arn,
      keyId: md.KeyId,
      aliases: aliases.sort(),
      keySpec: typeof md.KeySpec === 'string' ? md.KeySpec : undefined,
      keyUsage: typeof md.KeyUsage === 'string' ? md.KeyUsage : undefined,
    };
  }
}
