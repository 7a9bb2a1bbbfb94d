/**
 * Drives the runtime hosts from Node. Every runtime answers the same requests
 * (test/runtimes/protocol.ts); only the transport differs:
 * - node, deno, bun: one child process per request, request and response as JSON files;
 * - workerd: `workerd serve` on a loopback port it picks, requests POSTed with fetch;
 * - chromium, firefox, webkit: one page served from 127.0.0.1, driven by Playwright (Chromium),
 *   puppeteer-core over WebDriver BiDi (Firefox) or WebDriver (WebKitGTK's MiniBrowser), launched as
 *   the browser tests launch them (scripts/lib/browsers.mjs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { HostRequest, HostResponse } from '../../test/runtimes/protocol.js';
import { buildDir, buildHosts, root } from './build.js';
import { chromiumPath, launchChromium } from './chromium.js';
import { firefoxPath, launchFirefox, launchWebKit, miniBrowserPath } from '../lib/browsers.mjs';
import { serveStatic } from './static-server.js';

export const RUNTIMES = ['node', 'deno', 'bun', 'workerd', 'chromium', 'firefox', 'webkit'] as const;
/** The browser engines among them. */
export const BROWSER_RUNTIMES = ['chromium', 'firefox', 'webkit'] as const;
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
  if (name === 'firefox') return firefoxPath();
  if (name === 'webkit') return miniBrowserPath();
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

/** Serves the browser host page; `?runtime=<engine>` tells the page which engine it is in. */
function serveHostPage() {
  return serveStatic({
    root,
    prefixes: ['test/', '.build/runtimes/browser.mjs'],
    routes: { '/': { body: '<!doctype html><meta charset="utf-8"><title>sealbox host</title><script type="module" src="/.build/runtimes/browser.mjs"></script>' } },
  });
}

type PageHandle = (request: unknown) => Promise<unknown>;
const callHost = (r: unknown) => (globalThis as unknown as { sealboxHost: { handle(r: unknown): Promise<unknown> } }).sealboxHost.handle(r);

async function chromiumHost(): Promise<Host> {
  const server = await serveHostPage();
  const browser = await launchChromium();
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${server.origin}/?runtime=chromium`);
  await page.waitForFunction(() => 'sealboxHost' in globalThis, undefined, { timeout: 30_000 });
  return {
    name: 'chromium',
    async call<T>(request: HostRequest, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
      page.setDefaultTimeout(timeoutMs);
      const response = await page.evaluate(callHost as PageHandle, request as unknown);
      if (errors.length) throw new Error(`chromium page errors: ${errors.join('\n')}`);
      return unwrap<T>('chromium', response as HostResponse);
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Rejects after `ms` (the puppeteer and WebDriver calls have no per-call timeout of their own). */
function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function firefoxHost(): Promise<Host> {
  const server = await serveHostPage();
  const browser = await launchFirefox();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(`${server.origin}/?runtime=firefox`);
    await page.waitForFunction(() => 'sealboxHost' in globalThis, { timeout: 30_000 });
    return {
      name: 'firefox',
      async call<T>(request: HostRequest, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
        const response = await within('firefox', timeoutMs, page.evaluate(callHost as PageHandle, request as unknown));
        if (errors.length) throw new Error(`firefox page errors: ${errors.join('\n')}`);
        return unwrap<T>('firefox', response as HostResponse);
      },
      async close() {
        await browser.close();
        await server.close();
      },
    };
  } catch (error) {
    await browser.close();
    await server.close();
    throw error;
  }
}

async function webkitHost(): Promise<Host> {
  const server = await serveHostPage();
  const session = await launchWebKit();
  const { browser } = session;
  try {
    await browser.url(`${server.origin}/?runtime=webkit`);
    const deadline = Date.now() + 30_000;
    while (!(await browser.execute(() => 'sealboxHost' in globalThis))) {
      if (Date.now() > deadline) throw new Error('webkit: the host page did not load within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      name: 'webkit',
      async call<T>(request: HostRequest, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
        // WebDriver's Execute Script waits for a returned promise, up to the script timeout.
        await browser.setTimeout({ script: timeoutMs });
        const response = await within('webkit', timeoutMs + 5_000, browser.execute(callHost as PageHandle, request as unknown));
        return unwrap<T>('webkit', response as HostResponse);
      },
      async close() {
        await session.close();
        await server.close();
      },
    };
  } catch (error) {
    await session.close();
    await server.close();
    throw error;
  }
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
    case 'firefox':
      return firefoxHost();
    case 'webkit':
      return webkitHost();
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
