// `npm run bench:proxy`: the proxy's throughput and cost per call, against the local KMS it fronts,
// in one run.
//
// Three processes on loopback, as in a deployment: the local KMS (its own process, fsync'd audit
// file), the proxy (its own process: `startProxyServer`, JWT callers with HS256 tokens, the proxy
// policy, a per-principal rate limit generous enough never to throttle, a file audit sink) and this
// process, the load generator (autocannon, keep-alive connections). Each connection is one JWT
// principal of tenant `bench`; its requests alternate GenerateDataKey and Decrypt (a real data key
// of that tenant). Then the same mix is sent to the local KMS directly (SigV4-signed; the KMS, like
// AWS, accepts a signed request again within its 5-minute window), so the two rates come from the
// same run on the same machine; and once more through a bare forwarder (node:http in, undici out,
// no work at all), the floor any Node proxy starts from. The servers run bundled by esbuild.
//
// Printed: req/s, p50/p99 latency, the proxy's CPU µs per call (all threads, and its main thread;
// from /proc), the KMS's CPU µs per call under each load, the ratio proxied ÷ direct, the targets,
// then one JSON line. Options: --duration <s> (default 10), --connections <n> (default 64),
// --warmup <s> (default 3); BENCH_PROXY_NODE_ARGS adds node flags to the proxy process.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AwsV4Signer } from 'aws4fetch';
import { SignJWT } from 'jose';
import { bundleSelf } from './lib/bundle-self.js';

const ROOT_KEY = Buffer.alloc(32, 43).toString('base64');
const KMS_CREDS = { accessKeyId: 'AKIABENCHPROXYKMS001', secretAccessKey: 'bench-proxy-kms-secret-not-for-production' };
const JWT = { secret: 'bench-proxy-jwt-secret-0123456789abcdef0123', issuer: 'https://idp.bench/', audience: 'sealbox-bench' };
const KEY_ID = '0e0e0e0e-0e0e-4e0e-8e0e-0e0e0e0e0e0e';
const CONTEXT = { tenant: 'bench' };

const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    dir: { type: 'string' },
    kms: { type: 'string' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '3' },
  },
  strict: true,
});

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

if (values.server === 'kms') {
  const { startLocalKmsServer } = await import('../src/node/kms/index.js');
  const server = await startLocalKmsServer({
    dataDir: values.dir!,
    port: 0,
    rootKey: ROOT_KEY,
    env: { SEALBOX_KMS_ACCESS_KEY_ID: KMS_CREDS.accessKeyId, SEALBOX_KMS_SECRET_ACCESS_KEY: KMS_CREDS.secretAccessKey },
    log: () => {},
    seed: { keys: [{ id: KEY_ID, aliases: ['alias/bench'], description: 'bench:proxy' }] },
  });
  process.stdout.write(`${server.url}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else if (values.server === 'proxy') {
  const { startProxyServer } = await import('../src/node/proxy/node.js');
  const server = await startProxyServer({
    port: 0,
    config: {
      upstream: { endpoint: values.kms!, region: 'us-east-1', credentials: KMS_CREDS, timeoutMs: 10_000 },
      auth: { jwt: { secret: JWT.secret, issuer: JWT.issuer, audience: JWT.audience } },
      policy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'TenantCallers',
            Effect: 'Allow',
            Principal: { AWS: 'jwt/*' },
            Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
            Resource: '*',
            Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}' } },
          },
        ],
      },
      rateLimit: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
      audit: { file: join(values.dir!, 'proxy-audit.log') },
    },
  });
  process.stdout.write(`${server.url}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else if (values.server === 'forwarder') {
  // The floor under any Node proxy: node:http in, the same undici pool out, the body passed through
  // untouched (no authentication, checks, policy, signing or audit); the KMS verifies the caller's
  // own signature, so the bench's SigV4-signed direct requests go through it unchanged.
  const { createServer } = await import('node:http');
  const { Pool } = await import('undici');
  const upstream = new Pool(values.kms!, { connections: 256 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length') headers[k] = v;
      upstream
        .request({ path: req.url ?? '/', method: 'POST', headers, body: Buffer.concat(chunks) })
        .then(async (r) => {
          const text = await r.body.text();
          res.writeHead(r.statusCode, { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(Buffer.byteLength(text)) });
          res.end(text);
        })
        .catch(() => res.destroy());
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as { port: number }).port}\n`));
  process.once('SIGTERM', () => process.exit(0));
} else {
  await main();
}

/** CPU seconds a process has used (all threads, and its main thread), from /proc; undefined elsewhere. */
async function cpuSeconds(pid: number): Promise<{ all: number; main: number } | undefined> {
  const ticks = async (path: string) => {
    const stat = await readFile(path, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  try {
    return { all: await ticks(`/proc/${pid}/stat`), main: await ticks(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const warmup = Number(values.warmup);
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-bench-proxy-'));
  const script = await bundleSelf(import.meta.url, join(dir, 'bench-proxy.mjs'));
  const children: ReturnType<typeof spawn>[] = [];
  const start = async (args: string[], nodeArgs: string[] = []) => {
    const proc = spawn(process.execPath, [...nodeArgs, ...script, ...args], { env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(proc);
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once('line', resolve);
      proc.once('exit', (code) => reject(new Error(`server ${args.join(' ')} exited with ${code}`)));
    });
    return { proc, url };
  };
  try {
    const kms = await start(['--server', 'kms', '--dir', join(dir, 'kms')]);
    // BENCH_PROXY_NODE_ARGS: node flags for the proxy process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
    const proxy = await start(['--server', 'proxy', '--dir', dir, '--kms', kms.url], process.env.BENCH_PROXY_NODE_ARGS?.split(' ') ?? []);
    const sign = async (op: string, body: unknown) => {
      const s = await new AwsV4Signer({
        method: 'POST',
        url: `${kms.url}/`,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
        body: JSON.stringify(body),
        ...KMS_CREDS,
        service: 'kms',
        region: 'us-east-1',
      }).sign();
      return { method: 'POST', headers: Object.fromEntries(s.headers), body: JSON.stringify(body) };
    };
    const gdkBody = { KeyId: 'alias/bench', KeySpec: 'AES_256', EncryptionContext: CONTEXT };
    const sample = await fetch(`${kms.url}/`, await sign('GenerateDataKey', gdkBody));
    const blob = ((await sample.json()) as { CiphertextBlob: string }).CiphertextBlob;
    const decBody = { CiphertextBlob: blob, EncryptionContext: CONTEXT };
    const tokens = await Promise.all(
      Array.from({ length: connections }, (_, i) =>
        new SignJWT({ sub: `caller-${i}`, tenant: 'bench' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(JWT.issuer)
          .setAudience(JWT.audience)
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(JWT.secret)),
      ),
    );
    const jsonHeaders = (op: string) => ({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` });
    // Each connection (autocannon's per-client context) keeps one caller's token.
    let next = 0;
    const asCaller = (req: { headers: Record<string, string> }, context: { token?: string }) => {
      context.token ??= tokens[next++ % tokens.length]!;
      return { ...req, headers: { ...req.headers, authorization: `Bearer ${context.token}` } };
    };
    const proxied = [
      { method: 'POST', headers: jsonHeaders('GenerateDataKey'), body: JSON.stringify(gdkBody), setupRequest: asCaller },
      { method: 'POST', headers: jsonHeaders('Decrypt'), body: JSON.stringify(decBody), setupRequest: asCaller },
    ];
    const direct = [await sign('GenerateDataKey', gdkBody), await sign('Decrypt', decBody)];
    const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

    const forwarder = await start(['--server', 'forwarder', '--kms', kms.url]);
    /** One load; `middle` is the process between the callers and the KMS (its CPU is the "proxy CPU"). */
    const measure = async (target: string, requests: unknown[], middle = proxy.proc.pid!) => {
      const opts = { url: `${target}/`, connections, requests };
      await autocannon({ ...opts, duration: warmup });
      const p0 = await cpuSeconds(middle);
      const k0 = await cpuSeconds(kms.proc.pid!);
      const r = await autocannon({ ...opts, duration });
      const p1 = await cpuSeconds(middle);
      const k1 = await cpuSeconds(kms.proc.pid!);
      const per = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : ((b - a) / r.requests.total) * 1e6);
      if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) throw new Error(`${target}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts`);
      return {
        reqPerSec: Math.round(r.requests.average),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        total: r.requests.total,
        proxyCpuUsPerCall: per(p0?.all, p1?.all),
        proxyMainThreadUsPerCall: per(p0?.main, p1?.main),
        kmsCpuUsPerCall: per(k0?.all, k1?.all),
      };
    };
    const viaProxy = await measure(proxy.url, proxied);
    const directKms = await measure(kms.url, direct);
    const viaForwarder = await measure(forwarder.url, direct, forwarder.proc.pid!);
    const ratio = viaProxy.reqPerSec / directKms.reqPerSec;
    const load = (await readFile('/proc/loadavg', 'utf8').catch(() => '')).split(' ').slice(0, 3).join(' ');
    const us = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
    console.log(`\nSealbox proxy in front of the local KMS: ${connections} keep-alive connections, ${duration} s, GenerateDataKey/Decrypt alternating; load average ${load}\n`);
    console.log('path             req/s    p50 ms   p99 ms    total   proxy CPU µs/call (main thread)   KMS CPU µs/call');
    for (const [name, m] of [['via the proxy', viaProxy], ['KMS directly', directKms], ['bare forwarder', viaForwarder]] as const) {
      console.log(
        `${name.padEnd(15)} ${String(m.reqPerSec).padStart(6)}   ${m.p50Ms.toFixed(1).padStart(6)}   ${m.p99Ms.toFixed(1).padStart(6)}   ${String(m.total).padStart(6)}   ${us(m.proxyCpuUsPerCall).padStart(10)} (${us(m.proxyMainThreadUsPerCall)})${' '.repeat(17)}${us(m.kmsCpuUsPerCall).padStart(6)}`,
      );
    }
    const targets = {
      proxyCpuUsPerCall: { target: '<= 150', met: (viaProxy.proxyCpuUsPerCall ?? Infinity) <= 150 },
      ratio: { target: '>= 0.4', met: ratio >= 0.4 },
      p99Ms: { target: '< 50 at 64 connections', met: viaProxy.p99Ms < 50 },
    };
    console.log(`\nproxied ÷ direct: ${ratio.toFixed(2)}× (target ≥ 0.4×: ${targets.ratio.met ? 'met' : 'not met'}); proxy CPU per call ${us(viaProxy.proxyCpuUsPerCall)} µs (target ≤ 150: ${targets.proxyCpuUsPerCall.met ? 'met' : 'not met'}); p99 ${viaProxy.p99Ms} ms (target < 50 ms: ${targets.p99Ms.met ? 'met' : 'not met'})`);
    console.log(
      `bare forwarder (node:http in, undici out, no work; its CPU in the proxy column): ${us(viaForwarder.proxyCpuUsPerCall)} µs/call, ${(viaForwarder.reqPerSec / directKms.reqPerSec).toFixed(2)}× of direct: the floor any Node proxy on this machine starts from`,
    );
    console.log(JSON.stringify({ bench: 'proxy', date: new Date().toISOString(), connections, durationSec: duration, loadavg: load, viaProxy, directKms, viaForwarder, ratio, targets }));
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await rm(dir, { recursive: true, force: true });
  }
}
