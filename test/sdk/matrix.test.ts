// Cross-runtime matrix: an envelope produced in each runtime decrypts in every other (7 × 7: Node, Deno, Bun,
// workerd, Chromium, Firefox, WebKit; one page load per browser does all its cells), for
// each kind in test/runtimes/matrix.ts (raw AES, RSA-OAEP with the checked-in fixed pair, an
// AES+AES+RSA multi-recipient envelope with 64 KiB chunks, and AES and RSA envelopes made with
// EncryptStream), each payload spanning ≥ 3 chunks; each cell decrypts one-shot, with
// DecryptStream and with decryptRange.
import { test } from 'node:test';
import { KINDS } from '../runtimes/matrix.js';
import type { ConsumeResult, Produced } from '../runtimes/protocol.js';
import { type Host, RUNTIMES, startHost } from '../../scripts/runtimes/hosts.js';

test('matrix: envelopes made in each runtime decrypt in every runtime', async (t) => {
  const hosts: Host[] = [];
  try {
    const started = await Promise.allSettled(RUNTIMES.map((name) => startHost(name)));
    for (const s of started) if (s.status === 'fulfilled') hosts.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    // A browser page names its engine from its URL; its user agent shows it is that engine.
    const engines: Record<string, RegExp> = { chromium: /Chrome\//, firefox: /Firefox\//, webkit: /AppleWebKit\/(?!.*Chrome\/)/ };
    for (const host of hosts) {
      const expected = engines[host.name];
      if (!expected) continue;
      const { userAgent } = await host.call<{ userAgent?: string }>({ op: 'ping' });
      if (!expected.test(userAgent ?? '')) throw new Error(`${host.name} host's user agent is ${userAgent}`);
    }
    const produced = await Promise.all(hosts.map((host) => host.call<Produced>({ op: 'produce' })));
    for (const [i, p] of produced.entries()) {
      if (p.runtime !== hosts[i]!.name) throw new Error(`host ${hosts[i]!.name} answered as ${p.runtime}`);
    }
    const consumed = (await Promise.all(hosts.map((host) => host.call<ConsumeResult[]>({ op: 'consume', produced })))).flat();

    const expected = RUNTIMES.length * RUNTIMES.length * KINDS.length;
    if (consumed.length !== expected) throw new Error(`expected ${expected} cells, got ${consumed.length}`);
    // producer rows × consumer columns; a cell shows how many kinds decrypted.
    const cell = (producer: string, consumer: string) => {
      const cells = consumed.filter((c) => c.producer === producer && c.consumer === consumer);
      return `${cells.filter((c) => c.ok).length}/${cells.length}`;
    };
    const lines = [
      `producer ↓ consumer →  ${RUNTIMES.map((r) => r.padEnd(9)).join('')}   (kinds: ${KINDS.map((k) => k.name).join(', ')})`,
      ...RUNTIMES.map((p) => `${p.padEnd(22)} ${RUNTIMES.map((c) => cell(p, c).padEnd(9)).join('')}`),
    ];
    for (const line of lines) t.diagnostic(line);

    const failed = consumed.filter((c) => !c.ok);
    if (failed.length) {
      throw new Error(
        `${failed.length} of ${consumed.length} cells failed:\n${lines.join('\n')}\n` +
          failed.map((f) => `- ${f.kind} made in ${f.producer}, decrypted in ${f.consumer}: ${f.error}`).join('\n'),
      );
    }
  } finally {
    await Promise.all(hosts.map((host) => host.close()));
  }
});
