// MemoryStateStore (the default store: one process or isolate) and the store contract's arithmetic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStateStore, StateStoreError, refillAndTake } from '../../../src/edge/state/index.js';

test('rememberOnce: once per key until it expires; bounded', async () => {
  let now = 1_000;
  const s = new MemoryStateStore({ now: () => now, maxReplayEntries: 2 });
  assert.equal(await s.rememberOnce('a', 2_000), true);
  assert.equal(await s.rememberOnce('a', 2_000), false);
  const all = await Promise.all(Array.from({ length: 10 }, () => s.rememberOnce('b', 2_000)));
  assert.equal(all.filter(Boolean).length, 1);
  await assert.rejects(s.rememberOnce('c', 2_000), (e) => e instanceof StateStoreError && e.kind === 'full');
  now = 2_000;
  assert.equal(await s.rememberOnce('a', 3_000), true, 'expired records are forgotten');
  assert.equal(await s.rememberOnce('c', 3_000), true, 'and make room');
});

test('take: burst, refill, wait, cost; a clock going back never adds tokens', async () => {
  let now = 0;
  const s = new MemoryStateStore({ now: () => now });
  const spec = { capacity: 3, refillPerSecond: 2 };
  assert.deepEqual(await Promise.all([1, 2, 3, 4].map(() => s.take('p', spec))), [0, 0, 0, 500]);
  now = 500;
  assert.equal(await s.take('p', spec), 0);
  now = 100;
  assert.equal(await s.take('p', spec), 500);
  assert.equal(await s.take('q', { ...spec, cost: 3 }), 0);
  assert.equal(await s.take('q', { ...spec, cost: 3 }), 1500);
  await assert.rejects(s.take('q', { ...spec, cost: 4 }), RangeError);
  assert.deepEqual(refillAndTake({ tokens: 0, at: 1000 }, 500, spec), { tokens: 0, at: 1000, waitMs: 500 });
});
