/**
 * Drives the runtime hosts from Node. Every runtime answers the same requests
 * (test/runtimes/protocol.ts); only the transport differs:
 * - node, deno, bun: one child process per request, request and response as JSON files;
 * - workerd: `workerd serve` on a loopback port it picks, requests POSTed with fetch;
 * - chromium: Playwright's page.evaluate on a page served from 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { HostRequest, HostResponse } from '../../test/runtimes/protocol.js';
import { buildDir, buildHosts, root } from './build.js';
import { chromiumPath, launchChromium } from './chromium.js';
import { serveStatic } from './static-server.js';

export const RUNTIMES = ['node', 'deno', 'bun', 'workerd', 'chromium'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export interface Host {
  name: RuntimeName;
  /** The process that serves every request, where there is one (workerd), e.g. to read its CPU time. */
  pid?: number;
  /** Sends one request; `timeoutMs` defaults to five minutes. */
  call<T>(request: HostRequest, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

const bin = (name: string) => join(root, 'node_modules/.bin', name);

/** The executable a runtime's host starts (Node's is this process's own). */
export function runtimeBinary(name: RuntimeName): string {
  if (name === 'node') return process.execPath;
  if (name === 'chromium') return chromiumPath();
  return bin(name);
}
const CALL_TIMEOUT_MS = 300_000;

function unwrap<T>(name: string, response: HostResponse): T {
  if (!response.ok) throw new Error(`${name}: ${response.error}`);
  return response.result as T;
}

/** Runs a command; resolves with stdout and stderr, rejects on a non-zero exit or a timeout. */
export function exec(command: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? root, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? CALL_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}\n${stderr.slice(-4000)}${stdout.slice(-2000)}`));
    });
  });
}

function processHost(name: 'node' | 'deno' | 'bun', bundle: string): Host {
  const dir = mkdtempSync(join(buildDir, `${name}-`));
  let n = 0;
  return {
    name,
    async call<T>(request: HostRequest, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
      const requestPath = join(dir, `request-${++n}.json`);
      const responsePath = join(dir, `response-${n}.json`);
      writeFileSync(requestPath, JSON.stringify(request));
      const args = [bundle, requestPath, responsePath, root];
      if (name === 'node') await exec(process.execPath, args, { timeoutMs });
      else if (name === 'bun') await exec(bin('bun'), args, { timeoutMs });
      else await exec(bin('deno'), ['run', '--no-config', '--no-lock', '--no-prompt', `--allow-read=${root}`, `--allow-write=${responsePath}`, ...args], { timeoutMs });
      return unwrap<T>(name, JSON.parse(readFileSync(responsePath, 'utf8')) as HostResponse);
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads workerd's control descriptor until it reports the port of the `http` socket. */
function listenPort(control: Readable, child: ChildProcess, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`workerd did not start in time\n${stderr()}`)), 30_000);
    control.on('data', (d: Buffer) => {
      buffered += d;
      for (const line of buffered.split('\n')) {
        try {
          const message = JSON.parse(line) as { event?: string; socket?: string; port?: number };
          if (message.event === 'listen' && message.socket === 'http' && message.port) {
            clearTimeout(timer);
            resolve(message.port);
          }
        } catch {
          // partial line
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`workerd exited with ${code}\n${stderr()}`));
    });
  });
}

async function workerdHost(): Promise<Host> {
  const config = join(root, 'test/runtimes/workerd/suite.capnp');
  const child = spawn(bin('workerd'), ['serve', config, '-s', 'http=127.0.0.1:0', '-d', `fixtures=${root}`, '--control-fd=3'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stderr += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const port = await listenPort(child.stdio[3] as Readable, child, () => stderr);
  return {
    name: 'workerd',
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    async call<T>(request: HostRequest, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(request), signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      if (!res.ok) throw new Error(`workerd: HTTP ${res.status}: ${text.slice(0, 2000)}\n${stderr.slice(-2000)}`);
      return unwrap<T>('workerd', JSON.parse(text) as HostResponse);
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function chromiumHost(): Promise<Host> {
  const server = await serveStatic({
    root,
    prefixes: ['test/', '.build/runtimes/browser.mjs'],
    routes: { '/': { body: '<!doctype html><meta charset="utf-8"><title>sealbox host</title><script type="module" src="/.build/runtimes/browser.mjs"></script>' } },
  });
  const browser = await launchChromium();
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${server.origin}/`);
  await page.waitForFunction(() => 'sealboxHost' in globalThis, undefined, { timeout: 30_000 });
  return {
    name: 'chromium',
    async call<T>(request: HostRequest, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
      page.setDefaultTimeout(timeoutMs);
      const response = await page.evaluate(
        (r) => (globalThis as unknown as { sealboxHost: { handle(r: unknown): Promise<unknown> } }).sealboxHost.handle(r),
        request as unknown,
      );
      if (errors.length) throw new Error(`chromium page errors: ${errors.join('\n')}`);
      return unwrap<T>('chromium', response as HostResponse);
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Builds the bundles (once per process) and starts a host for `name`. */
export async function startHost(name: RuntimeName): Promise<Host> {
  const bundles = await buildHosts();
  switch (name) {
    case 'node':
    case 'deno':
    case 'bun':
      return processHost(name, bundles[name]);
    case 'workerd':
      return workerdHost();
    case 'chromium':
      return chromiumHost();
  }
}

/** Starts a host, runs `fn`, always closes it. */
export async function withHost<T>(name: RuntimeName, fn: (host: Host) => Promise<T>): Promise<T> {
  const host = await startHost(name);
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}
