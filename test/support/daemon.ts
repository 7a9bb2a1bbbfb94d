// Shared plumbing for the real services the tests start (test/support/ceph-rgw.ts: Ceph's RADOS
// Gateway as S3; test/support/redis.ts: Redis): free loopback ports, daemons that cannot outlive
// the test process, one exit/SIGINT/SIGTERM hook that kills whatever is still running, and the
// `start` command-line mode that scripts/test.mjs uses to start a service once per `npm test`.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port on 127.0.0.1 that was free a moment ago (the kernel picked it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

let setprivChecked: boolean | undefined;
function hasSetpriv(): boolean {
  if (setprivChecked === undefined) {
    try {
      accessSync('/usr/bin/setpriv', constants.X_OK);
      setprivChecked = true;
    } catch {
      setprivChecked = false;
    }
  }
  return setprivChecked;
}

/**
 * Starts a long-running daemon with its stdout and stderr in `logFile`. Through util-linux's
 * `setpriv --pdeathsig KILL` the kernel kills it when this process dies, even by SIGKILL, so a
 * crashed or killed test run leaves no daemon behind. The child is unref()'d.
 */
export function spawnDaemon(command: string, args: string[], logFile: string, cwd?: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const [file, argv] = hasSetpriv() ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
    const child = spawn(file as string, argv as string[], { cwd, stdio: ['ignore', fd, fd] });
    child.on('error', () => {}); // an exit with an error is reported by whoever waits for the daemon
    // A daemon does not keep this process alive: a test file ends when its tests do, and the exit
    // hook (onProcessEnd) then kills the daemon.
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** True while the child has neither exited nor been killed by a signal. */
export function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Sends `signal` and waits for the exit, up to `ms`; then SIGKILL. */
export async function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL', ms = 5000): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ── cleanup when the process ends ──
type Cleanup = () => void;
const cleanups = new Set<Cleanup>();
let hooked = false;

function runCleanups(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // best effort: the process is ending
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runCleanups();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // Keep the default meaning of the signal (end the process) unless someone else handles it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/**
 * Registers a synchronous cleanup (kill daemons with SIGKILL, remove their directory) run on
 * process exit, SIGINT and SIGTERM. Returns a function that unregisters it.
 */
export function onProcessEnd(cleanup: Cleanup): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', runCleanups);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Synchronous last-resort cleanup: SIGKILL the children in order, then remove the directory. */
export function killAllSync(children: ChildProcess[], dir: string | undefined): void {
  for (const child of children) {
    if (running(child)) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * The `start` command-line mode of a support file: starts the service, prints its environment
 * lines (KEY=value) and then the line `ready`, and stays up until SIGINT/SIGTERM (or, with
 * `--stop-on-stdin-end`, until its standard input closes, so a parent that dies takes it along).
 */
export async function serveFromCommandLine(
  name: string,
  start: () => Promise<{ env: Record<string, string>; stop(): Promise<void> }>,
): Promise<void> {
  const [command, ...flags] = process.argv.slice(2);
  if (command !== 'start') {
    console.error(`usage: node --import tsx ${process.argv[1]} start [--stop-on-stdin-end]`);
    process.exit(2);
  }
  const began = performance.now();
  const service = await start().catch((error: unknown) => {
    console.error(`${name} did not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
  for (const [key, value] of Object.entries(service.env)) console.log(`${key}=${value}`);
  console.log(`# ${name} ready in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  console.log('# stop it with SIGTERM or Ctrl-C');
  console.log('ready');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await service.stop();
    process.exit(0);
  };
  // Our own handlers replace the generic ones for a graceful stop.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (flags.includes('--stop-on-stdin-end')) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  } else {
    setInterval(() => {}, 1 << 30); // stay up
  }
}
