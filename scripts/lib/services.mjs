// The real services `npm test` shares between all its test processes: ONE Ceph RGW (S3) and ONE
// Redis, started through the `start` mode of test/support/ceph-rgw.ts and test/support/redis.ts,
// their addresses handed on through the SEALBOX_TEST_* environment variables (which
// s3Service()/redisService() in the tests read), stopped at the end. A variable already set (a
// service of your own) means that service is not started.
import { spawn } from 'node:child_process';
import { root } from './run.mjs';

export const SERVICES = [
  { name: 'Ceph RGW (S3)', file: 'test/support/ceph-rgw.ts', env: 'SEALBOX_TEST_S3_ENDPOINT' },
  { name: 'Redis', file: 'test/support/redis.ts', env: 'SEALBOX_TEST_REDIS_URL' },
];

function startOne({ name, file }) {
  // --stop-on-stdin-end: if this process dies, the pipe closes and the service stops itself.
  const child = spawn(process.execPath, ['--import', 'tsx', file, 'start', '--stop-on-stdin-end'], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const ready = new Promise((resolve, reject) => {
    const env = {};
    let buffer = '';
    let note = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line === 'ready') resolve({ env, note });
        else if (line.startsWith('#')) note ||= line.slice(1).trim();
        else if (line.includes('=')) env[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
      }
    });
    exited.then((status) => reject(new Error(`${name} (${file}) exited (${status}) before it was ready`)));
  });
  ready.catch(() => {}); // reported when awaited
  return {
    name,
    ready,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts the services whose variables are not set yet; returns at once. `await ready()` puts
 * their variables into process.env (so every process started afterwards sees them); `stop()`
 * stops what was started.
 */
export function startServices() {
  const started = SERVICES.filter((service) => !process.env[service.env]).map(startOne);
  const began = performance.now();
  let readyPromise;
  return {
    ready() {
      readyPromise ??= (async () => {
        for (const service of started) {
          const { env, note } = await service.ready;
          Object.assign(process.env, env);
          console.log(`${note || `${service.name} ready`} (${((performance.now() - began) / 1000).toFixed(1)} s after it was launched): ${Object.keys(env).join(', ')}`);
        }
      })();
      return readyPromise;
    },
    async stop() {
      await Promise.all(started.map((service) => service.stop()));
    },
  };
}
