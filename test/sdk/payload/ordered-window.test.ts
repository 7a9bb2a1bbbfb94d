// OrderedWindow: the in-order, bounded window under EncryptStream and DecryptStream.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderedWindow } from '../../../src/sdk/payload/parallel.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

test('a full window of 64 takes new tasks only after draining to 4 pending, and emits in order', async () => {
  const emitted: number[] = [];
  const window = new OrderedWindow<number>(64, (value) => emitted.push(value), (error) => assert.fail(String(error)));
  assert.equal(window.resumeAt, 4);
  const tasks = Array.from({ length: 64 }, () => deferred<number>());
  for (let i = 0; i < 64; i++) {
    assert.equal(window.room(), undefined, `room for task #${i}`);
    window.add(tasks[i]!.promise);
  }
  const room = window.room();
  assert.ok(room, 'a full window has no room');
  let resumed = false;
  void room!.then(() => (resumed = true));
  // Finish out of order: the later ones first; nothing is emitted until task 0 is done.
  for (let i = 63; i >= 1; i--) tasks[i]!.resolve(i);
  await ticks();
  assert.deepEqual(emitted, []);
  assert.equal(resumed, false);
  tasks[0]!.resolve(0);
  await ticks();
  assert.deepEqual(emitted, Array.from({ length: 64 }, (_, i) => i));
  assert.equal(resumed, true);
});

test('the full window resumes at resumeAt pending, not at the first free slot', async () => {
  const window = new OrderedWindow<number>(32, () => {}, (error) => assert.fail(String(error)));
  assert.equal(window.resumeAt, 2);
  const tasks = Array.from({ length: 32 }, () => deferred<number>());
  for (const task of tasks) window.add(task.promise);
  const room = window.room();
  let resumed = false;
  void room!.then(() => (resumed = true));
  for (let i = 0; i < 29; i++) tasks[i]!.resolve(i);
  await ticks();
  assert.equal(window.pending, 3);
  assert.equal(resumed, false, 'still 3 pending: more than resumeAt');
  tasks[29]!.resolve(29);
  await ticks();
  assert.equal(window.pending, 2);
  assert.equal(resumed, true);
});

test('a window of a few large chunks refills one by one', async () => {
  const window = new OrderedWindow<number>(4, () => {}, (error) => assert.fail(String(error)));
  assert.equal(window.resumeAt, 3);
  const tasks = Array.from({ length: 4 }, () => deferred<number>());
  for (const task of tasks) window.add(task.promise);
  const room = window.room();
  let resumed = false;
  void room!.then(() => (resumed = true));
  tasks[0]!.resolve(0);
  await ticks();
  assert.equal(resumed, true);
});

test('a caller that awaits room() never has more than capacity tasks in flight', async () => {
  let running = 0;
  let peak = 0;
  const emitted: number[] = [];
  const window = new OrderedWindow<number>(20, (value) => emitted.push(value), (error) => assert.fail(String(error)));
  for (let i = 0; i < 500; i++) {
    const room = window.room();
    if (room) await room;
    running++;
    peak = Math.max(peak, running);
    const task = new Promise<number>((resolve) => setTimeout(() => {
      running--;
      resolve(i);
    }, (i * 7) % 3));
    window.add(task);
  }
  await window.drain();
  assert.ok(peak <= 20, `peak ${peak} in flight`);
  assert.equal(peak, 20);
  assert.deepEqual(emitted, Array.from({ length: 500 }, (_, i) => i));
});

test('the first failure in order wins and later results are dropped', async () => {
  const emitted: number[] = [];
  const failures: unknown[] = [];
  const window = new OrderedWindow<number>(64, (value) => emitted.push(value), (error) => failures.push(error));
  const tasks = Array.from({ length: 5 }, () => deferred<number>());
  for (const task of tasks) window.add(task.promise);
  tasks[3]!.reject(new Error('three'));
  tasks[1]!.reject(new Error('one'));
  tasks[4]!.resolve(4);
  tasks[0]!.resolve(0);
  await ticks();
  tasks[2]!.resolve(2);
  await ticks();
  assert.deepEqual(emitted, [0]);
  assert.equal(failures.length, 1);
  assert.equal((failures[0] as Error).message, 'one');
  await assert.rejects(window.drain(), /one/);
});
