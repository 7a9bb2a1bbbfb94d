/**
 * The proxy's shared state in a Cloudflare Durable Object (Web APIs only): every isolate of the
 * Worker, in every location, asks the same objects, so a replay is refused wherever it lands and a
 * principal has one bucket.
 *
 * ```ts
 * // the Worker's main module
 * import { createProxy, DurableObjectStateStore, SealboxStateObject } from 'sealbox/proxy';
 * export { SealboxStateObject };                       // the Durable Object class
 * let proxy;
 * export default {
 *   fetch(request, env) {
 *     proxy ??= createProxy({ ...JSON.parse(env.SEALBOX_CONFIG), state: new DurableObjectStateStore(env.SEALBOX_STATE) });
 *     return proxy.fetch(request);
 *   },
 * };
 * ```
 * with, in wrangler.jsonc, `durable_objects.bindings: [{ name: "SEALBOX_STATE", class_name:
 * "SealboxStateObject" }]` and a migration `new_sqlite_classes: ["SealboxStateObject"]`
 * (examples/worker-proxy/).
 *
 * - Keys go to one of `shards` objects (default 16, by a hash of the key), so no single object
 *   carries all the traffic; a given replay key or bucket always lands on the same object.
 * - Inside an object each operation is read → decide → write on its transactional storage with no
 *   other I/O in between; the runtime's input gate delivers no other request meanwhile, so each
 *   operation is atomic. Records are persisted (an evicted object does not forget a signature);
 *   an alarm drops expired replay records and full buckets.
 * - Buckets use the object's clock (one clock per bucket, like Redis `TIME`).
 * - Stored keys are SHA-256 of the proxy's keys (fixed length, whatever the principal's name).
 * - A call that fails or takes longer than `timeoutMs` (default 1000) throws
 *   `StateStoreError('unavailable')`, and the proxy's failure policy applies.
 */
import { StateStoreError, checkBucketSpec, msUntilFull, refillAndTake, type SharedStateStore, type TokenBucketSpec } from './store.js';

/** The parts of the Workers runtime's types used here (no dependency on @cloudflare/workers-types). */
export interface DurableObjectStorageLike {
  get<T = unknown>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  delete(keys: string[]): Promise<number>;
  list<T = unknown>(options?: { prefix?: string; limit?: number; startAfter?: string }): Promise<Map<string, T>>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
}
export interface DurableObjectStateLike {
  storage: DurableObjectStorageLike;
}
export interface DurableObjectStubLike {
  fetch(request: Request): Promise<Response>;
}
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: never): DurableObjectStubLike;
}

interface StoredBucket {
  tokens: number;
  at: number;
  capacity: number;
  refillPerSecond: number;
}

/** How often the alarm sweeps expired records (ms). */
const SWEEP_MS = 60_000;

/**
 * The Durable Object class. Export it from the Worker's main module under the `class_name` the
 * binding names. It answers POST `/remember` `{ key, expiresAtMs }` → `{ fresh }` and POST `/take`
 * `{ key, capacity, refillPerSecond, cost }` → `{ waitMs }`.
 */
export class SealboxStateObject {
  readonly #storage: DurableObjectStorageLike;

  constructor(state: DurableObjectStateLike, _env?: unknown) {
    this.#storage = state.storage;
  }

  async fetch(request: Request): Promise<Response> {
    try {
      const path = new URL(request.url).pathname;
      const input = (await request.json()) as Record<string, unknown>;
      if (typeof input.key !== 'string' || input.key.length === 0 || input.key.length > 512) return json({ error: 'bad key' }, 400);
      if (path === '/remember' && typeof input.expiresAtMs === 'number') return json({ fresh: await this.#remember(input.key, input.expiresAtMs) });
      if (path === '/take') {
        const spec = { capacity: Number(input.capacity), refillPerSecond: Number(input.refillPerSecond), cost: Number(input.cost ?? 1) };
        checkBucketSpec(spec);
        return json({ waitMs: await this.#take(input.key, spec) });
      }
      return json({ error: 'not found' }, 404);
    } catch (e) {
      return json({ error: (e as Error).message ?? String(e) }, 400);
    }
  }

  // Read, decide, write: no I/O but storage in between, so no other request interleaves (input gate).
  async #remember(key: string, expiresAtMs: number): Promise<boolean> {
    const k = `r:${key}`;
    const prev = await this.#storage.get<number>(k);
    if (prev !== undefined && prev > Date.now()) return false;
    await this.#storage.put(k, expiresAtMs);
    await this.#scheduleSweep();
    return true;
  }

  async #take(key: string, spec: TokenBucketSpec): Promise<number> {
    const k = `b:${key}`;
    const prev = await this.#storage.get<StoredBucket>(k);
    const next = refillAndTake(prev, Date.now(), spec);
    await this.#storage.put<StoredBucket>(k, { tokens: next.tokens, at: next.at, capacity: spec.capacity, refillPerSecond: spec.refillPerSecond });
    await this.#scheduleSweep();
    return next.waitMs;
  }

  async #scheduleSweep(): Promise<void> {
    if ((await this.#storage.getAlarm()) === null) await this.#storage.setAlarm(Date.now() + SWEEP_MS);
  }

  /** Drops expired replay records and buckets that are full again; comes back while any remain. */
  async alarm(): Promise<void> {
    const now = Date.now();
    let left = 0;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.#storage.list<number | StoredBucket>({ limit: 1000, ...(startAfter === undefined ? {} : { startAfter }) });
      if (page.size === 0) break;
      const dead: string[] = [];
      for (const [k, v] of page) {
        startAfter = k;
        // A replay record past its expiry; a bucket full again (a missing bucket is a full one).
        const expired = typeof v === 'number' ? v <= now : now - v.at >= msUntilFull(v.tokens, v);
        if (expired) dead.push(k);
        else left++;
      }
      for (let i = 0; i < dead.length; i += 128) await this.#storage.delete(dead.slice(i, i + 128));
      if (page.size < 1000) break;
    }
    if (left > 0) await this.#storage.setAlarm(now + SWEEP_MS);
  }
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

export interface DurableObjectStateStoreOptions {
  /** Objects the keys are spread over (default 16). Changing it moves keys: change it only between deployments. */
  shards?: number;
  /** Name prefix of the objects (default `sealbox-state`): give each proxy deployment sharing a namespace its own. */
  name?: string;
  /** A call that takes longer fails (default 1000 ms). */
  timeoutMs?: number;
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The proxy side: a `SharedStateStore` over a Durable Object namespace bound to `SealboxStateObject`. */
export class DurableObjectStateStore implements SharedStateStore {
  readonly #ns: DurableObjectNamespaceLike;
  readonly #shards: number;
  readonly #name: string;
  readonly #timeoutMs: number;

  constructor(namespace: DurableObjectNamespaceLike, options: DurableObjectStateStoreOptions = {}) {
    if (!namespace || typeof namespace.idFromName !== 'function') throw new TypeError('DurableObjectStateStore needs a Durable Object namespace binding');
    this.#ns = namespace;
    this.#shards = options.shards ?? 16;
    if (!Number.isInteger(this.#shards) || this.#shards < 1) throw new RangeError('shards must be a positive integer');
    this.#name = options.name ?? 'sealbox-state';
    this.#timeoutMs = options.timeoutMs ?? 1000;
  }

  async #call(kind: 'remember' | 'take', key: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(key)));
    const shard = ((digest[0]! << 8) | digest[1]!) % this.#shards;
    const hashed = base64url(digest);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const stub = this.#ns.get(this.#ns.idFromName(`${this.#name}:${shard}`) as never);
      const request = new Request(`https://sealbox-state/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: hashed, ...body }) });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${this.#timeoutMs} ms`)), this.#timeoutMs);
      });
      const response = await Promise.race([stub.fetch(request), timeout]);
      const answer = (await Promise.race([response.json(), timeout])) as Record<string, unknown>;
      if (response.status !== 200) throw new Error(`answered ${response.status}: ${String(answer.error)}`);
      return answer;
    } catch (e) {
      throw new StateStoreError('unavailable', `durable object: ${(e as Error).message ?? String(e)}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  async rememberOnce(key: string, expiresAtMs: number): Promise<boolean> {
    const a = await this.#call('remember', key, { expiresAtMs });
    if (typeof a.fresh !== 'boolean') throw new StateStoreError('unavailable', 'durable object: unexpected answer');
    return a.fresh;
  }

  async take(bucketKey: string, spec: TokenBucketSpec): Promise<number> {
    const cost = checkBucketSpec(spec);
    const a = await this.#call('take', bucketKey, { capacity: spec.capacity, refillPerSecond: spec.refillPerSecond, cost });
    if (typeof a.waitMs !== 'number') throw new StateStoreError('unavailable', 'durable object: unexpected answer');
    return a.waitMs;
  }
}
