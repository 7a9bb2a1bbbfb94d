// A real S3 for the tests: Ceph's RADOS Gateway (Debian's ceph-mon, ceph-osd, radosgw 16.2) on a
// throwaway one-node cluster. In-process fakes such as s3rver do not check SigV4 signatures and get
// suffix ranges wrong; RGW checks signatures, presigned URLs, multipart uploads, ranges and CORS
// the way S3 does, so code tested against it is tested against S3 behaviour.
//
// startCephRgw() builds the cluster in a temp dir: one monitor, one OSD on `memstore` (in memory,
// capped by `memoryBytes`), one radosgw on a free 127.0.0.1 port, and an S3 user made with
// radosgw-admin. Ceph's own auth is off (S3 signatures are still checked by RGW). It is ready in
// 2.5–7 s here (~16 s with Ceph's default 1 s Paxos proposal interval, which is shortened below).
// stop() kills RGW first (it ignores SIGTERM once the monitor is gone), then the OSD, then the
// monitor, and removes the dir; the daemons are also killed on exit/SIGINT/SIGTERM and, via
// `setpriv --pdeathsig`, by the kernel if this process dies any other way.
//
// s3Service(): the S3 the tests should use. When SEALBOX_TEST_S3_ENDPOINT (with
// SEALBOX_TEST_S3_ACCESS_KEY_ID, SEALBOX_TEST_S3_SECRET_ACCESS_KEY, SEALBOX_TEST_S3_REGION) is set,
// as scripts/test.mjs does for the whole `npm test`, that one; otherwise it starts one, once per
// process. Tests share it: use a bucket of your own (uniqueBucketName()).
//
// `node --import tsx test/support/ceph-rgw.ts start` starts one and prints those env lines.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
// Loaded when first used: it is an optional dependency, and the `start` mode is ready ~1 s sooner.
import type { CORSRule, S3ClientConfig } from '@aws-sdk/client-s3';
import { freePort, killAllSync, killAndWait, onProcessEnd, running, serveFromCommandLine, spawnDaemon, tail } from './daemon.js';

const run = promisify(execFile);

/** CORS for a bucket: browser origins (with Sealbox's defaults for methods and headers) or full rules. */
export type BucketCors = string[] | CORSRule[];

export interface S3Service {
  /** e.g. http://127.0.0.1:40123 (path-style addressing: use forcePathStyle). */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Ready-made @aws-sdk/client-s3 configuration for this service. */
  clientConfig(extra?: Partial<S3ClientConfig>): S3ClientConfig;
  /** Creates a bucket; with `cors`, also sets its CORS configuration (PutBucketCors). */
  createBucket(name: string, options?: { cors?: BucketCors }): Promise<void>;
  /** Stops the service if this process started it; a no-op for one given by the environment. */
  stop(): Promise<void>;
}

export interface CephRgw extends S3Service {
  /** The cluster's temp dir (logs in log/). Removed by stop(). */
  dir: string;
  /** Seconds from the call to a ready RGW with its user. */
  startSeconds: number;
}

export interface CephRgwOptions {
  /** memstore's capacity, default 1 GiB (memory is used only as objects are written). */
  memoryBytes?: number;
  /** How long to wait for RGW, default 90 s. */
  timeoutMs?: number;
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** Headers a browser client of S3 needs to read: ETag for multipart, Content-Range for ranged reads. */
export const EXPOSED_HEADERS = ['ETag', 'Content-Range', 'Content-Length', 'Content-Type', 'Accept-Ranges', 'Last-Modified', 'x-amz-request-id'];

export function corsRules(cors: BucketCors): CORSRule[] {
  if (cors.length === 0 || typeof cors[0] !== 'string') return cors as CORSRule[];
  return [
    {
      AllowedOrigins: cors as string[],
      AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD', 'DELETE'],
      AllowedHeaders: ['*'],
      ExposeHeaders: EXPOSED_HEADERS,
      MaxAgeSeconds: 600,
    },
  ];
}

/** A bucket name that no other test in a shared RGW uses (S3 rules: lower case, ≤ 63 chars). */
export function uniqueBucketName(prefix = 'test'): string {
  return `${prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30)}-${randomUUID().slice(0, 13)}`;
}

function serviceFrom(endpoint: string, region: string, accessKeyId: string, secretAccessKey: string, stop: () => Promise<void>): S3Service {
  const clientConfig = (extra: Partial<S3ClientConfig> = {}): S3ClientConfig => ({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    ...extra,
  });
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    clientConfig,
    async createBucket(name, options = {}) {
      const { CreateBucketCommand, PutBucketCorsCommand, S3Client } = await import('@aws-sdk/client-s3');
      const s3 = new S3Client(clientConfig());
      try {
        await s3.send(new CreateBucketCommand({ Bucket: name }));
        if (options.cors) await s3.send(new PutBucketCorsCommand({ Bucket: name, CORSConfiguration: { CORSRules: corsRules(options.cors) } }));
      } finally {
        s3.destroy();
      }
    },
    stop,
  };
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number, memoryBytes: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
pid file = ${dir}/run/$name.pid
keyring = ${dir}/keyring
mon data = ${dir}/mon.$id
osd data = ${dir}/osd.$id
osd objectstore = memstore
memstore device bytes = ${memoryBytes}
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd pool default pg num = 1
osd pool default pgp num = 1
osd pool default pg autoscale mode = off
mon warn on pool no redundancy = false
mon data avail crit = 0
# Ceph proposes monitor changes once a second by default; RGW's start-up makes ~8 of them in
# sequence (a pool and its application tag each), so this takes the start from ~16 s to ~5 s.
paxos propose interval = 0.01
paxos min wait = 0.001
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
# With Ceph auth off, radosgw loops on "get_initial_auth_request returned -13" without this.
ms mon client mode = crc secure
rgw data = ${dir}/rgw
`;
}

async function waitForHttp(url: string, deadline: number, alive: () => string | undefined): Promise<void> {
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no answer from ${url} in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts a throwaway one-node Ceph cluster with RGW; see the header of this file. */
export async function startCephRgw(options: CephRgwOptions = {}): Promise<CephRgw> {
  const began = performance.now();
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  const accessKeyId = options.accessKeyId ?? `SEALBOXTEST${randomUUID().replace(/-/g, '').slice(0, 9).toUpperCase()}`;
  const secretAccessKey = options.secretAccessKey ?? randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '').slice(0, 8);
  const dir = mkdtempSync(join(tmpdir(), 'sealbox-ceph-'));
  for (const sub of ['run', 'log', 'mon.a', 'osd.0', 'rgw']) mkdirSync(join(dir, sub));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  writeFileSync(conf, cephConf(dir, fsid, monPort, rgwPort, options.memoryBytes ?? 1 << 30));
  const c = ['-c', conf];
  // stop order: RGW, OSD, monitor
  const daemons: { name: string; child: import('node:child_process').ChildProcess; log: string }[] = [];
  const ordered = () => [...daemons].reverse();
  const unregister = onProcessEnd(() => killAllSync(ordered().map((d) => d.child), dir));
  const cli = async (command: string, args: string[], timeout = 30_000): Promise<string> => {
    try {
      return (await run(command, [...c, ...args], { cwd: dir, timeout, maxBuffer: 1 << 22 })).stdout;
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
    }
  };
  const daemon = (name: string, command: string, args: string[]) => {
    const log = join(dir, 'log', `${name}.out`);
    daemons.push({ name, child: spawnDaemon(command, [...c, ...args], log, dir), log });
  };
  const deadDaemon = () => {
    const dead = daemons.find((d) => !running(d.child));
    return dead && `${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}):\n${tail(dead.log)}\n${tail(join(dir, 'log', `${dead.name === 'rgw' ? 'client.rgw.a' : dead.name}.log`))}`;
  };
  const stop = async () => {
    unregister();
    for (const d of ordered()) await killAndWait(d.child, 'SIGKILL');
    killAllSync([], dir);
  };
  try {
    await run('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir, 'monmap')]);
    await cli('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')]);
    daemon('mon.a', 'ceph-mon', ['-i', 'a', '-f']);
    const osdUuid = randomUUID();
    const osdId = (await cli('ceph', ['--connect-timeout', '30', 'osd', 'new', osdUuid])).trim();
    if (osdId !== '0') throw new Error(`ceph osd new gave id "${osdId}", expected 0`);
    // --osd-uuid must be the one `osd new` registered: without it the OSD boots but its PGs never
    // go active, and radosgw hangs in its start-up (then gives up after 5 minutes).
    await cli('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    // The OSD puts itself in the CRUSH map on start (osd crush update on start = true).
    daemon('osd.0', 'ceph-osd', ['-i', '0', '-f']);
    daemon('rgw', 'radosgw', ['-n', 'client.rgw.a', '-f']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForHttp(`${endpoint}/`, deadline, deadDaemon);
    await cli('radosgw-admin', ['user', 'create', '--uid=sealbox-test', '--display-name=Sealbox tests', `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`]);
    const service = serviceFrom(endpoint, 'us-east-1', accessKeyId, secretAccessKey, stop);
    return { ...service, dir, startSeconds: (performance.now() - began) / 1000 };
  } catch (error) {
    const logs = ['mon.a', 'osd.0', 'client.rgw.a'].map((name) => `── ${name}.log ──\n${tail(join(dir, 'log', `${name}.log`), 8)}`).join('\n');
    await stop();
    throw new Error(`Ceph RGW did not start: ${error instanceof Error ? error.message : String(error)}\n${logs}`);
  }
}

export const S3_ENV = {
  endpoint: 'SEALBOX_TEST_S3_ENDPOINT',
  accessKeyId: 'SEALBOX_TEST_S3_ACCESS_KEY_ID',
  secretAccessKey: 'SEALBOX_TEST_S3_SECRET_ACCESS_KEY',
  region: 'SEALBOX_TEST_S3_REGION',
} as const;

/** The environment lines that hand this S3 to other processes (s3Service() reads them). */
export function s3Env(s3: S3Service): Record<string, string> {
  return {
    [S3_ENV.endpoint]: s3.endpoint,
    [S3_ENV.accessKeyId]: s3.accessKeyId,
    [S3_ENV.secretAccessKey]: s3.secretAccessKey,
    [S3_ENV.region]: s3.region,
  };
}

let shared: Promise<S3Service> | undefined;

/** The S3 for tests: the one named by SEALBOX_TEST_S3_* or else one started for this process. */
export function s3Service(): Promise<S3Service> {
  if (!shared) {
    const endpoint = process.env[S3_ENV.endpoint];
    if (endpoint) {
      const accessKeyId = process.env[S3_ENV.accessKeyId];
      const secretAccessKey = process.env[S3_ENV.secretAccessKey];
      if (!accessKeyId || !secretAccessKey) {
        return Promise.reject(new Error(`${S3_ENV.endpoint} is set: set ${S3_ENV.accessKeyId} and ${S3_ENV.secretAccessKey} too`));
      }
      shared = Promise.resolve(serviceFrom(endpoint, process.env[S3_ENV.region] || 'us-east-1', accessKeyId, secretAccessKey, async () => {}));
    } else {
      // Started once per process and stopped when it ends; stop() of the shared one is a no-op so
      // that one test file cannot take it away from another.
      shared = startCephRgw().then((rgw) => ({ ...rgw, stop: async () => {} }));
      shared.catch(() => (shared = undefined));
    }
  }
  return shared;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await serveFromCommandLine('Ceph RGW (S3)', async () => {
    const rgw = await startCephRgw();
    return { env: s3Env(rgw), stop: () => rgw.stop() };
  });
}
