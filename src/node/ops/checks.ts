/**
 * Readiness checks for Node servers (for `createHealth` in src/edge/ops/health.ts): the local KMS
 * uses both; the proxy's Node adapter can use `fileWritable` for its audit file.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { HealthCheck } from '../../edge/ops/health.js';

/**
 * `dir` takes a write: a small probe file is created, synced and removed. Its name holds ".tmp-",
 * which the local KMS's store removes at open, should a crash leave one behind.
 */
export function dirWritable(dir: string): HealthCheck {
  return async () => {
    const path = join(dir, `.tmp-ready-${randomBytes(6).toString('hex')}`);
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile('ready\n');
      await fh.sync();
    } finally {
      await fh.close();
      await unlink(path).catch(() => {});
    }
    return 'writable';
  };
}

/** `path` exists and this process may write it (an audit file: nothing is written to it). */
export function fileWritable(path: string): HealthCheck {
  return async () => {
    await access(path, constants.W_OK);
    return 'writable';
  };
}
