// RedisStateStore against a real redis-server: atomic replay records (one winner among concurrent
// callers on separate connections), the token-bucket script on Redis's clock, hashed keys (no
// confusion from separators or lengths), and failing fast (no hang, no crash) while Redis is down.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RedisStateStore } from '../../../src/node/state/redis.js';
import { StateStoreError } from '../../../src/edge/state/store.js';
import { haveRedis, startRedis, type RedisServer } from './redis-server.js';

const skip = !haveRedis() && 'redis-server not installed (apt-get install -y redis-server)';
let redis: RedisServer;
const stores: RedisStateStore[] = [];
const store = (o: ConstructorParameters<typeof RedisStateStore>[0] = {}) => {
  const s = new RedisStateStore({ url: redis.url, log: () => {}, ...o });
  stores.push(s);
  return s;
};

before(async () => {
  if (!skip) redis = await startRedis();
});
after(async () => {
  for (const s of stores) await s.close();
  await redis?.stop();
});

describe('RedisStateStore', { skip }, () => {
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
    const spec = { capacity: 5, refillPerSecond: 10 };
    const waits = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).take('bucket:jwt:jwt/alice', spec)));
    assert.equal(waits.filter((w) => w === 0).length, 5);
    for (const w of waits.filter((w) => w > 0)) assert.ok(w >= 1 && w <= 100, `wait ${w}`);
    await new Promise((r) => setTimeout(r, 220));
    assert.equal(await a.take('bucket:jwt:jwt/alice', spec), 0, 'refilled ~2 tokens in 200 ms');
    assert.equal(await b.take('bucket:jwt:jwt/alice', spec), 0);
    assert.ok((await b.take('bucket:jwt:jwt/alice', spec)) > 0);
    // cost; an idle bucket expires once full again.
    assert.equal(await a.take('bucket:cost', { capacity: 10, refillPerSecond: 100, cost: 10 }), 0);
    assert.ok((await a.take('bucket:cost', { capacity: 10, refillPerSecond: 100, cost: 10 })) >= 90);
    const pttl = await a.client.pttl(a.redisKey('b', 'bucket:cost'));
    assert.ok(pttl > 0 && pttl <= 1100, `bucket ttl ${pttl}`);
    await assert.rejects(a.take('x', { capacity: 1, refillPerSecond: 1, cost: 2 }), RangeError);
  });

  test('keys: hashed, fixed length, prefixed; separators and long names do not collide', async () => {
    const s = store({ keyPrefix: 'tenant1:' });
    await s.ready();
    const names = ['jwt:jwt/a:b', 'jwt:jwt/a', 'jwt:jwt/a:b:', 'sigv4:jwt/a:b', 'jwt:jwt/tenant1:b:x', 'x'.repeat(100_000), 'x'.repeat(100_001)];
    const keys = names.map((n) => s.redisKey('b', n));
    assert.equal(new Set(keys).size, names.length);
    for (const k of keys) assert.match(k, /^tenant1:b:[A-Za-z0-9_-]{43}$/);
    assert.notEqual(s.redisKey('r', 'k'), s.redisKey('b', 'k'));
    const spec = { capacity: 1, refillPerSecond: 0.001 };
    for (const n of names) assert.equal(await s.take(n, spec), 0, `own bucket for ${n.slice(0, 20)}`);
    for (const n of names) assert.ok((await s.take(n, spec)) > 0);
    // Another prefix is another deployment.
    const other = store({ keyPrefix: 'tenant2:' });
    await other.ready();
    assert.equal(await other.take(names[0]!, spec), 0);
    assert.equal((await s.client.keys('tenant1:*')).every((k) => !k.includes('jwt')), true, 'no principal names in Redis');
  });

  test('Redis down: calls fail fast with StateStoreError; Redis back: calls work again', async () => {
    const s = store();
    await s.ready();
    await redis.kill();
    const t0 = Date.now();
    await assert.rejects(s.rememberOnce('k', Date.now() + 5000), (e) => e instanceof StateStoreError && e.kind === 'unavailable');
    await assert.rejects(s.take('k', { capacity: 1, refillPerSecond: 1 }), StateStoreError);
    assert.ok(Date.now() - t0 < 1500, `failed in ${Date.now() - t0} ms`);
    await redis.restart();
    assert.equal(await s.ready(5000), true);
    assert.equal(await s.rememberOnce('k2', Date.now() + 5000), true);
  });

  test('a hung Redis (SIGSTOP): commandTimeout answers within ~500 ms', async () => {
    const s = store({ commandTimeoutMs: 300 });
    await s.ready();
    const pid = Number((await s.client.info('server')).match(/process_id:(\d+)/)![1]);
    process.kill(pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      await assert.rejects(s.rememberOnce('hung', Date.now() + 5000), StateStoreError);
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});

