// The Worker engine (issue 16) in real browsers: the cases of test/suite/workers.ts against a
// SealboxWorkerPool of 2 dedicated module Workers running the worker script from the sources
// (served by web-test-runner's esbuild plugin), one pool shared by the cases, plus a pool the
// terminate case starts and ends. Chromium, Firefox and WebKit run the same file.
import { SealboxWorkerPool } from '../../src/sdk/workers/pool.js';
import { workerCases } from '../suite/workers.js';
import { skipReason } from '../suite/harness.js';

declare const it: {
  (name: string, fn: () => Promise<void>): void;
  skip(name: string, fn?: () => Promise<void>): void;
};
declare const after: (fn: () => void) => void;

const workerUrl = new URL('../../src/sdk/workers/sealbox-worker.ts', import.meta.url);
let shared: SealboxWorkerPool | undefined;
const env = () => ({
  engine: (shared ??= new SealboxWorkerPool({ size: 2, workerUrl })),
  fresh: () => new SealboxWorkerPool({ size: 2, workerUrl }),
  numbers: true,
  workerUrl,
});
const suiteEnv = { runtime: navigator.userAgent, readText: async () => '' };

for (const testCase of workerCases(env)) {
  const reason = skipReason(testCase, suiteEnv);
  if (reason === undefined) it(testCase.name, () => testCase.run(suiteEnv));
  else it.skip(`${testCase.name} [skipped: ${reason}]`);
}

it('workers: the pool posts one message per batch and the keys reach each Worker once, as a non-extractable CryptoKey', async () => {
  const pool = (shared ??= new SealboxWorkerPool({ size: 2, workerUrl }));
  const { encrypt, RawAesKeyring } = await import('../../src/index.js');
  const keyring = new RawAesKeyring({ keyName: 'k', key: new Uint8Array(32).fill(9) });
  let posts = 0;
  let keysSent = 0;
  const original = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (this: Worker, message: unknown, transfer?: Transferable[] | StructuredSerializeOptions) {
    posts++;
    const key = (message as { key?: CryptoKey }).key;
    if (key !== undefined) {
      keysSent++;
      if (!(key instanceof CryptoKey) || key.extractable) throw new Error('the key is not a non-extractable CryptoKey');
    }
    return (original as (this: Worker, message: unknown, transfer?: unknown) => void).call(this, message, transfer);
  } as typeof Worker.prototype.postMessage;
  try {
    await encrypt(new Uint8Array(4 * 1024 * 1024 + 5), { keyring, workers: pool });
  } finally {
    Worker.prototype.postMessage = original;
  }
  // 4 MiB + 5 bytes at 16 KiB chunks: 257 chunks in batches of 64, so 5 messages, not 257.
  if (posts !== 5) throw new Error(`expected 5 posts, got ${posts}`);
  // The keys go once to each Worker, not with every batch.
  if (keysSent < 1 || keysSent > 2) throw new Error(`expected the keys sent once per Worker, got ${keysSent}`);
});

after(() => shared?.terminate());
