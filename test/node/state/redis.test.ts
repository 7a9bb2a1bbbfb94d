// RedisStateStore against a real redis-server: atomic replay records (one winner among concurrent
// callers on separate connections), the token-bucket script on Redis's clock, hashed keys (no
// confusion from separators or lengths), and failing fast (no hang, no crash) while Redis is down.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RedisStateStore } from '../../../src/node/state/redis.js';
import { StateStoreError } from '../../../src/edge/state/store.js';
import { randomUUID } from 'node:crypto';
import { redisService, startRedis, type LocalRedis, type RedisService } from '../../support/redis.js';

// The shared test Redis (keys under a prefix of this run's own) for most tests; one of our own for
// the tests that kill or stop it.
let shared: RedisService;
let own: LocalRedis;
const run = `t${randomUUID().slice(0, 8)}:`;
const stores: RedisStateStore[] = [];
const store = (o: ConstructorParameters<typeof RedisStateStore>[0] = {}, url = shared.url) => {
  const s = new RedisStateStore({ url, log: () => {}, ...o, keyPrefix: run + (o.keyPrefix ?? 'sealbox:') });
  stores.push(s);
  return s;
};

before(async () => {
  shared = await redisService();
  own = await startRedis();
});
after(async () => {
  for (const s of stores) await s.close();
  await own?.stop();
});

describe('RedisStateStore', () => {
  test('rememberOnce: 50 concurrent callers on 5 connections, exactly one wins; the record expires', async () => {
    const clients = Array.from({ length: 5 }, () => store());
    await Promise.all(clients.map((c) => c.ready()));
    const exp = Date.now() + 1500;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => clients[i % 5]!.rememberOnce('sigv4:race', exp)));
    assert.equal(answers.filter(Boolean).length, 1);
    // The record lives at least 1 s, then is gone.
    const ttl = await clients[0]!.client.pttl(clients[0]!.redisKey('r', 'sigv4:race'));
    assert.ok(ttl > 0 && ttl <= 1500, `ttl ${ttl}`);
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(await clients[1]!.rememberOnce('sigv4:race', Date.now() + 5000), true);
  });

  test('take: capacity, refill on Redis time, wait times, shared across connections', async () => {
    const [a, b] = [store(), store()];
    await Promise.all([a.ready(), b.ready()]);
    // A slow refill (one token per 2 s) keeps the counts exact on a busy machine.
    const spec = { capacity: 5, refillPerSecond: 0.5 };
    const waits = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).take('bucket:jwt:jwt/alice', spec)));
    assert.equal(waits.filter((w) => w === 0).length, 5);
    for (const w of waits.filter((w) => w > 0)) assert.ok(w >= 1 && w <= 2000, `wait ${w}`);
    // Wait as long as the bucket said: then there is a token, and only one.
    const wait = await a.take('bucket:jwt:jwt/alice', spec);
    assert.ok(wait > 0 && wait <= 2000, `wait ${wait}`);
    await new Promise((r) => setTimeout(r, wait + 20));
    assert.equal(await b.take('bucket:jwt:jwt/alice', spec), 0, 'refilled after the wait it announced');
    assert.ok((await a.take('bucket:jwt:jwt/alice', spec)) > 0);
    // cost; an idle bucket expires once it would be full again (+1 s).
    const costly = { capacity: 10, refillPerSecond: 1, cost: 10 };
    assert.equal(await a.take('bucket:cost', costly), 0);
    const w2 = await a.take('bucket:cost', costly);
    assert.ok(w2 > 9000 && w2 <= 10_000, `wait ${w2}`);
    const pttl = await a.client.pttl(a.redisKey('b', 'bucket:cost'));
    assert.ok(pttl > 9000 && pttl <= 11_000, `bucket ttl ${pttl}`);
    await assert.rejects(a.take('x', { capacity: 1, refillPerSecond: 1, cost: 2 }), RangeError);
  });

  test('keys: hashed, fixed length, prefixed; separators and long names do not collide', async () => {
    const s = store({ keyPrefix: 'tenant1:' });
    await s.ready();
    const names = ['jwt:jwt/a:b', 'jwt:jwt/a', 'jwt:jwt/a:b:', 'sigv4:jwt/a:b', 'jwt:jwt/tenant1:b:x', 'x'.repeat(100_000), 'x'.repeat(100_001)];
    const keys = names.map((n) => s.redisKey('b', n));
    assert.equal(new Set(keys).size, names.length);
    for (const k of keys) assert.equal(k.slice(run.length).match(/^tenant1:b:[A-Za-z0-9_-]{43}$/)?.length, 1, k);
    assert.notEqual(s.redisKey('r', 'k'), s.redisKey('b', 'k'));
    const spec = { capacity: 1, refillPerSecond: 0.001 };
    for (const n of names) assert.equal(await s.take(n, spec), 0, `own bucket for ${n.slice(0, 20)}`);
    for (const n of names) assert.ok((await s.take(n, spec)) > 0);
    // Another prefix is another deployment.
    const other = store({ keyPrefix: 'tenant2:' });
    await other.ready();
    assert.equal(await other.take(names[0]!, spec), 0);
    const stored = await s.client.keys(`${run}tenant1:*`);
    assert.equal(stored.length, names.length);
    assert.ok(stored.every((k) => !k.includes('jwt')), 'no principal names in Redis');
  });

  test('Redis down: calls fail fast with StateStoreError; Redis back: calls work again', async () => {
    const s = store({}, own.url);
    await s.ready();
    await own.kill();
    const t0 = Date.now();
    await assert.rejects(s.rememberOnce('k', Date.now() + 5000), (e) => e instanceof StateStoreError && e.kind === 'unavailable');
    await assert.rejects(s.take('k', { capacity: 1, refillPerSecond: 1 }), StateStoreError);
    assert.ok(Date.now() - t0 < 1500, `failed in ${Date.now() - t0} ms`);
    await own.restart();
    assert.equal(await s.ready(5000), true);
    assert.equal(await s.rememberOnce('k2', Date.now() + 5000), true);
  });

  test('a hung Redis (SIGSTOP): commandTimeout answers, then calls fail at once for breakerMs; then it works again', async () => {
    const s = store({ commandTimeoutMs: 300, breakerMs: 800 }, own.url);
    await s.ready();
    const pid = Number((await s.client.info('server')).match(/process_id:(\d+)/)![1]);
    process.kill(pid, 'SIGSTOP');
    try {
      let t0 = Date.now();
      await assert.rejects(s.rememberOnce('hung', Date.now() + 5000), StateStoreError);
      const first = Date.now() - t0;
      assert.ok(first >= 250 && first < 2000, `first call failed after ${first} ms`);
      t0 = Date.now();
      await assert.rejects(s.take('hung', { capacity: 1, refillPerSecond: 1 }), /not answering/);
      assert.ok(Date.now() - t0 < 100, `the next call failed after ${Date.now() - t0} ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(await s.rememberOnce('after-hang', Date.now() + 5000), true);
  });
});

