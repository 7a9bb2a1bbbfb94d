// Node-only: streaming keeps memory flat. 160 MiB go through EncryptStream → DecryptStream; a
// stream that kept its output (or its input) would hold ≥ 160 MiB of ArrayBuffers at the end.
// The bound is loose on purpose (garbage waits for V8's GC); `npm run bench` measures RSS for 1 GiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecryptStream, EncryptStream, RawAesKeyring } from '../../../src/index.js';

test('streams: 160 MiB round trip with peak ArrayBuffer memory far below the data size', async () => {
  const MiB = 1024 * 1024;
  const total = 160 * MiB;
  const piece = new Uint8Array(MiB).fill(0x5a);
  let sent = 0;
  const source = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= total) return controller.close();
        controller.enqueue(piece.subarray(0, Math.min(piece.length, total - sent)));
        sent += piece.length;
      },
    },
    { highWaterMark: 0 },
  );
  const keyring = new RawAesKeyring({ keyName: 'memory', key: new Uint8Array(32).fill(1) });
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 5);
  let received = 0;
  try {
    await source
      .pipeThrough(new EncryptStream({ keyring, chunkSize: 256 * 1024 }))
      .pipeThrough(new DecryptStream({ keyring }))
      .pipeTo(
        new WritableStream({
          write(chunk) {
            received += chunk.length;
            peak = Math.max(peak, process.memoryUsage().arrayBuffers);
          },
        }),
      );
  } finally {
    clearInterval(timer);
  }
  assert.equal(received, total);
  const growth = (peak - baseline) / MiB;
  assert.ok(growth < 96, `peak ArrayBuffer growth ${growth.toFixed(1)} MiB for ${total / MiB} MiB streamed`);
});
