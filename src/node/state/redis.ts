/**
 * `sealbox/proxy/redis`: the proxy's shared state (SigV4 replay cache, rate-limit buckets) in Redis,
 * so several Node proxy instances behind a load balancer share one set of limits.
 *
 * ```ts
 * import { createProxy } from 'sealbox/proxy';
 * import { RedisStateStore } from 'sealbox/proxy/redis';
 * const state = new RedisStateStore({ url: 'redis://10.0.0.5:6379', keyPrefix: 'sealbox:prod:' });
 * const proxy = createProxy({ …, state, instanceId: 'proxy-a' });
 * ```
 * (`sealbox proxy --config` reads `"state": { "redis": { "url": … } }` from its file.)
 *
 * - Replay: `SET <prefix>r:<hash> 1 NX PX <ttl>`: the first instance to record a signature gets OK,
 *   every other gets nil, atomically in Redis.
 * - Token bucket: one Lua script (`TAKE_SCRIPT`) that refills, takes and stores in one step, on
 *   Redis's own clock (`TIME`), so instances whose clocks differ still share one rate. A bucket
 *   expires once it would be full again (a missing bucket is a full one), so idle principals cost
 *   no memory.
 * - Keys are `<keyPrefix><r|b>:<base64url(SHA-256(key))>`: fixed length whatever the principal's
 *   name (no separator or length games), and principal names are not stored in Redis.
 * - Fails fast: no offline queue, commands in flight are not resent after a reconnect (a resent
 *   `SET NX` would report its own first write as a replay), `commandTimeout` (default 500 ms), and
 *   after a timeout the next second's calls fail at once rather than each waiting again. A
 *   failed call throws `StateStoreError('unavailable')`, which the proxy turns into its failure
 *   policy (SigV4: 503; rate limit: `rateLimit.onStoreError`). Reconnects run in the background
 *   (every ≤ 1 s), so service resumes by itself once Redis is back.
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { StateStoreError, checkBucketSpec, type SharedStateStore, type TokenBucketSpec } from '../../edge/state/store.js';

/**
 * KEYS[1] bucket; ARGV capacity, refillPerSecond, cost. Returns the ms to wait (0: granted).
 * Redis ≥ 5 replicates a script's effects, not the script, so reading TIME here is allowed.
 */
export const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = cap
  at = now
end
if now > at then
  tokens = math.min(cap, tokens + (now - at) / 1000 * rate)
  at = now
end
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.max(1, math.ceil((cost - tokens) / rate * 1000))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - tokens) / rate * 1000) + 1000)
return wait
`;

export interface RedisStateStoreOptions {
  /** `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS). Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Extra ioredis options (merged under the fail-fast ones below unless you override them). */
  redisOptions?: RedisOptions;
  /** An ioredis client of your own instead (its options are yours; `close()` leaves it open). */
  client?: Redis;
  /** Prefix of every key (default `sealbox:`): give each deployment sharing a Redis its own. */
  keyPrefix?: string;
  /** A command that gets no answer in this many ms fails (default 500). */
  commandTimeoutMs?: number;
  /** Connecting gives up after this many ms, then retries in the background (default 2000). */
  connectTimeoutMs?: number;
  /**
   * After a command times out, calls in the next this many ms fail at once instead of each waiting
   * `commandTimeoutMs` for a Redis that hangs (default 1000; 0 turns it off).
   */
  breakerMs?: number;
  /** Where connection problems are reported, once per outage (default `console.error`). */
  log?: (message: string) => void;
}

interface TakeCommand {
  sealboxTake(key: string, capacity: number, refillPerSecond: number, cost: number): Promise<number>;
}

export class RedisStateStore implements SharedStateStore {
  readonly client: Redis;
  readonly #own: boolean;
  readonly #prefix: string;
  readonly #breakerMs: number;
  #down = false;
  /** Until when calls fail at once (a command timed out). */
  #openUntil = 0;

  constructor(options: RedisStateStoreOptions = {}) {
    this.#prefix = options.keyPrefix ?? 'sealbox:';
    this.#breakerMs = options.breakerMs ?? 1000;
    const log = options.log ?? ((m: string) => console.error(m));
    if (options.client) {
      this.client = options.client;
      this.#own = false;
    } else {
      const failFast: RedisOptions = {
        commandTimeout: options.commandTimeoutMs ?? 500,
        connectTimeout: options.connectTimeoutMs ?? 2000,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        retryStrategy: (times) => Math.min(100 * times, 1000),
        ...options.redisOptions,
      };
      this.client = new Redis(options.url ?? 'redis://127.0.0.1:6379', failFast);
      this.#own = true;
    }
    this.client.defineCommand('sealboxTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.client.on('error', (e: Error) => {
      if (this.#down) return;
      this.#down = true;
      log(`sealbox proxy: Redis state store unavailable (${e.message}); SigV4 calls answer 503 until it is back`);
    });
    this.client.on('ready', () => {
      if (this.#down) log('sealbox proxy: Redis state store is back');
      this.#down = false;
    });
  }

  /** Resolves once connected (true), or false after `timeoutMs` (the client keeps retrying). */
  async ready(timeoutMs = 2000): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.on('ready', onReady);
    });
  }

  /** The Redis key for a store key: prefix, kind, and a hash of the key (fixed length, no separators from the caller). */
  redisKey(kind: 'r' | 'b', key: string): string {
    return `${this.#prefix}${kind}:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
  }

  /** Runs a command; any failure is `StateStoreError('unavailable')`. A timeout opens the breaker. */
  async #run<T>(command: () => Promise<T>): Promise<T> {
    if (Date.now() < this.#openUntil) throw new StateStoreError('unavailable', 'redis: not answering (a command timed out less than a moment ago)');
    try {
      return await command();
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      if (this.#breakerMs > 0 && /timed out/i.test(message)) this.#openUntil = Date.now() + this.#breakerMs;
      throw new StateStoreError('unavailable', `redis: ${message}`, { cause: e });
    }
  }

  async rememberOnce(key: string, expiresAtMs: number): Promise<boolean> {
    const ttl = Math.max(1000, Math.ceil(expiresAtMs - Date.now()));
    const answer = await this.#run(() => this.client.set(this.redisKey('r', key), '1', 'PX', ttl, 'NX'));
    return answer === 'OK';
  }

  async take(bucketKey: string, spec: TokenBucketSpec): Promise<number> {
    const cost = checkBucketSpec(spec);
    const wait: unknown = await this.#run(() =>
      (this.client as unknown as TakeCommand).sealboxTake(this.redisKey('b', bucketKey), spec.capacity, spec.refillPerSecond, cost),
    );
    if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) throw new StateStoreError('unavailable', `redis: unexpected answer ${String(wait)}`);
    return wait;
  }

  /** Closes the connection (unless the client was passed in). */
  async close(): Promise<void> {
    if (!this.#own) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
