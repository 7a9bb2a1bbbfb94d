/**
 * `sealbox audit watch`: the rules on real audit files (--once, exit codes, JSON), and follow mode on
 * a file that grows, is rotated and truncated, and has a line that breaks its chain.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GENESIS_HASH, chainLine } from '../../../src/edge/audit/chain.js';
import { RuleEngine, parseRules, RulesError, type Alert } from '../../../src/edge/audit/rules.js';
import { watchAudit } from '../../../src/node/audit/watch.js';
import { ROOT, cliScript, runCli } from './cli.js';
import { TENANT_A, TENANT_B, makeAuditFiles, type AuditFixture } from './fixture.js';

let fx: AuditFixture;
let script: string;
let rules: string;
before(async () => {
  fx = await makeAuditFiles();
  script = await cliScript(fx.dir);
  rules = join(fx.dir, 'rules.json');
  await writeFile(rules, JSON.stringify({ tenants: { pattern: 'alias/tenant-<t>', keys: { [TENANT_A]: 'a', [TENANT_B]: 'b' } } }));
});
after(() => fx.cleanup());

test('watch --once on the proxy file: each rule fires where it should; exit 5', async () => {
  const r = await runCli(script, ['audit', 'watch', fx.proxyAudit, '--once', '--rules', rules, '--max-denials', '2/60s']);
  assert.equal(r.code, 5, r.err);
  const alerts = r.out.trim().split('\n').map((l) => l.replace(/^ALERT \S+ /, '').replace(/ \(\S+:(\d+)\)$/, ' @$1'));
  assert.deepEqual(alerts, [
    `new-principal-on-key jwt/alice ${TENANT_A} jwt/alice used ${TENANT_A} for the first time (GenerateDataKey) @1`,
    `new-principal-on-key jwt/bob ${TENANT_A} jwt/bob used ${TENANT_A} for the first time (Decrypt) @3`,
    `denials jwt/carol ${TENANT_A} jwt/carol: 3 denials within 60s (more than 2) @6`,
    `new-principal-on-key jwt/alice ${TENANT_B} jwt/alice used ${TENANT_B} for the first time (GenerateDataKey) @8`,
    `cross-tenant jwt/alice ${TENANT_B} jwt/alice called GenerateDataKey (allow) on b's key alias/tenant-b with tenant=a @8`,
    `key-state jwt/dave ${TENANT_B} jwt/dave called GenerateDataKey on alias/tenant-b, which is disabled (DisabledException) @9`,
  ]);
  assert.match(r.err, /9 records verified, 6 alerts/);
});

test("watch --once --json on the KMS's file: the disabled key and the cross-tenant use by key ARN", async () => {
  const r = await runCli(script, ['audit', 'watch', fx.kmsAudit, '--once', '--json', '--rules', rules]);
  assert.equal(r.code, 5, r.err);
  const alerts = r.out.trim().split('\n').map((l) => JSON.parse(l) as Alert);
  assert.deepEqual(alerts.map((a) => [a.rule, a.keyId]), [
    ['new-principal-on-key', TENANT_A],
    ['new-principal-on-key', TENANT_B],
    ['cross-tenant', TENANT_B],
    ['key-state', TENANT_B],
  ]);
  assert.ok(alerts.every((a) => a.principal === fx.kmsPrincipal && a.file === fx.kmsAudit && typeof a.line === 'number' && typeof a.requestId === 'string'));
  assert.match(alerts[3]!.message, /which is disabled \(DisabledException\)$/);
});

test('watch --once: no alerts exit 0 (everything before --since is baseline); bad rules are usage errors', async () => {
  const lines = (await readFile(fx.proxyAudit, 'utf8')).trim().split('\n');
  const last = (JSON.parse(lines.at(-1)!) as { time: string }).time;
  const quiet = await runCli(script, ['audit', 'watch', fx.proxyAudit, '--once', '--rules', rules, '--since', new Date(Date.parse(last) + 1).toISOString()]);
  assert.equal(quiet.code, 0, quiet.err);
  assert.equal(quiet.out, '');
  await writeFile(join(fx.dir, 'bad-rules.json'), JSON.stringify({ maxDenail: 3 }));
  const bad = await runCli(script, ['audit', 'watch', fx.proxyAudit, '--once', '--rules', join(fx.dir, 'bad-rules.json')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown rule "maxDenail"/);
  assert.equal((await runCli(script, ['audit', 'watch', fx.proxyAudit, '--once', '--max-denials', 'many'])).code, 2);
  assert.throws(() => parseRules({ tenants: { pattern: 'alias/tenant' } }), RulesError);
});

// ── follow mode on a synthetic (but properly chained) proxy audit file ──────────────────────────

let clock = Date.parse('2026-06-01T12:00:00Z');
function rec(principal: string, op: string, keyId: string, outcome: 'allow' | 'deny' | 'error', extra: Record<string, unknown> = {}): Record<string, unknown> {
  clock += 1000;
  return { time: new Date(clock).toISOString(), requestId: `r${clock}`, principal, authType: 'jwt', op, keyId, outcome, status: outcome === 'allow' ? 200 : 400, ...extra };
}
class Writer {
  prev = GENESIS_HASH;
  constructor(readonly path: string) {}
  async add(...records: Record<string, unknown>[]): Promise<void> {
    let text = '';
    for (const r of records) {
      const { line, hash } = await chainLine(r, this.prev);
      this.prev = hash;
      text += `${line}\n`;
    }
    await appendFile(this.path, text);
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('follow mode: the existing lines are a baseline; new lines alert; rotation, truncation and a broken chain are handled', async () => {
  const path = join(fx.dir, 'follow.log');
  const w = new Writer(path);
  await w.add(rec('jwt/alice', 'Decrypt', 'k1', 'allow'));
  const alerts: Alert[] = [];
  const notes: string[] = [];
  const controller = new AbortController();
  const done = watchAudit({ file: path, rules: { maxDenials: 1 }, pollMs: 20, signal: controller.signal, onAlert: (a) => alerts.push(a), log: (m) => notes.push(m) });
  const seen = () => alerts.map((a) => `${a.rule} ${a.principal} ${a.keyId} @${a.line}`);

  // alice on k1 was there before: baseline. bob on k1 is new; a second line from alice is not.
  await w.add(rec('jwt/alice', 'Decrypt', 'k1', 'allow'), rec('jwt/bob', 'Decrypt', 'k1', 'allow'));
  await until(() => alerts.length === 1, 'bob on k1');
  assert.deepEqual(seen(), ['new-principal-on-key jwt/bob k1 @3']);

  // A torn write: half a line now, the rest later; one alert, when the line is complete.
  const { line, hash } = await chainLine(rec('jwt/carol', 'Decrypt', 'k1', 'deny'), w.prev);
  w.prev = hash;
  await appendFile(path, line.slice(0, 40));
  await new Promise((r) => setTimeout(r, 100));
  await appendFile(path, `${line.slice(40)}\n`);
  await w.add(rec('jwt/carol', 'Decrypt', 'k1', 'deny'));
  await until(() => alerts.length === 2, 'carol denials');
  assert.deepEqual(seen().slice(1), ['denials jwt/carol k1 @5']);

  // Rotation: the old file gets one more line (read to its end), then a new file with a new chain.
  await rename(path, `${path}.1`);
  await appendFile(`${path}.1`, '');
  const old = new Writer(`${path}.1`);
  old.prev = w.prev;
  await old.add(rec('jwt/dave', 'Encrypt', 'k1', 'allow'));
  const w2 = new Writer(path);
  await w2.add(rec('jwt/erin', 'Encrypt', 'k2', 'allow'));
  await until(() => alerts.length === 4, 'dave on the old file and erin on the new one');
  // (in either order: the old file is still read for a while after the switch, as its writer may append to it)
  assert.deepEqual(seen().slice(2).sort(), ['new-principal-on-key jwt/dave k1 @6', 'new-principal-on-key jwt/erin k2 @1']);
  assert.ok(notes.some((n) => /was rotated/.test(n)));

  // Truncation: the file starts again (a new chain).
  await truncate(path, 0);
  const w3 = new Writer(path);
  await w3.add(rec('jwt/frank', 'Encrypt', 'k2', 'allow'), rec('jwt/frank', 'Encrypt', 'k3', 'allow'));
  await until(() => alerts.length === 6, 'frank after truncation');
  assert.deepEqual(seen().slice(4), ['new-principal-on-key jwt/frank k2 @1', 'new-principal-on-key jwt/frank k3 @2']);
  assert.ok(notes.some((n) => /was truncated/.test(n)));

  // A line that does not link (one was removed before it): a chain alert; the watcher resynchronises.
  const gap = new Writer(path);
  gap.prev = 'f'.repeat(64);
  await gap.add(rec('jwt/gina', 'Decrypt', 'k3', 'allow'), rec('jwt/hank', 'Decrypt', 'k3', 'allow'));
  await until(() => alerts.length === 8, 'the break and hank');
  assert.deepEqual(seen().slice(6), ['chain - null @3', 'new-principal-on-key jwt/hank k3 @4']);
  assert.match(alerts[6]!.message, /chain broken: prevHash does not match/);

  controller.abort();
  // 1 + 2 + 2 + 1 (old file) + 1 (new) + 2 (after truncation) + 1 (hank; gina's line broke the chain)
  const result = await done;
  assert.deepEqual([result.alerts, result.verified, result.state?.lineNo], [8, 10, 4]);
});

test('sealbox audit watch (follow, --json): prints an alert as a line appears; SIGTERM exits 0', async () => {
  const path = join(fx.dir, 'follow-cli.log');
  const w = new Writer(path);
  await w.add(rec('jwt/alice', 'Decrypt', 'k1', 'allow'));
  const child = spawn(process.execPath, ['--import', 'tsx', script, 'audit', 'watch', path, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  await until(() => /following .*follow-cli\.log \(1 records verified so far\)/.test(err), 'the watcher to start following');
  await w.add(rec('jwt/zed', 'GenerateDataKey', 'k9', 'error', { errorType: 'KMSInvalidStateException' }));
  await until(() => out.includes('\n'), 'the alert line');
  child.kill('SIGTERM');
  assert.equal(await closed, 0);
  const a = JSON.parse(out.trim()) as Alert;
  assert.equal(a.rule, 'key-state');
  assert.equal(a.message, 'jwt/zed called GenerateDataKey on k9, which is not in a usable state (pending deletion or import) (KMSInvalidStateException)');
});

test('rules engine: the denial window slides; one alert per principal per window', () => {
  const e = new RuleEngine({ maxDenials: 2, windowSeconds: 10, newPrincipalOnKey: false });
  const at = (s: number) => ({ source: 'proxy' as const, time: new Date(s * 1000).toISOString(), ms: s * 1000, principal: 'p', op: 'Decrypt', keyId: 'k', outcome: 'deny' as const });
  const fired = [0, 1, 2, 3, 9, 20, 21, 22].map((s) => e.observe(at(s)).length);
  // 3rd denial in 10 s alerts (t=2); t=3 and t=9 are within the alert's window; t=22 is the 3rd in a new window.
  assert.deepEqual(fired, [0, 0, 1, 0, 0, 0, 0, 1]);
});

test('watch --once --state: each cron run alerts on what is new since the last, remembering who used which key', async () => {
  const path = join(fx.dir, 'cron.log');
  const state = join(fx.dir, 'cron-state.json');
  const w = new Writer(path);
  await w.add(rec('jwt/alice', 'Decrypt', 'k1', 'allow'), rec('jwt/bob', 'Decrypt', 'k1', 'allow'));
  const run = async () => {
    const r = await runCli(script, ['audit', 'watch', path, '--once', '--state', state]);
    return { code: r.code, alerts: r.out.trim() === '' ? [] : r.out.trim().split('\n').map((l) => l.replace(/^ALERT \S+ (\S+) (\S+) .* \(\S+:(\d+)\)$/, '$1 $2 @$3')), err: r.err };
  };
  assert.deepEqual(await run(), { code: 5, alerts: ['new-principal-on-key jwt/alice @1', 'new-principal-on-key jwt/bob @2'], err: `sealbox audit: ${path}: 2 records verified, 2 alerts\n` });
  assert.deepEqual((await run()).alerts, []);
  assert.equal((await run()).code, 0);
  await w.add(rec('jwt/carol', 'Decrypt', 'k1', 'allow'), rec('jwt/alice', 'Decrypt', 'k1', 'allow'));
  const third = await run();
  assert.deepEqual([third.code, third.alerts], [5, ['new-principal-on-key jwt/carol @3']]);
  assert.match(third.err, /: 2 records verified, 1 alert\n$/);
  const saved = JSON.parse(await readFile(state, 'utf8')) as { lineNo: number; rules: { seen: Record<string, string[]> } };
  assert.equal(saved.lineNo, 4);
  assert.deepEqual(saved.rules.seen, { k1: ['jwt/alice', 'jwt/bob', 'jwt/carol'] });
  // The file starts over (rotated or truncated): read from its start, with what was learnt kept.
  await truncate(path, 0);
  const w2 = new Writer(path);
  await w2.add(rec('jwt/alice', 'Decrypt', 'k1', 'allow'), rec('jwt/dave', 'Decrypt', 'k1', 'allow'));
  const fourth = await run();
  assert.deepEqual([fourth.code, fourth.alerts], [5, ['new-principal-on-key jwt/dave @2']]);
  assert.match(fourth.err, /is not the file the state was saved for/);
});
