/**
 * `npm run load`: the proxy in front of the local KMS on loopback under sustained keep-alive load.
 *
 * A child process (this script with --serve) runs the local KMS (`startLocalKmsServer`, fsync'd
 * hash-chained audit file) and the proxy (`startProxyServer`, JWT auth, a per-principal rate
 * limit, a file audit sink) on 127.0.0.1. This process drives the proxy with autocannon: N
 * keep-alive connections (--connections, default 128, 64 to 256 meant) for --duration seconds
 * (default 60), each request drawn from a fixed mix:
 *
 *   GenerateDataKey (own tenant)        38 %   ok, or throttled
 *   Decrypt (own tenant, real blob)     38 %   ok, or throttled
 *   hot principal (one user, GDK)        8 %   ok until its bucket (10, +1/s) is empty, then ThrottlingException
 *   denied tenant (b's token, a's ctx)   4 %   AccessDeniedException
 *   denied key (alias/secret)            3 %   AccessDeniedException
 *   bad token / expired token          2+2 %  UnrecognizedClientException / ExpiredTokenException
 *   malformed JSON                       3 %   SerializationException
 *   no token                             2 %   MissingAuthenticationTokenException
 *
 * Ordinary callers are spread over 2,000 principals so that (below ~2,000 requests/s) only the hot
 * one hits the rate limit.
 * Checks at the end: every answer matches its kind (anything else — a 5xx, an unexpected type, a
 * socket error, a timeout — counts as an error, and there must be 0); proxy RSS growth from the
 * end of warm-up to the end < 20 %; the proxy audit file has one line per request the proxy
 * answered (lines ≥ answers counted here, and at most the in-flight requests more) and its chain
 * verifies, as does the KMS's. Exit code 1 when a check fails.
 *
 * Before the measured run, a warm-up run (--warmup seconds, default 10) brings the servers to their
 * working set; RSS is compared from its end (the start figure is printed too), and the JS heap after
 * a full GC is printed next to it. The server process runs with MALLOC_ARENA_MAX=2 (--arenas, or
 * --arenas default for glibc's own): with glibc's default of 8 arenas per core, RSS keeps growing
 * for minutes as libuv's threads (fsync, crypto) each fill their own malloc arena — measured +28 %
 * in 60 s while the heap after GC stayed flat (+1 MiB) — which is allocator slack, not a leak.
 *
 *   npm run load -- --duration 60 --connections 128
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';

const JWT_SECRET = 'load-test-secret-0123456789abcdef0123456789';
const ISSUER = 'https://idp.load/';
const AUDIENCE = 'sealbox-load';
const ROOT_KEY = Buffer.alloc(32, 77).toString('base64');
const KMS_CREDS = { accessKeyId: 'AKIALOADTEST00000001', secretAccessKey: 'load-kms-secret-0123456789abcdefghijklm' };
const KEYS = { a: '0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a', b: '0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b', secret: '05050505-0505-4505-8505-050505050505' };
const RATE = { capacity: 10, refillPerSecond: 1 };

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    duration: { type: 'string', default: '60' },
    connections: { type: 'string', default: '128' },
    warmup: { type: 'string', default: '10' },
    arenas: { type: 'string', default: '2' },
  },
  strict: true,
});

interface ServeInfo {
  proxyUrl: string;
  kmsUrl: string;
  proxyAudit: string;
  kmsAudit: string;
  dir: string;
}

type Message = { type: 'ready'; info: ServeInfo } | { type: 'rss'; rss: number; heap: number; external: number } | { type: 'stopped' };

async function serve(): Promise<void> {
  const { startLocalKmsServer } = await import('../src/node/kms/index.js');
  const { startProxyServer } = await import('../src/node/proxy/node.js');
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-load-'));
  const kms = await startLocalKmsServer({
    dataDir: join(dir, 'kms'),
    port: 0,
    rootKey: ROOT_KEY,
    env: {},
    log: () => {},
    credentials: [KMS_CREDS],
    seed: {
      keys: [
        { id: KEYS.a, aliases: ['alias/tenant-a'] },
        { id: KEYS.b, aliases: ['alias/tenant-b'] },
        { id: KEYS.secret, aliases: ['alias/secret'] },
      ],
    },
  });
  const proxyAudit = join(dir, 'proxy-audit.log');
  const proxy = await startProxyServer({
    port: 0,
    config: {
      upstream: { endpoint: kms.url, region: 'us-east-1', credentials: KMS_CREDS, timeoutMs: 10_000 },
      auth: { jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE } },
      policy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'TenantUse',
            Effect: 'Allow',
            Principal: { AWS: 'jwt/*' },
            Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
            Resource: '*',
            Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}' } },
          },
          { Sid: 'NeverSecret', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: 'alias/secret' },
        ],
      },
      rateLimit: RATE,
      audit: { file: proxyAudit },
    },
  });
  const send = (m: Message) => process.send!(m);
  send({ type: 'ready', info: { proxyUrl: proxy.url, kmsUrl: kms.url, proxyAudit, kmsAudit: kms.kms.auditPath!, dir } });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'rss') {
      // After a full GC (the process runs with --expose-gc), so garbage not yet collected is not
      // mistaken for growth.
      (globalThis as { gc?: () => void }).gc?.();
      const u = process.memoryUsage();
      send({ type: 'rss', rss: u.rss, heap: u.heapUsed, external: u.external });
    } else if (m.type === 'stop') {
      void (async () => {
        await proxy.close();
        await kms.close();
        send({ type: 'stopped' });
        process.disconnect();
      })();
    }
  });
}

function waitFor<T extends Message['type']>(child: ChildProcess, type: T): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Message) => {
      if (m.type === type) {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m as Extract<Message, { type: T }>);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`server process exited (${code}) before '${type}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function rssOf(child: ChildProcess): Promise<{ rss: number; heap: number; external: number }> {
  const reply = waitFor(child, 'rss');
  child.send({ type: 'rss' });
  return reply;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

async function token(sub: string, tenant: string, opts: { expired?: boolean; secret?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, tenant })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(opts.expired ? now - 7200 : now)
    .setExpirationTime(opts.expired ? now - 3600 : now + 3 * 3600)
    .sign(new TextEncoder().encode(opts.secret ?? JWT_SECRET));
}

interface Kind {
  name: string;
  weight: number;
  /** Outcomes this kind may have (`ok` for a 200, else the error `__type`). */
  allowed: string[];
  make(): { headers: Record<string, string>; body: string; target: string };
}

async function main(): Promise<void> {
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const warmup = Number(values.warmup);
  if (!(duration > 0) || !(connections > 0) || connections > 1024 || !(warmup >= 0)) throw new Error('--duration, --connections (≤ 1024) and --warmup must be positive numbers');
  if (connections < 64 || connections > 256) console.log(`note: --connections ${connections} is outside the 64–256 the load goal is stated for`);

  const childEnv = values.arenas === 'default' ? process.env : { ...process.env, MALLOC_ARENA_MAX: values.arenas };
  const child = fork(process.argv[1]!, ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, '--expose-gc'], env: childEnv });
  const { info } = await waitFor(child, 'ready');
  const rssStart = await rssOf(child);

  // Tokens: 1,000 principals per tenant, one hot principal, and invalid ones.
  const tenants = { a: [] as string[], b: [] as string[] };
  for (const t of ['a', 'b'] as const) for (let i = 0; i < 1000; i++) tenants[t].push(`Bearer ${await token(`user-${t}-${i}`, t)}`);
  const hot = `Bearer ${await token('hot', 'a')}`;
  const expired = `Bearer ${await token('late', 'a', { expired: true })}`;
  const forged = `Bearer ${await token('forger', 'a', { secret: 'not-the-secret-0123456789abcdef0123456789' })}`;

  // Real ciphertexts to decrypt (made through the proxy, before the measurement).
  const blobs: Record<'a' | 'b', string[]> = { a: [], b: [] };
  for (const t of ['a', 'b'] as const) {
    for (let i = 0; i < 20; i++) {
      const r = await fetch(info.proxyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.GenerateDataKey', authorization: tenants[t][i]! },
        body: JSON.stringify({ KeyId: `alias/tenant-${t}`, KeySpec: 'AES_256', EncryptionContext: { tenant: t } }),
      });
      const json = (await r.json()) as { CiphertextBlob?: string; __type?: string };
      if (!json.CiphertextBlob) throw new Error(`setup GenerateDataKey failed: ${JSON.stringify(json)}`);
      blobs[t].push(json.CiphertextBlob);
    }
  }
  const setupRequests = 40;

  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
  const tenantOf = () => (Math.random() < 0.5 ? 'a' : 'b') as 'a' | 'b';
  const kinds: Kind[] = [
    {
      name: 'GenerateDataKey',
      weight: 38,
      allowed: ['ok', 'ThrottlingException'],
      make() {
        const t = tenantOf();
        return { target: 'GenerateDataKey', headers: { authorization: pick(tenants[t]) }, body: JSON.stringify({ KeyId: `alias/tenant-${t}`, KeySpec: 'AES_256', EncryptionContext: { tenant: t } }) };
      },
    },
    {
      name: 'Decrypt',
      weight: 38,
      allowed: ['ok', 'ThrottlingException'],
      make() {
        const t = tenantOf();
        return { target: 'Decrypt', headers: { authorization: pick(tenants[t]) }, body: JSON.stringify({ CiphertextBlob: pick(blobs[t]), EncryptionContext: { tenant: t } }) };
      },
    },
    {
      name: 'hot principal',
      weight: 8,
      allowed: ['ok', 'ThrottlingException'],
      make: () => ({ target: 'GenerateDataKey', headers: { authorization: hot }, body: JSON.stringify({ KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }) }),
    },
    {
      name: 'denied tenant',
      weight: 4,
      allowed: ['AccessDeniedException', 'ThrottlingException'],
      make: () => ({ target: 'Decrypt', headers: { authorization: pick(tenants.b) }, body: JSON.stringify({ CiphertextBlob: pick(blobs.a), EncryptionContext: { tenant: 'a' } }) }),
    },
    {
      name: 'denied key',
      weight: 3,
      allowed: ['AccessDeniedException', 'ThrottlingException'],
      make: () => ({ target: 'GenerateDataKey', headers: { authorization: pick(tenants.a) }, body: JSON.stringify({ KeyId: 'alias/secret', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }) }),
    },
    { name: 'bad token', weight: 2, allowed: ['UnrecognizedClientException'], make: () => ({ target: 'GenerateDataKey', headers: { authorization: Math.random() < 0.5 ? forged : 'Bearer not.a.jwt' }, body: '{}' }) },
    { name: 'expired token', weight: 2, allowed: ['ExpiredTokenException'], make: () => ({ target: 'Decrypt', headers: { authorization: expired }, body: '{}' }) },
    {
      name: 'malformed JSON',
      weight: 3,
      allowed: ['SerializationException', 'ThrottlingException'],
      make: () => ({ target: 'GenerateDataKey', headers: { authorization: pick(tenants.a) }, body: pick(['{"KeyId":', 'not json', '[1,2]', '{"KeyId":"alias/tenant-a",}']) }),
    },
    { name: 'no token', weight: 2, allowed: ['MissingAuthenticationTokenException'], make: () => ({ target: 'GenerateDataKey', headers: {}, body: '{}' }) },
  ];
  const totalWeight = kinds.reduce((n, k) => n + k.weight, 0);
  const drawKind = () => {
    let r = Math.random() * totalWeight;
    for (const k of kinds) if ((r -= k.weight) < 0) return k;
    return kinds[0]!;
  };

  const outcomes = new Map<string, number>();
  const unexpected = new Map<string, number>();
  let answered = 0;
  let counting = false;
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

  const autocannon = createRequire(import.meta.url)('autocannon') as (o: Record<string, unknown>) => Promise<AutocannonResult>;
  interface AutocannonResult {
    requests: { average: number; total: number; sent: number };
    latency: { p50: number; p99: number; average: number; max: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
  }
  const request = {
    method: 'POST',
    path: '/',
    setupRequest(req: Record<string, unknown>, context: Record<string, unknown>) {
      const kind = drawKind();
      const r = kind.make();
      context.kind = kind;
      return {
        ...req,
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${r.target}`, ...r.headers },
        body: r.body,
      };
    },
    onResponse(status: number, body: string, context: Record<string, unknown>) {
      answered++;
      const kind = context.kind as Kind;
      let outcome: string;
      if (status === 200) outcome = 'ok';
      else {
        try {
          outcome = String((JSON.parse(body) as { __type?: unknown }).__type ?? `HTTP ${status}`);
        } catch {
          outcome = `HTTP ${status} (not JSON)`;
        }
        if (status >= 500) outcome = `${outcome} (${status})`;
      }
      if (!counting) return;
      count(outcomes, `${kind.name}: ${outcome}`);
      if (!kind.allowed.includes(outcome)) count(unexpected, `${kind.name}: ${outcome}`);
    },
  };
  const run = (seconds: number) =>
    autocannon({ url: info.proxyUrl, connections, duration: seconds, pipelining: 1, timeout: 20, requests: [request] });

  console.log(`proxy ${info.proxyUrl} → local KMS ${info.kmsUrl}; ${connections} keep-alive connections, ${warmup} s warm-up, ${duration} s measured`);
  if (warmup > 0) await run(warmup);
  const rssWarm = await rssOf(child);
  counting = true;
  const started = Date.now();
  const samples: number[] = [];
  const sampler = setInterval(() => void rssOf(child).then((r) => samples.push(r.rss)), 10_000);
  const result = await run(duration);
  clearInterval(sampler);
  counting = false;
  const elapsed = (Date.now() - started) / 1000;
  const rssEnd = await rssOf(child);
  // Let in-flight requests finish and be audited, then stop the servers (closing flushes the audit
  // files; the proxy server's close drops connections, so a request still in flight then is refused).
  await new Promise((r) => setTimeout(r, Math.min(20_000, result.latency.max + 1000)));
  const stopped = waitFor(child, 'stopped');
  child.send({ type: 'stop' });
  await stopped;

  const { verifyAuditChain } = await import('../src/edge/audit/chain.js');
  const { nodeSha256 } = await import('../src/node/kms/audit-file.js');
  const proxyLines = (await readFile(info.proxyAudit, 'utf8')).split('\n');
  const proxyChain = await verifyAuditChain(proxyLines, nodeSha256);
  const kmsChain = await verifyAuditChain((await readFile(info.kmsAudit, 'utf8')).split('\n'), nodeSha256);
  const proxyRecords = proxyLines.filter((l) => l !== '').length;

  const totalAnswers = answered + setupRequests;
  const growth = (rssEnd.rss - rssWarm.rss) / rssWarm.rss;
  const errors = [...unexpected.values()].reduce((a, b) => a + b, 0) + result.errors + result.timeouts;

  console.log('\nresults');
  console.log(`  requests/s      ${result.requests.average.toFixed(0)} (${result.requests.total} answered in ${elapsed.toFixed(1)} s)`);
  console.log(`  latency         p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`);
  console.log(`  socket errors   ${result.errors}, timeouts ${result.timeouts}`);
  console.log('  outcomes (measured part):');
  for (const [k, n] of [...outcomes].sort((x, y) => y[1] - x[1])) console.log(`    ${String(n).padStart(8)}  ${k}`);
  console.log(`  unexpected      ${errors}${unexpected.size ? ` (${[...unexpected].map(([k, n]) => `${k} ×${n}`).join(', ')})` : ''}`);
  console.log(`  server RSS      start ${mib(rssStart.rss)}, after warm-up ${mib(rssWarm.rss)}, end ${mib(rssEnd.rss)} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} % since warm-up); samples ${samples.map(mib).join(', ')}`);
  console.log(`  server heap     after GC: start ${mib(rssStart.heap)}, after warm-up ${mib(rssWarm.heap)}, end ${mib(rssEnd.heap)} (external ${mib(rssWarm.external)} → ${mib(rssEnd.external)})`);
  console.log(`  proxy audit     ${proxyRecords} lines for ${totalAnswers} answers seen here (incl. ${setupRequests} setup, warm-up counted); chain ${proxyChain.ok ? 'verifies' : `BROKEN at line ${proxyChain.line}: ${proxyChain.reason}`}`);
  console.log(`  KMS audit       ${kmsChain.count} lines; chain ${kmsChain.ok ? 'verifies' : `BROKEN at line ${kmsChain.line}: ${kmsChain.reason}`}`);

  const failures: string[] = [];
  if (errors > 0) failures.push(`${errors} unexpected answers or errors`);
  if (growth >= 0.2) failures.push(`RSS grew ${(growth * 100).toFixed(1)} %`);
  if (!proxyChain.ok || !kmsChain.ok) failures.push('an audit chain does not verify');
  // Every answer has its line; the audit may hold a few more (answers in flight when autocannon stopped).
  if (proxyRecords < totalAnswers) failures.push(`${totalAnswers - proxyRecords} audit lines missing`);
  if (proxyRecords > totalAnswers + 2 * connections) failures.push(`${proxyRecords - totalAnswers} more audit lines than answers`);
  console.log(failures.length ? `\nFAIL: ${failures.join('; ')}` : '\nok: 0 unexpected errors, RSS growth < 20 %, no audit line missing');
  await rm(info.dir, { recursive: true, force: true });
  process.exitCode = failures.length ? 1 : 0;
}

if (values.serve) await serve();
else await main();
