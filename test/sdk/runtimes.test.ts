// The shared conformance suite (test/suite, `allCases`) in Deno, Bun and Cloudflare workerd. Node
// runs it in conformance.test.ts, and Chromium, Firefox and WebKit under web-test-runner. The three runtimes run at
// the same time; each gets one test, with one subtest per case, failing with the case's error.
import { test } from 'node:test';
import type { SuiteReport } from '../runtimes/protocol.js';
import { type RuntimeName, withHost } from '../../scripts/runtimes/hosts.js';
import { allCases } from '../suite/index.js';

const runtimes: RuntimeName[] = ['deno', 'bun', 'workerd'];
const reports = new Map(
  runtimes.map((name) => {
    const report = withHost(name, async (host) => {
      const { evalAllowed } = await host.call<{ evalAllowed: boolean }>({ op: 'ping' });
      // workerd refuses eval / new Function: the suite there proves the library never needs them.
      if (name === 'workerd' && evalAllowed) throw new Error('workerd allowed new Function: the eval-free check means nothing');
      return host.call<SuiteReport>({ op: 'suite' });
    });
    report.catch(() => {}); // reported by the test below
    return [name, report] as const;
  }),
);

for (const name of runtimes) {
  test(`conformance suite in ${name}`, async (t) => {
    const report = await reports.get(name)!;
    const names = report.results.map((r) => r.name);
    for (const testCase of allCases) {
      if (!names.includes(testCase.name)) throw new Error(`${name} did not run "${testCase.name}"`);
    }
    const failed = report.results.filter((r) => !r.ok);
    for (const result of report.results) {
      await t.test(result.name, () => {
        if (!result.ok) throw new Error(`${name}: ${result.error}`);
      });
    }
    if (failed.length) {
      throw new Error(`${failed.length} of ${report.results.length} cases failed in ${name}:\n${failed.map((f) => `- ${f.name}\n  ${f.error}`).join('\n')}`);
    }
  });
}
