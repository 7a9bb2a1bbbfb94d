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
// "On 2 cores" (the issue's target) means both processes on two CPUs: where `taskset` exists
// (Linux), the KMS and this process (the load generator) are confined to CPUs 0 and 1 and the OS
// schedules them there (--pin shared, the default). Other layouts, for comparison (--pin <mode>):
//   all      the whole KMS process on CPU 0, the load generator on CPU 1. Every KMS thread shares
//            CPU 0, so the libuv threadpool's audit fdatasync (100-300 µs of kernel CPU per batch)
//            and V8's GC helpers take the JavaScript thread's core, and CPU 1's slack is unused:
//            measured ~3,500-4,800 GenerateDataKey/s where shared gave ~5,500-5,800 (same code,
//            same hour, interleaved runs).
//   main     only the KMS main thread on CPU 0 (threadpool and helpers free on CPUs 0-1; pinned
//            after start, so threads created later would inherit CPU 0); load generator on CPU 1.
//            Measured no better than all: the woken threadpool thread is still often run on CPU 0.
//   loadgen  the load generator on CPU 1, the KMS free on CPUs 0-1. Between all and shared.
//   none     no taskset (on machines with more than 2 CPUs this is not "2 cores").
// The output also reports steal (CPU the hypervisor gave other guests; shared machines vary a lot)
// and the KMS's CPU per request, all threads and main thread, which is the number to compare
// between code changes: req/s moves ±20% between identical runs here, µs/req much less.

// Options: --duration <s> (default 10), --connections <n> (default 32), --baseline (also measure a
// bare node:http server answering the same signed GenerateDataKey request with a reply of the same
// size), --no-audit (run the KMS without its audit file, to see what durability costs; not a
// supported configuration for the numbers above), --pin <mode> (above), --no-pin (= --pin none). BENCH_NODE_ARGS adds node
// flags to the KMS process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AwsV4Signer } from 'aws4fetch';
import { bundleSelf } from './lib/bundle-self.js';

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

interface CpuUsage {
  user: number;
  system: number;
  /** The main (JavaScript) thread's user + system. */
  main: number;
}
interface Measured {
  r: AutocannonResult;
  /** Server CPU µs per request: all threads, user, system, main thread (undefined without /proc). */
  cpu: number | undefined;
  user: number | undefined;
  system: number | undefined;
  main: number | undefined;
  /** Share of the machine's CPU time stolen by the hypervisor during the run (percent), from /proc/stat. */
  steal: number | undefined;
}

/** The machine's CPU time counters (all CPUs): total and steal, in clock ticks. */
async function machineTicks(): Promise<{ total: number; steal: number } | undefined> {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n')[0] ?? '';
  if (!line.startsWith('cpu ')) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
}

/** CPU seconds a process has used (all threads, and its main thread), from /proc (Linux); undefined elsewhere. */
async function cpuUsage(pid: number): Promise<CpuUsage | undefined> {
  const ticks = async (path: string) => {
    const stat = await readFile(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }; // clock ticks (USER_HZ = 100)
  };
  try {
    const all = await ticks(`/proc/${pid}/stat`);
    const main = await ticks(`/proc/${pid}/task/${pid}/stat`);
    return { ...all, main: main.user + main.system };
  } catch {
    return undefined;
  }
}

type PinMode = 'shared' | 'main' | 'all' | 'loadgen' | 'none';
const PIN_TEXT: Record<PinMode, string> = {
  shared: 'KMS and load generator share CPUs 0 and 1, scheduled by the OS (--pin shared, the default)',
  main: 'KMS main thread pinned to CPU 0 (its threadpool, where fsync runs, and V8 helper threads on CPUs 0-1), load generator on CPU 1 (--pin main)',
  all: 'KMS process (every thread) pinned to CPU 0, load generator on CPU 1 (--pin all)',
  loadgen: 'load generator pinned to CPU 1, KMS on CPUs 0-1 (--pin loadgen)',
  none: 'not pinned (no taskset, fewer than 2 CPUs, or --pin none)',
};

/** The pinning to use (--pin), after pinning this process (the load generator) where the mode says. */
function pinMode(wanted: string): PinMode {
  if (!(wanted in PIN_TEXT)) throw new Error(`--pin ${wanted}: one of ${Object.keys(PIN_TEXT).join(', ')}`);
  if (wanted === 'none' || process.platform !== 'linux' || availableParallelism() < 2) return 'none';
  const r = spawnSync('taskset', ['-a', '-p', '-c', wanted === 'shared' ? '0,1' : '1', String(process.pid)], { stdio: 'ignore' });
  return r.status === 0 ? (wanted as PinMode) : 'none';
}

const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    'baseline-server': { type: 'boolean' },
    baseline: { type: 'boolean' },
    'no-audit': { type: 'boolean' },
    'no-pin': { type: 'boolean' },
    pin: { type: 'string' },
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
  const { startLocalKmsServer } = await import('../src/node/kms/index.js');
  const server = await startLocalKmsServer({ dataDir: values.server, port: 0, log: () => {}, ...(values['no-audit'] ? { audit: false as const } : {}) });
  process.stdout.write(`${server.url}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else {
  const duration = Number(values.duration ?? 10);
  const connections = Number(values.connections ?? 32);
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-bench-kms-'));
  const work = await mkdtemp(join(tmpdir(), 'sealbox-bench-kms-js-'));
  const script = await bundleSelf(import.meta.url, join(work, 'bench-kms.mjs'));
  const pin = pinMode(values['no-pin'] ? 'none' : (values.pin ?? 'shared'));
  const serverCommand = (args: string[]): [string, string[]] => {
    const node = [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), ...script, ...args];
    // The child would inherit this process's affinity: give it CPU 0 (all) or CPUs 0 and 1 (the others).
    if (pin === 'none') return [process.execPath, node];
    return ['taskset', ['-c', pin === 'all' ? '0' : '0,1', process.execPath, ...node]];
  };
  /** Starts a server child and returns it with the URL it prints (main-thread pinning happens once it has started). */
  const startServer = async (args: string[], env: Record<string, string | undefined>) => {
    const [cmd, cmdArgs] = serverCommand(args);
    const proc = spawn(cmd, cmdArgs, { env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once('line', resolve);
      proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    // Without -a, taskset sets the affinity of the main thread only: the threadpool (fsync) and V8's
    // helper threads, all started by now, keep both CPUs.
    if (pin === 'main' && spawnSync('taskset', ['-p', '-c', '0', String(proc.pid)], { stdio: 'ignore' }).status !== 0) {
      throw new Error('taskset -p -c 0 failed');
    }
    return { proc, url };
  };
  const { proc: child, url } = await startServer(['--server', dir, ...(values['no-audit'] ? ['--no-audit'] : [])], {
    SEALBOX_ROOT_KEY: ROOT_KEY,
    SEALBOX_KMS_ACCESS_KEY_ID: CREDS.accessKeyId,
    SEALBOX_KMS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
  });
  try {
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
    /** A warm-up run, then the measured one, with the server's CPU time over the measured run. */
    const measure = async (pid: number, target: string, req: { headers: Record<string, string>; body: string }): Promise<Measured> => {
      const opts = { url: `${target}/`, method: 'POST', headers: req.headers, body: req.body, connections };
      await autocannon({ ...opts, duration: 2 });
      const before = await cpuUsage(pid);
      const ticksBefore = await machineTicks();
      const r = await autocannon({ ...opts, duration });
      const after = await cpuUsage(pid);
      const ticksAfter = await machineTicks();
      const steal = ticksBefore && ticksAfter ? (100 * (ticksAfter.steal - ticksBefore.steal)) / Math.max(1, ticksAfter.total - ticksBefore.total) : undefined;
      const per = (f: (c: CpuUsage) => number) => (before && after ? ((f(after) - f(before)) / r.requests.total) * 1e6 : undefined);
      return { r, cpu: per((c) => c.user + c.system), user: per((c) => c.user), system: per((c) => c.system), main: per((c) => c.main), steal };
    };
    const results: Array<[string, Measured]> = [];
    for (const [op, body] of [['GenerateDataKey', gdkBody], ['Decrypt', decBody]] as const) {
      const m = await measure(child.pid!, url, await sign(op, body));
      if (m.r.non2xx > 0 || m.r.errors > 0) throw new Error(`${op}: ${m.r.non2xx} non-2xx responses, ${m.r.errors} errors`);
      results.push([op, m]);
    }
    if (values.baseline) {
      const gdkReply = JSON.stringify(sample).length;
      const { proc: base, url: baseUrl } = await startServer(['--baseline-server', '--reply-size', String(gdkReply)], {});
      try {
        results.push(['bare node:http', await measure(base.pid!, baseUrl, await sign('GenerateDataKey', gdkBody))]);
      } finally {
        base.kill('SIGTERM');
        await new Promise((r) => base.once('exit', r));
      }
    }
    const load = (await readFile('/proc/loadavg', 'utf8').catch(() => '')).split(' ').slice(0, 3).join(' ');
    console.log(`\nSealbox local KMS, ${connections} keep-alive connections over loopback, ${duration} s per operation`);
    console.log(`KMS process: ${script[0] === '--import' ? 'tsx (esbuild not found: TypeScript loader in the process)' : 'bundled JS (esbuild)'}; ${PIN_TEXT[pin]}${load ? `; load average ${load}` : ''}\n`);
    console.log('operation          req/s     p50 ms   p99 ms   max ms    total   steal   KMS CPU µs/req (user+sys; main thread)');
    const us = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
    for (const [op, { r, cpu, user, system, main, steal }] of results) {
      console.log(
        `${op.padEnd(17)} ${String(Math.round(r.requests.average)).padStart(6)}   ${r.latency.p50.toFixed(1).padStart(6)}   ${r.latency.p99.toFixed(1).padStart(6)}   ${r.latency.max.toFixed(0).padStart(6)}   ${String(r.requests.total).padStart(6)}   ${(steal === undefined ? '-' : `${steal.toFixed(0)}%`).padStart(5)}   ${us(cpu).padStart(6)} (${us(user)}+${us(system)}; ${us(main)})`,
      );
    }
    console.log(
      '\n(steal: CPU time the hypervisor gave to other guests during the run, of the machine\'s total; KMS CPU µs/req: CPU time the KMS process spent per request, all threads, and its main thread alone; 1e6 / the main thread\'s bounds req/s.)',
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
}
