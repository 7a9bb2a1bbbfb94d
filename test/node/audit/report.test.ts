/**
 * `sealbox audit report` over real audit files (a proxy's and a local KMS's, written by a known mix
 * of calls: fixture.ts): exact counts by principal, key and operation; a tampered file is reported up
 * to its break, with the line, and a non-zero exit.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { auditReport, formatReport } from '../../../src/node/audit/report.js';
import { cliScript, runCli } from './cli.js';
import { TENANT_A, TENANT_B, makeAuditFiles, type AuditFixture } from './fixture.js';

let fx: AuditFixture;
let script: string;
before(async () => {
  fx = await makeAuditFiles();
  script = await cliScript(fx.dir);
});
after(() => fx.cleanup());

const c = (calls: number, allow: number, deny: number, error: number, throttled = 0) => ({ calls, allow, deny, error, throttled });
const counts = (g: { calls: number; allow: number; deny: number; error: number; throttled: number }) => c(g.calls, g.allow, g.deny, g.error, g.throttled);

test('the proxy file: verified, and grouped by principal, key and operation', async () => {
  const r = await auditReport([fx.proxyAudit]);
  assert.equal(r.ok, true);
  assert.deepEqual(r.files.map((f) => [f.ok, f.verified, f.counted, f.unknown]), [[true, 9, 9, 0]]);
  assert.deepEqual(counts(r.summary.totals), c(9, 4, 4, 1));
  assert.deepEqual(
    r.summary.byPrincipal.map((p) => [p.name, counts(p), p.keys]),
    [
      ['jwt/carol', c(4, 0, 4, 0), [{ keyId: TENANT_A, calls: 4 }]],
      ['jwt/alice', c(3, 3, 0, 0), [{ keyId: TENANT_A, calls: 2 }, { keyId: TENANT_B, calls: 1 }]],
      ['jwt/bob', c(1, 1, 0, 0), [{ keyId: TENANT_A, calls: 1 }]],
      ['jwt/dave', c(1, 0, 0, 1), [{ keyId: TENANT_B, calls: 1 }]],
    ],
  );
  assert.deepEqual(
    r.summary.byKey.map((k) => [k.name, counts(k), k.principals, k.topPrincipals]),
    [
      [TENANT_A, c(7, 3, 4, 0), 3, [{ principal: 'jwt/carol', calls: 4 }, { principal: 'jwt/alice', calls: 2 }, { principal: 'jwt/bob', calls: 1 }]],
      [TENANT_B, c(2, 1, 0, 1), 2, [{ principal: 'jwt/alice', calls: 1 }, { principal: 'jwt/dave', calls: 1 }]],
    ],
  );
  assert.deepEqual(r.summary.byOp.map((o) => [o.name, counts(o)]), [['Decrypt', c(5, 1, 4, 0)], ['GenerateDataKey', c(4, 3, 0, 1)]]);
  const lines = (await readFile(fx.proxyAudit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { time: string });
  assert.equal(r.summary.totals.first, lines[0]!.time);
  assert.equal(r.summary.totals.last, lines.at(-1)!.time);
  assert.equal(r.summary.byPrincipal[0]!.first, lines[3]!.time);
});

test("the KMS's file and the proxy's together: each chain verified; the KMS sees the proxy's credential", async () => {
  const kmsLines = (await readFile(fx.kmsAudit, 'utf8')).trim().split('\n').length;
  const r = await auditReport([fx.proxyAudit, fx.kmsAudit]);
  assert.deepEqual(r.files.map((f) => [f.ok, f.verified]), [[true, 9], [true, kmsLines]]);
  const kms = r.summary.byPrincipal.find((p) => p.name === fx.kmsPrincipal)!;
  assert.deepEqual(counts(kms), c(kmsLines, kmsLines - 1, 0, 1));
  assert.deepEqual(counts(r.summary.totals), c(9 + kmsLines, 4 + kmsLines - 1, 4, 2));
});

test('--since: only records from then on are counted (all are still verified)', async () => {
  const lines = (await readFile(fx.proxyAudit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { time: string });
  const r = await auditReport([fx.proxyAudit], { since: Date.parse(lines[7]!.time) });
  assert.deepEqual(r.files.map((f) => [f.verified, f.counted]), [[9, 2]]);
  assert.deepEqual(counts(r.summary.totals), c(2, 1, 0, 1));
});

test('sealbox audit report: text by key, JSON, and a tampered file (exit 4, the break named, what verified reported)', async () => {
  const text = await runCli(script, ['audit', 'report', fx.proxyAudit, '--by', 'key']);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, new RegExp(`^${fx.proxyAudit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: chain verified, 9 records \\(last hash [0-9a-f]{64}\\)\n`));
  assert.match(text.out, /\nTotals: 9 calls: 4 allowed, 4 denied, 1 errors, 0 throttled\n/);
  assert.match(text.out, new RegExp(`  ${TENANT_A}: 7 calls: 3 allowed, 4 denied, 0 errors, 0 throttled\n    first \\S+  last \\S+\n    3 principals; top: jwt/carol \\(4\\), jwt/alice \\(2\\), jwt/bob \\(1\\)\n`));
  assert.match((await runCli(script, ['audit', 'report', fx.proxyAudit])).out, /jwt\/alice: 3 calls: 3 allowed[^\n]*\n[^\n]*\n    key [^\n]*0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a: 2\n/);
  const json = await runCli(script, ['audit', 'report', fx.proxyAudit, fx.kmsAudit, '--json']);
  assert.equal(json.code, 0, json.err);
  const parsed = JSON.parse(json.out) as Awaited<ReturnType<typeof auditReport>>;
  assert.deepEqual(parsed, await auditReport([fx.proxyAudit, fx.kmsAudit]));

  // Edit the fifth line (carol's second denial becomes an allow): the chain breaks there.
  const lines = (await readFile(fx.proxyAudit, 'utf8')).split('\n');
  lines[4] = lines[4]!.replace('"outcome":"deny"', '"outcome":"allow"');
  const tampered = join(fx.dir, 'tampered.log');
  await writeFile(tampered, lines.join('\n'));
  const bad = await runCli(script, ['audit', 'report', tampered]);
  assert.equal(bad.code, 4);
  assert.match(bad.out, /tampered\.log: CHAIN BROKEN at line 5: hash does not match the line \(edited\); the report covers the 4 records before it\n/);
  assert.match(bad.out, /Totals: 4 calls: 3 allowed, 1 denied, 0 errors, 0 throttled/);
  assert.match(bad.err, /tampered\.log:5: chain broken/);
  const r = await auditReport([tampered]);
  assert.deepEqual(r.files[0]!.broken, { line: 5, reason: 'hash does not match the line (edited)' });
  assert.ok(formatReport(r, 'op').includes('By operation:\n  Decrypt: 2 calls: 1 allowed, 1 denied, 0 errors, 0 throttled\n'));
});

test('sealbox audit report: usage errors and a missing file', async () => {
  assert.equal((await runCli(script, ['audit', 'report', fx.proxyAudit, '--by', 'region'])).code, 2);
  assert.equal((await runCli(script, ['audit', 'report', fx.proxyAudit, '--since', 'yesterday'])).code, 2);
  assert.equal((await runCli(script, ['audit', 'report', join(fx.dir, 'missing.log')])).code, 1);
});
