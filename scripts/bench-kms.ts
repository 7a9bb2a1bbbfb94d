// `npm run bench:kms`: GenerateDataKey and Decrypt throughput and latency of the local KMS.
//
// The KMS runs in its own process (this script re-run with --server); autocannon drives it from
// this process over loopback with keep-alive connections. Requests are properly SigV4-signed; one
// request per operation is signed up front and replayed, which the KMS accepts (as AWS does) while
// its signing time is within the 5-minute skew window, so each run stays well under 5 minutes.
// Every call still pays the full server path: SigV4 verification, key policy, AES-GCM, and an
// fsync'd, hash-chained audit record (group commit).
//
// The server process runs this script bundled by esbuild into plain JS (no tsx loader, no source
// maps), as `npm run build`'s output would run; without esbuild it falls back to tsx and says so.
// Where `taskset` exists (Linux), the KMS is pinned to CPU 0 and this process (the load generator)
// to CPU 1, so the two do not fight over one core; the output says whether that happened.
//
// Options: --duration <s> (default 10), --connections <n> (default 32), --baseline (also measure a
// bare node:http server answering the same signed GenerateDataKey request with a reply of the same
// size), --no-audit (run the KMS without its audit file, to see what durability costs; not a
// supported configuration for the numbers above), --no-pin (no taskset). BENCH_NODE_ARGS adds node
// flags to the KMS process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AwsV4Signer } from 'aws4fetch';

const ROOT_KEY = Buffer.alloc(32, 42).toString('base64');
const CREDS = { accessKeyId: 'AKIABENCHMARK000000', secretAccessKey: 'bench-secret-not-for-production' };

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

/** CPU seconds (user + system) a process has used, from /proc (Linux); undefined elsewhere. */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  const split = await cpuSplit(pid);
  return split === undefined ? undefined : split.user + split.system;
}

async function cpuSplit(pid: number): Promise<{ user: number; system: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }; // clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    'baseline-server': { type: 'boolean' },
    baseline: { type: 'boolean' },
    'no-audit': { type: 'boolean' },
    'no-pin': { type: 'boolean' },
    'reply-size': { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
  },
  strict: true,
});

if (values['baseline-server']) {
  // Child for --baseline: a bare node:http server answering a fixed JSON body, to show what the
  // machine does at all right now (shared CI machines vary a lot). It reads the same request and
  // answers with a JSON body of --reply-size bytes (the KMS's reply size), like the KMS's headers.
  const { createServer } = await import('node:http');
  const { randomUUID } = await import('node:crypto');
  const size = Math.max(11, Number(values['reply-size'] ?? 11));
  const reply = `{"ok":"${'x'.repeat(size - 10)}"}`;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), 'content-length': String(reply.length) });
      res.end(reply);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address() as { port: number };
    process.stdout.write(`http://127.0.0.1:${a.port}\n`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
} else if (values.server !== undefined) {
  // Child: the KMS itself.
  const { startLocalKmsServer } = await import('../src/kms/index.js');
  const server = await startLocalKmsServer({ dataDir: values.server, port: 0, log: () => {}, ...(values['no-audit'] ? { audit: false as const } : {}) });
  process.stdout.write(`${server.url}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else {
  const duration = Number(values.duration ?? 10);
  const connections = Number(values.connections ?? 32);
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-bench-kms-'));
  const work = await mkdtemp(join(tmpdir(), 'sealbox-bench-kms-js-'));
  const script = await bundleSelf(join(work, 'bench-kms.mjs'));
  const pin = !values['no-pin'] && pinSelf();
  const serverCommand = (args: string[]): [string, string[]] => {
    const node = [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), ...script, ...args];
    return pin ? ['taskset', ['-c', '0', process.execPath, ...node]] : [process.execPath, node];
  };
  const [cmd, args] = serverCommand(['--server', dir, ...(values['no-audit'] ? ['--no-audit'] : [])]);
  const child = spawn(cmd, args, {
    env: { ...process.env, SEALBOX_ROOT_KEY: ROOT_KEY, SEALBOX_KMS_ACCESS_KEY_ID: CREDS.accessKeyId, SEALBOX_KMS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`KMS exited with ${code}`)));
    });

    const sign = async (op: string, body: unknown) => {
      const signer = new AwsV4Signer({
        method: 'POST',
        url: `${url}/`,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
        body: JSON.stringify(body),
        ...CREDS,
        service: 'kms',
        region: 'us-east-1',
      });
      const s = await signer.sign();
      const headers: Record<string, string> = {};
      s.headers.forEach((v, k) => (headers[k] = v));
      return { headers, body: JSON.stringify(body) };
    };
    const call = async (op: string, body: unknown) => {
      const r = await sign(op, body);
      const res = await fetch(`${url}/`, { method: 'POST', headers: r.headers, body: r.body });
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`${op}: ${JSON.stringify(json)}`);
      return json;
    };

    const created = (await call('CreateKey', { Description: 'bench' })) as { KeyMetadata: { KeyId: string } };
    const keyId = created.KeyMetadata.KeyId;
    const context = { tenant: 'bench', purpose: 'throughput' };
    const gdkBody = { KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context };
    const sample = (await call('GenerateDataKey', gdkBody)) as { CiphertextBlob: string };
    const decBody = { CiphertextBlob: sample.CiphertextBlob, EncryptionContext: context };

    const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
    const results: Array<[string, AutocannonResult, number | undefined]> = [];
    for (const [op, body] of [['GenerateDataKey', gdkBody], ['Decrypt', decBody]] as const) {
      const req = await sign(op, body);
      // Warm-up, then the measured run.
      await autocannon({ url: `${url}/`, method: 'POST', headers: req.headers, body: req.body, connections, duration: 2 });
      const splitBefore = await cpuSplit(child.pid!);
      const cpuBefore = await cpuSeconds(child.pid!);
      const r = await autocannon({ url: `${url}/`, method: 'POST', headers: req.headers, body: req.body, connections, duration });
      const cpuAfter = await cpuSeconds(child.pid!);
      const splitAfter = await cpuSplit(child.pid!);
      if (splitBefore && splitAfter && process.env.BENCH_VERBOSE) {
        const per = (x: number) => ((x / r.requests.total) * 1e6).toFixed(0);
        console.error(`${op}: KMS user ${per(splitAfter.user - splitBefore.user)} µs/req, system ${per(splitAfter.system - splitBefore.system)} µs/req`);
      }
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${op}: ${r.non2xx} non-2xx responses, ${r.errors} errors`);
      const cpuPerRequest = cpuBefore === undefined || cpuAfter === undefined ? undefined : ((cpuAfter - cpuBefore) / r.requests.total) * 1e6;
      results.push([op, r, cpuPerRequest]);
    }
    if (values.baseline) {
      const gdkReply = JSON.stringify(sample).length;
      const [baseCmd, baseArgs] = serverCommand(['--baseline-server', '--reply-size', String(gdkReply)]);
      const base = spawn(baseCmd, baseArgs, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
      try {
        const baseUrl = await new Promise<string>((resolve) => createInterface({ input: base.stdout! }).once('line', resolve));
        const req = await sign('GenerateDataKey', gdkBody);
        await autocannon({ url: `${baseUrl}/`, method: 'POST', headers: req.headers, body: req.body, connections, duration: 2 });
        const cpuBefore = await cpuSeconds(base.pid!);
        const r = await autocannon({ url: `${baseUrl}/`, method: 'POST', headers: req.headers, body: req.body, connections, duration });
        const cpuAfter = await cpuSeconds(base.pid!);
        results.push(['bare node:http', r, cpuBefore === undefined || cpuAfter === undefined ? undefined : ((cpuAfter - cpuBefore) / r.requests.total) * 1e6]);
      } finally {
        base.kill('SIGTERM');
        await new Promise((r) => base.once('exit', r));
      }
    }
    const load = (await readFile('/proc/loadavg', 'utf8').catch(() => '')).split(' ').slice(0, 3).join(' ');
    console.log(`\nSealbox local KMS, ${connections} keep-alive connections over loopback, ${duration} s per operation`);
    console.log(`KMS process: ${script[0] === '--import' ? 'tsx (esbuild not found: TypeScript loader in the process)' : 'bundled JS (esbuild)'}; ${pin ? 'pinned with taskset: KMS on CPU 0, load generator on CPU 1' : 'not pinned (no taskset, or --no-pin)'}${load ? `; load average ${load}` : ''}\n`);
    console.log('operation          req/s     p50 ms   p99 ms   max ms    total   KMS CPU µs/req');
    for (const [op, r, cpu] of results) {
      console.log(
        `${op.padEnd(17)} ${String(Math.round(r.requests.average)).padStart(6)}   ${r.latency.p50.toFixed(1).padStart(6)}   ${r.latency.p99.toFixed(1).padStart(6)}   ${r.latency.max.toFixed(0).padStart(6)}   ${String(r.requests.total).padStart(6)}   ${cpu === undefined ? '-' : cpu.toFixed(0).padStart(6)}`,
      );
    }
    console.log('\n(KMS CPU µs/req: CPU time the KMS process spent per request; 1e6 / it bounds req/s on one free core.)');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Bundles this script (with the KMS) into one plain-JS file and returns the node arguments that run
 * it; falls back to running it through tsx when esbuild is not installed.
 */
async function bundleSelf(outfile: string): Promise<string[]> {
  const self = fileURLToPath(import.meta.url);
  try {
    const { build } = await import('esbuild');
    await build({
      entryPoints: [self],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      sourcemap: false,
      logLevel: 'warning',
      external: ['autocannon'],
      // Bundled CommonJS dependencies call require() for Node built-ins.
      banner: { js: "import { createRequire as __sealboxRequire } from 'node:module'; const require = __sealboxRequire(import.meta.url);" },
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', self];
  }
}

/** Pins this process (the load generator) to CPU 1 when taskset exists and there are two CPUs or more. */
function pinSelf(): boolean {
  if (process.platform !== 'linux' || availableParallelism() < 2) return false;
  const r = spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  return r.status === 0;
}
