// A real Redis for the tests (Debian's redis-server 7.0), for code that keeps shared state in Redis
// (rate limits, replay caches, leases): its behaviour under SET NX PX, expiry, and a server that goes
// away are exactly what those tests are about, so no in-memory stand-in.
//
// startRedis() runs redis-server on a free 127.0.0.1 port with no persistence (`--save ''
// --appendonly no`) in a temp dir; ready in a few ms. stop() ends it and removes the dir; kill()
// SIGKILLs it (for 'Redis down' tests) and restart() starts it again on the same port (empty).
// The server is also killed on exit/SIGINT/SIGTERM and, via `setpriv --pdeathsig`, by the kernel if
// this process dies any other way.
//
// redisService(): the Redis the tests should use: SEALBOX_TEST_REDIS_URL when set (scripts/test.mjs
// sets it for the whole `npm test`), else one started once per process. Tests share it: use keys
// of your own (a random prefix). Tests that kill or restart Redis must start their own.
//
// `node --import tsx test/support/redis.ts start` starts one and prints SEALBOX_TEST_REDIS_URL=….
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, killAllSync, killAndWait, onProcessEnd, running, serveFromCommandLine, spawnDaemon, tail } from './daemon.js';

export interface RedisService {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Stops the server if this process started it (a no-op for one given by the environment). */
  stop(): Promise<void>;
}

export interface LocalRedis extends RedisService {
  dir: string;
  /** SIGKILL, as a crash would: clients see the connection drop. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (with no data); kills it first if it is running. */
  restart(): Promise<void>;
}

/** Resolves once a PING on `port` answers PONG. */
async function waitForPong(port: number, deadline: number, alive: () => string | undefined): Promise<void> {
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    const pong = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.setTimeout(1000, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (data) => {
        answer += data.toString();
        if (answer.includes('\r\n')) {
          socket.destroy();
          resolve(answer.startsWith('+PONG'));
        }
      });
      socket.on('error', () => resolve(false));
      socket.on('close', () => resolve(false));
    });
    if (pong) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Starts a throwaway redis-server; see the header of this file. */
export async function startRedis(options: { timeoutMs?: number } = {}): Promise<LocalRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'sealbox-redis-'));
  const port = await freePort();
  const log = join(dir, 'redis.log');
  let child: ChildProcess | undefined;
  const unregister = onProcessEnd(() => killAllSync(child ? [child] : [], dir));
  const launch = async () => {
    child = spawnDaemon(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', ''],
      log,
      dir,
    );
    const current = child;
    const dead = () => (running(current) ? undefined : `redis-server exited (${current.exitCode ?? current.signalCode}): ${tail(log, 5)}`);
    await waitForPong(port, Date.now() + (options.timeoutMs ?? 10_000), dead);
  };
  const kill = async () => {
    if (child) await killAndWait(child, 'SIGKILL');
  };
  try {
    await launch();
  } catch (error) {
    await kill();
    unregister();
    killAllSync([], dir);
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      if (child) await killAndWait(child, 'SIGTERM', 3000);
      unregister();
      killAllSync([], dir);
    },
  };
}

export const REDIS_ENV = 'SEALBOX_TEST_REDIS_URL';

let shared: Promise<RedisService> | undefined;

/** The Redis for tests: SEALBOX_TEST_REDIS_URL, or one started for this process. */
export function redisService(): Promise<RedisService> {
  if (!shared) {
    const url = process.env[REDIS_ENV];
    if (url) {
      shared = Promise.resolve({ url, port: Number(new URL(url).port || 6379), stop: async () => {} });
    } else {
      // Stopped when the process ends; stop() of the shared one is a no-op (other tests use it).
      shared = startRedis().then((redis) => ({ url: redis.url, port: redis.port, stop: async () => {} }));
      shared.catch(() => (shared = undefined));
    }
  }
  return shared;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await serveFromCommandLine('Redis', async () => {
    const redis = await startRedis();
    return { env: { [REDIS_ENV]: redis.url }, stop: () => redis.stop() };
  });
}
