// The noble fallback with crypto.subtle removed (test/runtimes/fallback.ts):
// - in Node, Deno, Bun, workerd and Chromium, envelopes and primitives made without crypto.subtle are byte-identical
//   to the WebCrypto ones (same salt, same seeded data key and IVs) and the same in every runtime,
//   each backend decrypts the other's, tampering fails the same way on both; RSA without
//   crypto.subtle is ERR_UNSUPPORTED, for encrypt and decrypt;
// - in Chromium (a page on plain HTTP is where crypto.subtle is really missing), every case of
//   the shared suite passes without crypto.subtle, or is skipped because it needs RSA (its error
//   must be RSA's ERR_UNSUPPORTED; any other failure fails the test). The whole suite on pure-JS
//   AES is the costly part (tens of seconds), so it runs in one runtime; add a name to WITH_SUITE
//   to run it in another.
import { test } from 'node:test';
import type { FallbackReport } from '../runtimes/protocol.js';
import { RUNTIMES as ALL_RUNTIMES, withHost } from '../../scripts/runtimes/hosts.js';

// Chromium stands for the browsers here: Firefox and WebKit run the shared suite with WebCrypto
// (npm test's browser part) and the matrix, not this check (two more browser launches in npm test).
const RUNTIMES = ALL_RUNTIMES.filter((name) => name !== 'firefox' && name !== 'webkit');

const WITH_SUITE = new Set(['chromium']);
const reports = new Map(
  RUNTIMES.map((name) => {
    const report = withHost(name, (host) => host.call<FallbackReport>({ op: 'fallback', cases: WITH_SUITE.has(name) }));
    report.catch(() => {}); // reported by the tests below
    return [name, report] as const;
  }),
);

for (const name of RUNTIMES) {
  test(`noble fallback in ${name}`, async (t) => {
    const report = await reports.get(name)!;
    if (!report.subtleRemoved) throw new Error(`${name}: crypto.subtle could not be removed`);
    const problems: string[] = [];
    for (const c of report.comparisons) {
      await t.test(`byte-identical: ${c.name}`, () => {
        if (!c.identical || !c.crossDecrypt) {
          problems.push(`${c.name}: ${c.error}`);
          throw new Error(`${name}: ${c.error}`);
        }
      });
    }
    await t.test('RSA without crypto.subtle is ERR_UNSUPPORTED', () => {
      if (report.rsa.encrypt !== 'ERR_UNSUPPORTED' || report.rsa.decrypt !== 'ERR_UNSUPPORTED') {
        problems.push(`RSA: encrypt ${report.rsa.encrypt}, decrypt ${report.rsa.decrypt}`);
        throw new Error(`encrypt gave ${report.rsa.encrypt}, decrypt gave ${report.rsa.decrypt}`);
      }
    });
    for (const c of report.cases) {
      await t.test(c.name, { skip: c.status === 'skipped-rsa' ? 'needs RSA (ERR_UNSUPPORTED without crypto.subtle)' : false }, () => {
        if (c.status === 'fail') {
          problems.push(`${c.name}: ${c.error}`);
          throw new Error(`${name}: ${c.error}`);
        }
      });
    }
    const passed = report.cases.filter((c) => c.status === 'pass').length;
    if (WITH_SUITE.has(name) && passed === 0) problems.push('no suite case passed without crypto.subtle');
    if (problems.length) throw new Error(`${name} without crypto.subtle:\n- ${problems.join('\n- ')}`);
  });
}

test('noble fallback: the same bytes in every runtime', async () => {
  const settled = await Promise.allSettled(RUNTIMES.map((name) => reports.get(name)!));
  const digests = new Map<string, string[]>();
  for (const [i, s] of settled.entries()) {
    if (s.status !== 'fulfilled') continue; // its own test reports it
    for (const c of s.value.comparisons) {
      if (c.noble) digests.set(`${c.name} = ${c.noble}`, [...(digests.get(`${c.name} = ${c.noble}`) ?? []), RUNTIMES[i]!]);
    }
  }
  const names = new Set([...digests.keys()].map((k) => k.split(' = ')[0]));
  if (digests.size !== names.size) {
    throw new Error(`runtimes disagree:\n${[...digests].map(([k, v]) => `${k}: ${v.join(', ')}`).join('\n')}`);
  }
});
